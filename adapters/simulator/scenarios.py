"""Scenarios: what the simulated "model" does during one run, written as data.

A :class:`Scenario` is a tuple of steps played in order. Each step has a duration on the
simulator's clock; the run's status follows from the step being played (``Queue`` keeps the run
``queued``, ``Work``/``CallTools``/``Answer`` need ``in_progress``, and so on) and from the
documented API behaviour the simulator states once, in ``_behaviour.py`` (a run is created
``queued``, is picked up ``in_progress``, waits in ``requires_action``, goes back to ``queued`` on
a submit, expires 600 s after creation). The simulator never reads the core's transition table:
it is the independent server the core is tested against.

* :class:`Queue` - stay ``queued`` for a while (only first, or right after a tool round).
* :class:`Work` - be ``in_progress`` for a while.
* :class:`CallTools` - after ``seconds`` of work, ask for one or more tool calls
  (``requires_action``); the run waits for the client's outputs, then goes back to ``queued``.
* :class:`Answer` - write an assistant message and complete the run. The text may use
  ``{outputs}`` (every submitted output, comma-separated) and ``{output}`` (the first output of
  the last round), or be a callable over the submitted outputs.
* :class:`Fail` - end ``failed`` with a ``last_error``.
* :class:`EndIncomplete` - end ``incomplete`` with ``incomplete_details.reason``.
* :class:`Hang` - never progress again (until ``expires_at`` expires the run).
* :class:`RequestApproval` - ``/v1/responses`` only: after ``seconds`` of work, complete the
  response with one ``mcp_approval_request`` per :class:`McpToolSpec` (a tool on a remote MCP
  server the "model" wants to call). The next response must answer each with an
  ``mcp_approval_response``; an approved tool "runs" on the server (its ``mcp_call`` item, with
  the spec's ``output``, comes first in that response), a rejected one never does. An Answer
  after it sees each tool's output (or ``not approved: <reason>``) as ``{output}``/``{outputs}``.

How a cancel plays out is part of the scenario too (:class:`CancelBehaviour`): confirmed after a
delay, never confirmed (stuck in ``cancelling``), or lost to another outcome (the race).

The same scenarios play on ``/v1/responses``, across a chain of responses (see
``_responses_play.py``): a ``CallTools`` step *completes* the current response with its
``function_call`` items, and the next response (created with ``previous_response_id`` and one
output per call) plays on from the following step; ``Queue`` keeps a background response
``queued``; ``Hang`` never ends (responses do not expire). A response's cancel goes straight to
``cancelled``; a :class:`CancelBehaviour` whose ``outcome`` is another terminal status makes the
response *flip* to it ``confirm_after`` seconds later (``cancel-loses-race``: cancelled, then
completed), as a compatible service was seen to do.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from adapters.simulator import _behaviour as api

__all__ = [
    "SCENARIOS",
    "STEP_SECONDS",
    "Answer",
    "CallTools",
    "CancelBehaviour",
    "EndIncomplete",
    "Fail",
    "Hang",
    "McpToolSpec",
    "Queue",
    "RequestApproval",
    "Scenario",
    "Step",
    "SubmittedOutput",
    "ToolCallSpec",
    "Work",
]

#: The default duration of a scenario step: short, so real-clock runs finish in tens of ms.
STEP_SECONDS = 0.02


@dataclass(frozen=True, slots=True)
class SubmittedOutput:
    """One tool output the client submitted, with the call it answers.

    Attributes:
        tool_call_id: the call's id.
        name: the function name the "model" asked for.
        arguments: the JSON argument string the "model" sent.
        output: what the client submitted.
    """

    tool_call_id: str
    name: str
    arguments: str
    output: str


AnswerText = str | Callable[[tuple[SubmittedOutput, ...]], str]


@dataclass(frozen=True, slots=True)
class ToolCallSpec:
    """A function call the "model" makes.

    Attributes:
        name: the function name (may be unknown to the client, on purpose).
        arguments: the raw argument string (may be invalid JSON, on purpose).
    """

    name: str
    arguments: str = "{}"

    @classmethod
    def of(cls, name: str, arguments: Mapping[str, Any]) -> ToolCallSpec:
        """Build a call whose arguments are ``arguments`` serialised as JSON."""
        return cls(name, json.dumps(dict(arguments)))


@dataclass(frozen=True, slots=True)
class Queue:
    """Stay ``queued`` for ``seconds``."""

    seconds: float = STEP_SECONDS


@dataclass(frozen=True, slots=True)
class Work:
    """Be ``in_progress`` for ``seconds``."""

    seconds: float = STEP_SECONDS


@dataclass(frozen=True, slots=True)
class CallTools:
    """Work for ``seconds``, then require outputs for ``calls`` (parallel when several)."""

    calls: tuple[ToolCallSpec, ...]
    seconds: float = STEP_SECONDS


@dataclass(frozen=True, slots=True)
class McpToolSpec:
    """A call of a tool on a remote MCP server, which the "model" asks the client to approve.

    Attributes:
        server_label: the MCP server's label (as in the request's ``{"type": "mcp"}`` tool).
        name: the tool's name on that server.
        arguments: the raw JSON argument string.
        output: what the tool returns when it runs: a template where ``{name}``,
            ``{server_label}``, ``{arguments}`` and ``{<key>}`` (each top-level key of the JSON
            arguments) are replaced; anything else is kept as written.
    """

    server_label: str
    name: str
    arguments: str = "{}"
    output: str = "done"

    @classmethod
    def of(
        cls, server_label: str, name: str, arguments: Mapping[str, Any], output: str = "done"
    ) -> McpToolSpec:
        """Build a request whose arguments are ``arguments`` serialised as JSON."""
        return cls(server_label, name, json.dumps(dict(arguments)), output)


@dataclass(frozen=True, slots=True)
class RequestApproval:
    """Work for ``seconds``, then ask the client to approve ``requests`` (``/v1/responses``
    only: the response completes with one ``mcp_approval_request`` per request)."""

    requests: tuple[McpToolSpec, ...]
    seconds: float = STEP_SECONDS


@dataclass(frozen=True, slots=True)
class Answer:
    """Write an assistant message over ``seconds`` and complete the run."""

    text: AnswerText
    seconds: float = STEP_SECONDS


@dataclass(frozen=True, slots=True)
class Fail:
    """End ``failed`` after ``seconds`` with ``last_error = {code, message}``."""

    code: Literal["server_error", "rate_limit_exceeded", "invalid_prompt"] = "server_error"
    message: str = "Sorry, something went wrong."
    seconds: float = STEP_SECONDS


@dataclass(frozen=True, slots=True)
class EndIncomplete:
    """End ``incomplete`` after ``seconds``, leaving ``text`` (if any) as an incomplete message."""

    reason: Literal["max_completion_tokens", "max_prompt_tokens"] = "max_completion_tokens"
    text: str | None = None
    seconds: float = STEP_SECONDS


@dataclass(frozen=True, slots=True)
class Hang:
    """Never progress again; only expiry (``expires_at``) or a cancel can end the run (a response
    only a cancel)."""


Step = Queue | Work | CallTools | RequestApproval | Answer | Fail | EndIncomplete | Hang
#: the steps after which the client answers (a ``Queue`` may follow them)
_ROUND_ENDS = (CallTools, RequestApproval)
_FINAL = (Answer, Fail, EndIncomplete, Hang)


@dataclass(frozen=True, slots=True)
class CancelBehaviour:
    """What happens after a cancel request moved the run to ``cancelling``.

    Attributes:
        confirm_after: seconds until the server settles the cancel; ``None`` means never (the run
            stays ``cancelling`` for good, not even expiring).
        outcome: the terminal status it settles in: ``cancelled``, or another one
            ("Cancellation is attempted but not guaranteed": ``completed`` = the cancel lost the
            race). Any status string (or ``lifecycle.RunStatus`` member) naming a terminal status.

    On ``/v1/responses`` (no ``cancelling`` there) the cancel answers ``cancelled`` at once; an
    ``outcome`` of ``completed``, ``failed`` or ``incomplete`` then flips the response to it
    ``confirm_after`` seconds later (never when ``None``); ``expired`` has no response analogue
    and never flips.

    Raises:
        ValueError: when ``outcome`` is not a terminal status.
    """

    confirm_after: float | None = STEP_SECONDS
    outcome: str = api.CANCELLED

    def __post_init__(self) -> None:
        outcome = str(self.outcome)
        if outcome not in api.TERMINAL:
            raise ValueError(f"cancelling cannot settle in {outcome!r}: not a terminal status")
        object.__setattr__(self, "outcome", outcome)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A scripted run: steps played in order, plus how a cancel plays out.

    Raises:
        ValueError: when the steps cannot be played: empty, a step after a final one
            (Answer/Fail/EndIncomplete/Hang), no final step, a ``Queue`` where the run cannot be
            queued, or a ``CallTools`` without calls (a ``RequestApproval`` without requests).
    """

    steps: tuple[Step, ...]
    cancel: CancelBehaviour = field(default_factory=CancelBehaviour)
    description: str = ""

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("a scenario needs at least one step")
        for i, step in enumerate(self.steps):
            last = i == len(self.steps) - 1
            if isinstance(step, _FINAL) != last:
                raise ValueError(
                    "exactly the last step must be Answer, Fail, EndIncomplete or Hang"
                )
            if isinstance(step, Queue) and i > 0 and not isinstance(self.steps[i - 1], _ROUND_ENDS):
                raise ValueError(
                    "Queue may only come first or right after CallTools or RequestApproval"
                )
            if isinstance(step, CallTools) and not step.calls:
                raise ValueError("CallTools needs at least one call")
            if isinstance(step, RequestApproval) and not step.requests:
                raise ValueError("RequestApproval needs at least one request")

    @property
    def responses_only(self) -> bool:
        """Whether the scenario asks for MCP approvals (``/v1/responses`` only, not runs)."""
        return any(isinstance(step, RequestApproval) for step in self.steps)


def render_answer(text: AnswerText, outputs: tuple[SubmittedOutput, ...], last: int) -> str:
    """Fill an answer's text from the submitted outputs.

    Args:
        text: a template (``{outputs}``, ``{output}``) or a callable over every output.
        outputs: every output submitted during the run, in order.
        last: how many outputs the last round had.

    Returns:
        The message text.
    """
    if callable(text):
        return text(outputs)
    first_of_last = outputs[len(outputs) - last].output if last else ""
    joined = ", ".join(o.output for o in outputs)
    return text.replace("{outputs}", joined).replace("{output}", first_of_last)


ORDER_ITEMS: dict[str, Any] = {
    "items": [
        {"item_type": "books", "quantity": 2},
        {"item_type": "stationery", "quantity": 3},
        {"item_type": "electronics", "quantity": 1},
    ]
}

#: The named scenarios; pick one with ``metadata={"scenario": name}`` on the run or assistant.
SCENARIOS: dict[str, Scenario] = {
    "text": Scenario(
        (Queue(), Work(), Answer("Hello! How can I help you today?")),
        description="a plain text answer",
    ),
    "order-total": Scenario(
        (
            Queue(),
            CallTools((ToolCallSpec.of("calculate_order_total", ORDER_ITEMS),)),
            Answer("The total price of your order is {output}."),
        ),
        description="the seed example: one calculate_order_total call, then the total",
    ),
    "parallel-tools": Scenario(
        (
            Queue(),
            CallTools(
                (
                    ToolCallSpec.of("get_weather", {"city": "Paris"}),
                    ToolCallSpec.of("get_weather", {"city": "Tokyo"}),
                    ToolCallSpec.of("calculate_order_total", ORDER_ITEMS),
                )
            ),
            Answer("Results: {outputs}."),
        ),
        description="three parallel tool calls in one requires_action",
    ),
    "two-rounds": Scenario(
        (
            Queue(),
            CallTools((ToolCallSpec.of("lookup_prices", {"item_types": ["books"]}),)),
            Queue(),
            CallTools((ToolCallSpec.of("calculate_order_total", ORDER_ITEMS),)),
            Answer("After two rounds: {outputs}."),
        ),
        description="two requires_action rounds in one run",
    ),
    "unknown-tool": Scenario(
        (
            Queue(),
            CallTools((ToolCallSpec.of("multi_tool_use.parallel", {"tool_uses": []}),)),
            Answer("The tool said: {output}"),
        ),
        description="the model calls a function nobody declared",
    ),
    "invalid-arguments": Scenario(
        (
            Queue(),
            CallTools((ToolCallSpec("calculate_order_total", '{"items": [{"item_type": "bo'),)),
            Answer("The tool said: {output}"),
        ),
        description="the model sends arguments that are not valid JSON",
    ),
    "fails": Scenario(
        (Queue(), Work(), Fail("server_error", "Sorry, something went wrong.")),
        description="the run fails with last_error server_error",
    ),
    "incomplete": Scenario(
        (Queue(), Work(), EndIncomplete("max_completion_tokens", "The total price of your")),
        description="the run hits max_completion_tokens",
    ),
    "slow-queue": Scenario(
        (Queue(STEP_SECONDS * 10), Work(), Answer("Sorry for the wait!")),
        description="a long stay in queued before pickup",
    ),
    "stuck-cancelling": Scenario(
        (Queue(), Hang()),
        cancel=CancelBehaviour(confirm_after=None),
        description="never progresses, and a cancel is never confirmed",
    ),
    "cancel-loses-race": Scenario(
        (Queue(), Work(STEP_SECONDS * 5), Answer("Finished anyway.")),
        cancel=CancelBehaviour(confirm_after=STEP_SECONDS, outcome=api.COMPLETED),
        description="a cancel is accepted (cancelling) but the run completes anyway; a "
        "response reads cancelled, then completed",
    ),
    "mcp-approval": Scenario(
        (
            Queue(),
            RequestApproval(
                (
                    McpToolSpec.of(
                        "gitmcp",
                        "deploy",
                        {"repo": "acme/shop", "ref": "main", "environment": "production"},
                        output="deployed {repo}@{ref} to {environment}",
                    ),
                )
            ),
            Answer("Deployment: {output}."),
        ),
        description="/v1/responses only: the model asks to run deploy on the MCP server "
        "gitmcp (an mcp_approval_request), then says how it went",
    ),
    "never-finishes": Scenario(
        (Queue(), Work(), Hang()),
        description="in_progress forever (until expires_at); for deadline tests",
    ),
}
