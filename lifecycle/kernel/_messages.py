"""What the kernel asks of its driver, and what the driver answers: plain data, nothing else.

Theory of operation
-------------------
The kernel never does I/O. Each of its drives is a generator that yields one *request* below and
is resumed with a :class:`Reply`. A request is a frozen value a driver can log, record, replay or
ship to another process (a Temporal activity): an HTTP call described as data, a sleep, a batch
of tool calls, a store write, an event for the caller. A reply carries the outcome of the request
(a value, or a :class:`Failure` already converted from whatever the transport raised) and, on
every reply, the driver's clock readings and any tool results that arrived late. Time and late
results are therefore *inputs* of the kernel, never reads it makes.

The driver converts foreign exceptions and raw responses exactly once, at this seam:

* an HTTP answer becomes :class:`HttpResponse` (status, the few headers the kernel reads, the body
  bytes); a status error, a timeout or a dropped connection becomes a :class:`Failure`;
* a streaming call answered as a stream becomes :class:`StreamOpened`; each server-sent event a
  :class:`SseEvent`.

No SDK type crosses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lifecycle._approval import ApprovalRequest
from lifecycle._dispatch import Prepared, ToolOutput

__all__ = [
    "END_OF_STREAM",
    "HEADERS",
    "ApiCall",
    "AskApproval",
    "BeginCreate",
    "BindCreate",
    "CloseRun",
    "CloseStream",
    "Emit",
    "Failure",
    "FailureKind",
    "HttpRequest",
    "HttpResponse",
    "NextEvent",
    "RecordEffect",
    "Reply",
    "Request",
    "RunTools",
    "SaveRun",
    "Sleep",
    "SseEvent",
    "StreamOpened",
    "ToolResult",
]

#: The response headers the kernel reads (lower case). A driver copies only these.
HEADERS = ("openai-poll-after-ms", "retry-after-ms", "retry-after", "content-type")


# -- HTTP, as data ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One API request, described as data.

    Attributes:
        method: ``GET``, ``POST`` or ``DELETE``.
        path: the path below the client's base URL, ids already quoted
            (``/threads/thread_1/runs/run_1``).
        query: query parameters.
        body: the JSON body of a ``POST``.
        headers: extra request headers (``OpenAI-Beta``, ``Idempotency-Key``...).
        stream: ask for a server-sent event stream.
        timeout: the request's timeout in seconds (for a stream: its idle timeout), or ``None``
            for the client's default.
    """

    method: str
    path: str
    query: Mapping[str, Any] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: bool = False
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A complete HTTP answer (2xx): what the kernel parses.

    Attributes:
        status: the HTTP status.
        headers: the headers of :data:`HEADERS` that were present, lower-case names.
        body: the raw body (parsed by the binding, never trusted).
    """

    status: int
    headers: Mapping[str, str]
    body: bytes

    def __repr__(self) -> str:
        return f"HttpResponse(status={self.status}, body=<{len(self.body)} bytes>)"


@dataclass(frozen=True, slots=True)
class StreamOpened:
    """A streaming call was answered with an event stream; read it with :class:`NextEvent`.

    Attributes:
        handle: the driver's token for the open stream (opaque to the kernel).
    """

    handle: Any


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One server-sent event.

    Attributes:
        event: the event name (``thread.run.completed``...).
        data: the decoded JSON data (untrusted: any JSON value).
    """

    event: str
    data: Any


class _EndOfStream:
    def __repr__(self) -> str:
        return "END_OF_STREAM"


#: The value of the reply to :class:`NextEvent` when the stream ended.
END_OF_STREAM: Any = _EndOfStream()


class FailureKind(StrEnum):
    """How a request failed, as seen by the kernel."""

    STATUS = "status"  #: the server answered an HTTP error status
    TIMEOUT = "timeout"  #: no answer in time (the request may have been applied)
    CONNECTION = "connection"  #: the connection failed or dropped (it may have been applied)
    MALFORMED = "malformed"  #: a 2xx whose body is not what the API sends (a lost observation)
    STREAM = "stream"  #: an open stream dropped, went silent or sent garbage


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed request, converted once by the driver (or by the binding's parser).

    Attributes:
        kind: see :class:`FailureKind`.
        status: the HTTP status for ``STATUS``, else ``None``.
        message: a short, safe description (never a body or a secret).
        headers: the :data:`HEADERS` of the error answer (``retry-after`` among them).
        code: the API's error ``code``/``type`` when the body carried one.
        cause: the driver's original exception, if any (re-raised to a caller when a create
            fails for good); opaque to the kernel, never compared or shown.
    """

    kind: FailureKind
    status: int | None = None
    message: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    code: str | None = None
    cause: Any = field(default=None, compare=False, repr=False)

    @property
    def reason(self) -> str:
        """A short machine-readable reason: ``http_503``, ``timeout``, ``connection``..."""
        if self.kind is FailureKind.STATUS:
            return f"http_{self.status}"
        return self.kind.value

    @property
    def outcome_unknown(self) -> bool:
        """Whether a mutating request may have been applied although no answer came back."""
        return self.kind in (FailureKind.TIMEOUT, FailureKind.CONNECTION) or (
            self.kind is FailureKind.STATUS and self.status is not None and self.status >= 500
        )


# -- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiCall:
    """Send an API request. Reply: :class:`HttpResponse`, or :class:`StreamOpened` for a
    streaming request answered with a stream, or a :class:`Failure`.

    Attributes:
        op: the binding's name for the operation (``retrieve``, ``submit``...).
        http: the request.
        mutating: whether it changes server state (its outcome is unknown after a timeout).
    """

    op: str
    http: HttpRequest
    mutating: bool = False


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds``. Reply: ``True`` when a pushed event about ``wake_on`` (a verified
    webhook) ended the wait early, else nothing but the clock readings.

    Attributes:
        seconds: how long to wait.
        wake_on: the object whose pushed events may end the wait (``""``: none may); a driver
            without a webhook inbox ignores it.
    """

    seconds: float
    wake_on: str = ""


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What one tool call produced, formatted by the driver's tool runner.

    Attributes:
        output: the output to record (an error output for a raise; a ``tool_timeout`` output
            when the call did not finish within the budget).
        executed: whether the function was called.
        timed_out: the call was still running at the budget's end (it may report a late result).
        lost: the call was handed to a worker that died before reporting: its effect is unknown
            (``output`` is ignored; the call is never run again and its round is held). A
            distributed driver (Temporal: an activity with one attempt that timed out) reports
            this; in-process drivers never do.
    """

    output: ToolOutput
    executed: bool = True
    timed_out: bool = False
    lost: bool = False


@dataclass(frozen=True, slots=True)
class AskApproval:
    """Ask the approval hook about calls that need a yes first. Reply: one
    :class:`~lifecycle.Decision` (or ``None``: undecided) per request, in order.

    Attributes:
        requests: the calls waiting for a decision.
    """

    requests: tuple[ApprovalRequest, ...]


@dataclass(frozen=True, slots=True)
class RunTools:
    """Run prepared tool calls, concurrently. Reply: one :class:`ToolResult` per item, in order.

    Attributes:
        items: the calls to run (each claimed in the ledger, its ``started`` effect recorded).
        timeout: seconds the whole batch may take.
        max_concurrency: how many run at once.
    """

    items: tuple[Prepared, ...]
    timeout: float
    max_concurrency: int


@dataclass(frozen=True, slots=True)
class NextEvent:
    """Read the next event of an open stream. Reply: :class:`SseEvent`, :data:`END_OF_STREAM`,
    or a ``STREAM`` :class:`Failure` (dropped, or silent for ``idle_timeout`` seconds)."""

    handle: Any
    idle_timeout: float


@dataclass(frozen=True, slots=True)
class CloseStream:
    """Close a stream the kernel is done with. Reply: nothing."""

    handle: Any


@dataclass(frozen=True, slots=True)
class Emit:
    """Hand an event (``lifecycle.kernel`` event types) to the caller. Reply: nothing."""

    event: Any


@dataclass(frozen=True, slots=True)
class SaveRun:
    """Persist the run: its lifecycle snapshot and ledger. Reply: nothing.

    Attributes:
        run_id: the run.
        scope: what the run belongs to (the thread of an Assistants run).
        snapshot: the lifecycle snapshot (``LifecycleSnapshot``).
        ledger: the tool ledger (the live object; write it at once).
        op_id: the create intent's id, bound to the run in the same write.
        supersedes: the object this one continues (a chain's previous response), closed as
            superseded in the same write.
    """

    run_id: str
    scope: str
    snapshot: Any
    ledger: Any
    op_id: str | None = None
    supersedes: str | None = None


@dataclass(frozen=True, slots=True)
class RecordEffect:
    """Append to the effect log, committed before the reply. Reply: nothing.

    Attributes:
        run_id: the run.
        call_id: the tool call.
        phase: ``started`` (before the side effect) or ``finished`` (after it).
        detail: a short note (``ok``, ``timed_out``, ``error:ValueError``, ``recovered``).
    """

    run_id: str
    call_id: str
    phase: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class BeginCreate:
    """Record a create intent before the create is sent (kept if it exists). Reply: nothing."""

    op_id: str
    scope: str


@dataclass(frozen=True, slots=True)
class BindCreate:
    """Bind a create intent to a run id (``""``: no run exists for it). Reply: nothing."""

    op_id: str
    run_id: str


@dataclass(frozen=True, slots=True)
class CloseRun:
    """Record why the drive stopped following a run that is not terminal. Reply: nothing."""

    run_id: str
    reason: str


Request = (
    ApiCall
    | Sleep
    | AskApproval
    | RunTools
    | NextEvent
    | CloseStream
    | Emit
    | SaveRun
    | RecordEffect
    | BeginCreate
    | BindCreate
    | CloseRun
)


@dataclass(slots=True)
class Reply:
    """The driver's answer to a request.

    Attributes:
        value: the request's result (see each request).
        failure: set instead of ``value`` when the request failed.
        now: the driver's monotonic clock, in seconds, when the reply was made.
        wall: the driver's wall clock (epoch seconds), for journal times and ``expires_at``.
        late: tool results that arrived since the last reply (calls that had timed out).
    """

    value: Any = None
    failure: Failure | None = None
    now: float = 0.0
    wall: float = 0.0
    late: tuple[ToolOutput, ...] = ()
