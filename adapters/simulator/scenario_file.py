"""Scenarios written in a file (TOML or JSON): a user's own tool calls, for the simulator to play.

``lifecycle simulate --scenarios FILE`` serves them, so code that drives runs over HTTP can be
exercised against its own tools; in a test, ``Simulator(scenarios=load_scenarios(path).scenarios)``
does the same in process. The format (TOML shown; JSON has the same shape)::

    default = "refund"                    # optional: the scenario of runs that name none

    [scenarios.refund]
    description = "one refund call, then the answer"          # optional
    steps = [
      { kind = "queue" },                                     # stay queued 0.02 s
      { kind = "call_tools", calls = [
          { name = "refund_order", arguments = { order_id = "A-1", amount = 12.5 } },
      ] },
      { kind = "answer", text = "Refunded: {output}" },
    ]
    cancel = { confirm_after = 0.02, outcome = "cancelled" }  # optional

Step kinds (each takes an optional ``seconds``, default 0.02): ``queue`` (only first or right
after ``call_tools``), ``work``, ``call_tools`` (``calls``: one or more ``{name, arguments}``;
``arguments`` is an object, or a string sent as is, even invalid JSON), ``answer`` (``text``, with
``{output}`` the first output of the last round and ``{outputs}`` every output), ``fail``
(``code``: ``server_error``, ``rate_limit_exceeded`` or ``invalid_prompt``; ``message``),
``incomplete`` (``reason``: ``max_completion_tokens`` or ``max_prompt_tokens``; ``text``) and
``hang`` (never progress), and, for ``/v1/responses`` only, ``request_approval`` (``requests``:
one or more ``{server_label, name, arguments, output}``: the response asks the client to approve
a call of a tool on a remote MCP server; an approved one runs once and its ``output`` template
comes back in an ``mcp_call`` item). Exactly the last step is ``answer``, ``fail``,
``incomplete`` or ``hang``. ``cancel.confirm_after`` is the delay before a cancel settles
(``null``/absent in JSON for never is not allowed in TOML: leave ``cancel`` out for the
default), ``cancel.outcome`` the terminal status it settles in (``completed`` = the cancel
lost the race).

A run picks a scenario with ``metadata={"scenario": name}`` (on the run or its assistant), a
response with ``metadata`` on the create that starts its chain; the built-in scenarios stay
available, and a file's scenario of the same name replaces the built-in one.

Every mistake in a file is reported, one line each (:class:`ScenarioFileError`).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.simulator.scenarios import (
    SCENARIOS,
    STEP_SECONDS,
    Answer,
    CallTools,
    CancelBehaviour,
    EndIncomplete,
    Fail,
    Hang,
    McpToolSpec,
    Queue,
    RequestApproval,
    Scenario,
    Step,
    ToolCallSpec,
    Work,
)
from adapters.simulator.scripts import SCRIPTS

__all__ = ["ScenarioFile", "ScenarioFileError", "load_scenarios", "parse_scenarios"]

Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Call(_Model):
    name: str = Field(min_length=1)
    arguments: dict[str, Any] | str = Field(default_factory=dict)

    def spec(self) -> ToolCallSpec:
        if isinstance(self.arguments, str):
            return ToolCallSpec(self.name, self.arguments)
        return ToolCallSpec.of(self.name, self.arguments)


class _Queue(_Model):
    kind: Literal["queue"]
    seconds: Seconds = STEP_SECONDS

    def step(self) -> Step:
        return Queue(self.seconds)


class _Work(_Model):
    kind: Literal["work"]
    seconds: Seconds = STEP_SECONDS

    def step(self) -> Step:
        return Work(self.seconds)


class _CallTools(_Model):
    kind: Literal["call_tools"]
    calls: list[_Call] = Field(min_length=1)
    seconds: Seconds = STEP_SECONDS

    def step(self) -> Step:
        return CallTools(tuple(c.spec() for c in self.calls), self.seconds)


class _McpRequest(_Model):
    server_label: str = Field(min_length=1)
    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)
    output: str = "done"

    def spec(self) -> McpToolSpec:
        return McpToolSpec.of(self.server_label, self.name, self.arguments, self.output)


class _RequestApproval(_Model):
    kind: Literal["request_approval"]
    requests: list[_McpRequest] = Field(min_length=1)
    seconds: Seconds = STEP_SECONDS

    def step(self) -> Step:
        return RequestApproval(tuple(r.spec() for r in self.requests), self.seconds)


class _Answer(_Model):
    kind: Literal["answer"]
    text: str
    seconds: Seconds = STEP_SECONDS

    def step(self) -> Step:
        return Answer(self.text, self.seconds)


class _Fail(_Model):
    kind: Literal["fail"]
    code: Literal["server_error", "rate_limit_exceeded", "invalid_prompt"] = "server_error"
    message: str = "Sorry, something went wrong."
    seconds: Seconds = STEP_SECONDS

    def step(self) -> Step:
        return Fail(self.code, self.message, self.seconds)


class _Incomplete(_Model):
    kind: Literal["incomplete"]
    reason: Literal["max_completion_tokens", "max_prompt_tokens"] = "max_completion_tokens"
    text: str | None = None
    seconds: Seconds = STEP_SECONDS

    def step(self) -> Step:
        return EndIncomplete(self.reason, self.text, self.seconds)


class _Hang(_Model):
    kind: Literal["hang"]

    def step(self) -> Step:
        return Hang()


_Step = Annotated[
    _Queue | _Work | _CallTools | _RequestApproval | _Answer | _Fail | _Incomplete | _Hang,
    Field(discriminator="kind"),
]


class _Cancel(_Model):
    confirm_after: Seconds | None = STEP_SECONDS
    outcome: Literal["cancelled", "completed", "failed", "incomplete", "expired"] = "cancelled"


class _Scenario(_Model):
    description: str = ""
    steps: list[_Step] = Field(min_length=1)
    cancel: _Cancel = Field(default_factory=_Cancel)


class _File(_Model):
    default: str | None = None
    #: validated one scenario at a time, so every scenario's mistakes are reported
    scenarios: dict[str, dict[str, Any]] = Field(min_length=1)


@dataclass(frozen=True)
class ScenarioFile:
    """The scenarios a file describes.

    Attributes:
        scenarios: the scenarios by name, ready for ``Simulator(scenarios=...)``.
        default: the scenario the file names as the default, if any.
    """

    scenarios: dict[str, Scenario]
    default: str | None = None


class ScenarioFileError(ValueError):
    """A scenario file could not be read or describes something the simulator cannot play.

    Attributes:
        problems: one line per mistake, each naming where it is (``scenarios.refund.steps[1]``).
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def _where(loc: tuple[int | str, ...]) -> str:
    """``scenarios.refund.steps[1].calls[0].name`` for pydantic's location of an error."""
    out = ""
    for i, part in enumerate(loc):
        if i >= 2 and loc[i - 2] == "steps" and isinstance(loc[i - 1], int) and part in _KINDS:
            continue  # the step kind a discriminated union adds: not part of the file's path
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the file"


def _problems(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[str]:
    return [f"{_where((*prefix, *e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)]


_ENDS = ("answer", "fail", "incomplete", "hang")
_CLIENT_ROUNDS = ("call_tools", "request_approval")


def _order_problems(steps: list[_Step]) -> list[str]:
    """Where the steps break the playing order, in the file's words (the step's index)."""
    out = []
    last = len(steps) - 1
    for i, step in enumerate(steps):
        if step.kind in _ENDS and i != last:
            out.append(f"steps[{i}]: {step.kind} ends the scenario, so it must be the last step")
        if i == last and step.kind not in _ENDS:
            out.append(f"steps[{i}]: the last step must be one of {', '.join(_ENDS)}")
        if step.kind == "queue" and i > 0 and steps[i - 1].kind not in _CLIENT_ROUNDS:
            out.append(
                f"steps[{i}]: queue may only come first or right after call_tools or "
                "request_approval"
            )
    return out


def parse_scenarios(data: Any, source: str = "scenarios") -> ScenarioFile:
    """Build the scenarios from already parsed data (the file's JSON or TOML as Python values).

    Raises:
        ScenarioFileError: every mistake, one line each.
    """
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        raise ScenarioFileError(source, _problems(exc)) from None
    problems: list[str] = []
    scenarios: dict[str, Scenario] = {}
    for name, raw in parsed.scenarios.items():
        if not name.strip():
            problems.append("scenarios: a scenario name must not be empty")
            continue
        try:
            described = _Scenario.model_validate(raw)
        except ValidationError as exc:
            problems += _problems(exc, ("scenarios", name))
            continue
        order = _order_problems(described.steps)
        if order:
            problems += [f"scenarios.{name}.{problem}" for problem in order]
            continue
        try:
            cancel = CancelBehaviour(described.cancel.confirm_after, described.cancel.outcome)
            steps = tuple(s.step() for s in described.steps)
            scenarios[name] = Scenario(steps, cancel=cancel, description=described.description)
        except ValueError as exc:
            problems.append(f"scenarios.{name}: {exc}")
    known = {*SCENARIOS, *SCRIPTS, *parsed.scenarios}
    if parsed.default is not None and parsed.default not in known:
        problems.append(
            f"default: {parsed.default!r} is not a scenario of the file or a built-in one"
        )
    if problems:
        raise ScenarioFileError(source, problems)
    return ScenarioFile(scenarios, parsed.default)


_KINDS = frozenset(
    ("queue", "work", "call_tools", "request_approval", "answer", "fail", "incomplete", "hang")
)


def load_scenarios(path: str | Path) -> ScenarioFile:
    """Read a scenario file: TOML when its name ends in ``.toml``, JSON otherwise.

    Raises:
        ScenarioFileError: the file cannot be read, is not valid TOML/JSON, or describes
            scenarios that cannot be played (every mistake, one line each).
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ScenarioFileError(source, [f"cannot read the file: {reason}"]) from None
    try:
        data: Any = tomllib.loads(text) if source.endswith(".toml") else json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioFileError(source, [f"not valid TOML: {exc}"]) from None
    except json.JSONDecodeError as exc:
        raise ScenarioFileError(
            source, [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from None
    return parse_scenarios(data, source)
