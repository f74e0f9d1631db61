"""What crosses Temporal's wire: the workflow's input and result, the activities' arguments and
answers, the settings, all plain dataclasses of JSON values.

Theory of operation
-------------------
Everything a workflow receives or returns, and everything an activity is handed or answers, is
written into the workflow's history by Temporal's default JSON converter and read back on
replay, possibly by another worker process and another version of this code. So none of it is a
kernel object: the kernel's requests and replies (``HttpRequest``, ``HttpResponse``,
``Failure``, ``ToolOutput``...) are converted here into dataclasses of strings, numbers, lists
and dicts (a body as base64, a failure without its ``cause``), and back. The kernel's own types
may change shape without breaking a recorded history; these may not (add fields with defaults).

:class:`Carried` is what one workflow run hands the next on continue-as-new: the lifecycle
snapshot and the ledger as JSON, the effect log, and the few drive facts a fresh :class:`Drive`
would otherwise reset (when the drive started, since when the status holds, the cancel state).
"""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from lifecycle._dispatch import ToolOutput
from lifecycle.kernel import (
    ControllerConfig,
    Failure,
    FailureKind,
    HttpRequest,
    HttpResponse,
    RetryPolicy,
)

__all__ = [
    "API_CALL",
    "ASSISTANTS",
    "KINDS",
    "PAUSE",
    "RESPONSES",
    "RUN_TOOL",
    "WORKFLOW_NAME",
    "Carried",
    "DriveReport",
    "StartDrive",
    "TemporalOptions",
    "ToolAnswer",
    "ToolTask",
    "WireAnswer",
    "WireFailure",
    "WireRequest",
    "config_from_json",
    "config_to_json",
    "workflow_id",
]

#: the workflow's type name
WORKFLOW_NAME = "RunLifecycle"

#: the activity names (the workflow starts them by name: it never imports the SDK client)
API_CALL = "lifecycle.api_call"
RUN_TOOL = "lifecycle.run_tool"
PAUSE = "lifecycle.pause"

#: what a workflow drives
ASSISTANTS = "assistants"  #: an Assistants run on a thread
RESPONSES = "responses"  #: a Responses API background chain
KINDS = (ASSISTANTS, RESPONSES)


def workflow_id(op_id: str) -> str:
    """The workflow id of a run: derived from its op id, so a second start is refused."""
    return f"run-lifecycle-{op_id}"


# -- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemporalOptions:
    """How the workflow uses Temporal (the kernel's own settings are the ``ControllerConfig``).

    Attributes:
        heartbeat_timeout_s: an activity silent this long is lost (its worker died); activities
            heartbeat every third of it while they wait.
        api_grace_s: added to a request's timeout for its activity's start-to-close timeout.
        tool_grace_s: added to the round's budget for a tool activity's start-to-close timeout
            (the activity answers ``tool_timeout`` at the budget itself).
        continue_as_new_events: continue as new once the history holds this many events (far
            below Temporal's 51,200; its warning comes at 10,240).
        local_sleep_below_s: a wait shorter than this is a local activity that sleeps in the
            worker (one marker in the history, precise to the millisecond); longer ones are
            durable timers. The dev server fires timers on a one-second grid, which would turn
            every 50 ms poll backoff into a second.
        workflow_task_timeout_s: a workflow task not completed in this time is given to another
            worker (the takeover delay when a worker dies in the middle of one; short waits run
            inside a workflow task).
        approval_timeout_s: how long a round waits for the ``decide`` signals of its calls that
            need approval (``None``: as long as it takes, durably); then the undecided calls
            hold the drive (``held``).
    """

    heartbeat_timeout_s: float = 10.0
    api_grace_s: float = 5.0
    tool_grace_s: float = 5.0
    continue_as_new_events: int = 5_000
    local_sleep_below_s: float = 2.0
    workflow_task_timeout_s: float = 10.0
    approval_timeout_s: float | None = None


def config_to_json(config: ControllerConfig) -> dict[str, Any]:
    """A :class:`ControllerConfig` as JSON values (the retry statuses as a sorted list)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, RetryPolicy):
            retry = {r.name: getattr(value, r.name) for r in dataclasses.fields(value)}
            retry["retry_statuses"] = sorted(value.retry_statuses)
            value = retry
        elif f.name == "deadlines":
            value = {str(k): float(v) for k, v in value.items()}
        out[f.name] = value
    return out


def config_from_json(data: dict[str, Any] | None) -> ControllerConfig:
    """The :class:`ControllerConfig` of :func:`config_to_json` output (defaults for the rest)."""
    if not data:
        return ControllerConfig()
    values = dict(data)
    retry = values.pop("retry", None)
    if isinstance(retry, dict):
        retry = dict(retry)
        if "retry_statuses" in retry:
            retry["retry_statuses"] = frozenset(int(s) for s in retry["retry_statuses"])
        values["retry"] = RetryPolicy(**retry)
    return ControllerConfig(**values)


# -- the workflow's input and result -----------------------------------------------------------


@dataclass
class Carried:
    """What a run hands the next one on continue-as-new (see the module docstring)."""

    run_id: str
    snapshot: dict[str, Any]
    ledger: dict[str, Any]
    started: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    drive_started: float = 0.0
    state_since: float = 0.0
    requests: int = 0
    object_ids: list[str] = field(default_factory=list)
    cancel_requested: bool = False
    cancel_started: float | None = None
    user_cancel_seen: bool = False
    user_cancelled: bool = False
    deadline: str | None = None
    chain_args: dict[str, Any] = field(default_factory=dict)
    continued: int = 0


@dataclass
class StartDrive:
    """The workflow's input: what to drive and how.

    Attributes:
        kind: ``assistants`` or ``responses``.
        op_id: the run's create intent (tagged ``metadata.op_id``; the workflow id derives
            from it).
        create_args: the create's arguments (``assistant_id`` and the run's own; or ``model``,
            ``input``, ``instructions``... of the chain's first response).
        thread_id: the Assistants thread (``""`` for a chain).
        run_id: drive this existing run instead of creating one.
        config: the kernel settings (:func:`config_to_json`), ``None`` for the defaults.
        allowed_tools: the tool names allowed (``None``: all of the worker's registry).
        on_active_run: the Assistants binding's policy for a busy thread.
        options: how Temporal is used.
        carried: set by continue-as-new.
    """

    kind: str
    op_id: str
    create_args: dict[str, Any] = field(default_factory=dict)
    thread_id: str = ""
    run_id: str = ""
    config: dict[str, Any] | None = None
    allowed_tools: list[str] | None = None
    on_active_run: str = "fail"
    options: TemporalOptions = field(default_factory=TemporalOptions)
    carried: Carried | None = None


@dataclass
class DriveReport:
    """How a drive ended: the workflow's result (and its ``outcome`` query once done).

    Attributes:
        op_id: the run's create intent.
        kind: ``assistants`` or ``responses``.
        run_id: the run (for a chain: its last response).
        scope: the thread (for a chain: its op id).
        status: the last status seen.
        ending: the ending's kind (``terminal``, ``deadline``, ``held``...).
        ending_text: the ending, as the kernel writes it.
        deadline: the deadline that passed, if one did.
        ok: the run completed.
        object_ids: the objects followed (a chain's responses), oldest first.
        tool_calls: one dict per call: ``id``, ``name``, ``state``, ``output``, ``error``,
            ``round``.
        history: the journal, one dict per applied transition.
        anomalies: observations recorded but not applied, one dict each.
        text: the answer (the Assistants messages, or the chain's ``output_text``).
        requests: HTTP requests made (over every continued run).
        cancel_requested: a cancel was sent (the caller's or a deadline's).
        cancel_lost_race: a cancel was sent but the run ended otherwise.
        continued: how many times the workflow continued as new.
    """

    op_id: str
    kind: str
    run_id: str
    scope: str
    status: str
    ending: str
    ending_text: str
    deadline: str | None
    ok: bool
    object_ids: list[str]
    tool_calls: list[dict[str, Any]]
    history: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]
    text: str
    requests: int
    cancel_requested: bool
    cancel_lost_race: bool
    continued: int = 0

    def unknown_effects(self) -> list[str]:
        """The call ids whose effect is unknown (a worker died with them in hand)."""
        return [c["id"] for c in self.tool_calls if c.get("state") == "unknown_effect"]


# -- the API call activity ---------------------------------------------------------------------


@dataclass
class WireRequest:
    """An :class:`HttpRequest` (never a stream) for the API activity."""

    method: str
    path: str
    query: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None

    @classmethod
    def of(cls, http: HttpRequest, default_timeout: float) -> WireRequest:
        """The wire form of ``http`` (its timeout, or ``default_timeout``)."""
        if http.stream:
            raise ValueError("streams are not supported by the Temporal workflow")
        return cls(
            http.method,
            http.path,
            dict(http.query),
            dict(http.body) if http.body is not None else None,
            dict(http.headers),
            http.timeout if http.timeout is not None else default_timeout,
        )

    def http(self) -> HttpRequest:
        """The kernel's request."""
        return HttpRequest(
            self.method, self.path, self.query, self.body, self.headers, timeout=self.timeout
        )


@dataclass
class WireFailure:
    """A :class:`Failure` without its ``cause`` (an exception never crosses the wire)."""

    kind: str
    status: int | None = None
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    code: str | None = None

    @classmethod
    def of(cls, failure: Failure) -> WireFailure:
        return cls(
            failure.kind.value, failure.status, failure.message, dict(failure.headers), failure.code
        )

    def failure(self) -> Failure:
        return Failure(FailureKind(self.kind), self.status, self.message, self.headers, self.code)


@dataclass
class WireAnswer:
    """The API activity's answer: a response (body in base64) or a failure."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body_b64: str = ""
    failure: WireFailure | None = None

    @classmethod
    def of(cls, response: HttpResponse) -> WireAnswer:
        body = base64.b64encode(response.body).decode("ascii")
        return cls(response.status, dict(response.headers), body)

    def response(self) -> HttpResponse:
        return HttpResponse(self.status, self.headers, base64.b64decode(self.body_b64))


# -- the tool activity -------------------------------------------------------------------------


@dataclass
class ToolTask:
    """One tool call for the tool activity (prepared again there with the worker's registry).

    Attributes:
        call_id: the ``tool_call_id``.
        name: the function name.
        arguments: the raw JSON arguments.
        allowed: the names allowed for the run (``None``: all).
        budget: seconds the call may take (then it answers ``tool_timeout``).
    """

    call_id: str
    name: str
    arguments: str
    allowed: list[str] | None
    budget: float


@dataclass
class ToolAnswer:
    """The tool activity's answer: the formatted output, and whether the call ran out of time."""

    tool_call_id: str
    output: str
    full_output: str
    error: str | None = None
    truncated: bool = False
    timed_out: bool = False

    @classmethod
    def of(cls, out: ToolOutput, *, timed_out: bool = False) -> ToolAnswer:
        return cls(
            out.tool_call_id, out.output, out.full_output, out.error, out.truncated, timed_out
        )

    def tool_output(self) -> ToolOutput:
        return ToolOutput(
            self.tool_call_id,
            self.output,
            self.full_output,
            error=self.error,
            truncated=self.truncated,
        )
