"""The I/O requests the flow yields, and the one place that turns them into SDK calls.

The flow (``_flow.py``) never touches the client: it yields one of the request values below and
receives a :class:`Reply`. The sync and async drivers differ only in how they wait for a reply
(call vs ``await``), so the mapping from a request to an SDK method lives here, once:
:func:`start_call` returns the SDK's result for a sync client and an awaitable for an async one.

Every non-streaming call goes through ``with_raw_response`` so the flow can read response headers
(``openai-poll-after-ms``, ``retry-after-ms``) and parse the body itself.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from openai import AsyncOpenAI, OpenAI

from lifecycle import Prepared

__all__ = [
    "END_OF_STREAM",
    "ApiCall",
    "CloseStream",
    "Emit",
    "NextEvent",
    "Op",
    "Persist",
    "Reply",
    "Request",
    "RunTools",
    "Sleep",
    "ToolResult",
    "assistants_quiet",
    "start_call",
]


class Op(StrEnum):
    """The SDK operations the flow uses."""

    CREATE = "create"
    CREATE_STREAM = "create_stream"
    RETRIEVE = "retrieve"
    SUBMIT = "submit"
    SUBMIT_STREAM = "submit_stream"
    CANCEL = "cancel"
    LIST_RUNS = "list_runs"
    LIST_STEPS = "list_steps"
    LIST_MESSAGES = "list_messages"


#: Ops that change server state: their outcome is unknown after a timeout or a dropped connection.
MUTATING = frozenset({Op.CREATE, Op.CREATE_STREAM, Op.SUBMIT, Op.SUBMIT_STREAM, Op.CANCEL})


@dataclass(frozen=True, slots=True)
class ApiCall:
    """Call the SDK. Reply: the raw response (or the stream, for ``*_STREAM`` ops)."""

    op: Op
    kwargs: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds`` (through the driver's injectable sleep). Reply: ``None``."""

    seconds: float


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What running one prepared call produced.

    Attributes:
        prepared: the call that ran.
        value: its return value (``None`` on error or timeout).
        error: the exception it raised, if any.
        timed_out: it did not finish within the timeout (it may still be running).
    """

    prepared: Prepared
    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False


LateCallback = Callable[[Prepared, Any, BaseException | None], None]


@dataclass(frozen=True, slots=True)
class RunTools:
    """Run prepared calls concurrently. Reply: one :class:`ToolResult` per item, in order.

    Attributes:
        items: the calls to run (each already claimed in the ledger).
        timeout: seconds each call may take (``None``: no limit).
        max_concurrency: how many run at once.
        on_late: called from wherever a timed-out call finally ends, with its result.
    """

    items: tuple[Prepared, ...]
    timeout: float | None
    max_concurrency: int
    on_late: LateCallback


@dataclass(frozen=True, slots=True)
class NextEvent:
    """Read the next event of an open stream. Reply: the event, or :data:`END_OF_STREAM`.

    A stream silent for ``idle_timeout`` seconds replies with a ``TimeoutError``.
    """

    stream: Any
    idle_timeout: float


@dataclass(frozen=True, slots=True)
class CloseStream:
    """Close a stream the flow is done with. Reply: ``None``."""

    stream: Any


@dataclass(frozen=True, slots=True)
class Emit:
    """Hand an event to the caller of ``events()`` (``run``/``drive`` drop it). Reply: ``None``."""

    event: Any


@dataclass(frozen=True, slots=True)
class Persist:
    """Write to (or read from) the durable store: call ``action()``. Reply: its return value.

    The store is local and synchronous (SQLite); both drivers call ``action`` inline, and an
    exception it raises propagates out of the driver (a store that cannot write stops the run).
    """

    action: Callable[[], Any]


Request = ApiCall | Sleep | RunTools | NextEvent | CloseStream | Emit | Persist


class _EndOfStream:
    def __repr__(self) -> str:
        return "END_OF_STREAM"


#: The reply to :class:`NextEvent` when the stream ended.
END_OF_STREAM: Any = _EndOfStream()


@dataclass(frozen=True, slots=True)
class Reply:
    """The driver's answer to a request: a value, or the exception the I/O raised."""

    value: Any = None
    error: BaseException | None = field(default=None)


@contextlib.contextmanager
def assistants_quiet() -> Iterator[None]:
    """Silence exactly the SDK's Assistants deprecation warnings, nothing else.

    The runs/threads methods warn "The Assistants API is deprecated ..."; the assistants
    resource warns with the bare message "deprecated".
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="The Assistants API is deprecated", category=DeprecationWarning
        )
        warnings.filterwarnings("ignore", message="deprecated$", category=DeprecationWarning)
        yield


def start_call(client: OpenAI | AsyncOpenAI, call: ApiCall) -> Any:
    """Start the SDK call for ``call``.

    Args:
        client: the (retry-free) client; sync or async.
        call: the request.

    Returns:
        For a sync client, the raw response (or the stream); for an async client, an awaitable
        of it.
    """
    threads = client.beta.threads
    runs = threads.runs
    kw = dict(call.kwargs)
    op = call.op
    with assistants_quiet():
        if op is Op.RETRIEVE:
            return runs.with_raw_response.retrieve(**kw)
        if op is Op.CREATE:
            return runs.with_raw_response.create(**kw)
        if op is Op.SUBMIT:
            return runs.with_raw_response.submit_tool_outputs(**kw)
        if op is Op.CANCEL:
            return runs.with_raw_response.cancel(**kw)
        if op is Op.LIST_RUNS:
            return runs.with_raw_response.list(**kw)
        if op is Op.LIST_STEPS:
            return runs.steps.with_raw_response.list(**kw)
        if op is Op.LIST_MESSAGES:
            return threads.messages.with_raw_response.list(**kw)
        if op is Op.CREATE_STREAM:
            return runs.create(**kw, stream=True)
        if op is Op.SUBMIT_STREAM:
            return runs.submit_tool_outputs(**kw, stream=True)
    raise ValueError(f"unknown op {op!r}")  # pragma: no cover - Op is closed
