"""The drive kernel: every decision of driving a run, with no I/O, no clock and no SDK.

A :class:`Drive` follows one run of one lifecycle through a :class:`Binding` (the table, the
requests as data, the parsing): :class:`AssistantsBinding` for Assistants runs,
:class:`ResponsesBinding` for Responses API background chains. Its entry points are generators:
they yield requests (:class:`ApiCall`, :class:`Sleep`, :class:`RunTools`, :class:`SaveRun`,
:class:`Emit`...) and are resumed with a :class:`Reply` that carries the result, the driver's
clock readings and any late tool results. Drivers (``adapters.openai``'s sync and async
controllers, a Temporal workflow) only perform requests; tests pump the kernel with scripted
replies::

    drive = Drive(AssistantsBinding(), config=ControllerConfig(), scope="thread_1",
                  run_id="run_1", now=0.0, wall=0.0)
    flow = drive.attach()
    request = next(flow)                # ApiCall("retrieve", HttpRequest("GET", ...))
    request = flow.send(Reply(HttpResponse(200, {}, body), now=0.1, wall=0.1))
    ...                                 # StopIteration.value is the DriveResult

Every drive ends with one explicit :class:`Ending`.
"""

from __future__ import annotations

from lifecycle.kernel._assistants import ActiveRunPolicy, AssistantsBinding, parse_run
from lifecycle.kernel._binding import (
    Binding,
    Capabilities,
    DriveApi,
    Flow,
    Observation,
    StreamItem,
)
from lifecycle.kernel._checkpoint import DriveCheckpoint
from lifecycle.kernel._config import ControllerConfig, RetryPolicy
from lifecycle.kernel._drive import CancelSignal, Drive
from lifecycle.kernel._ending import Ending, EndingKind
from lifecycle.kernel._errors import CallFailed, ThreadBusy
from lifecycle.kernel._messages import (
    END_OF_STREAM,
    HEADERS,
    ApiCall,
    AskApproval,
    BeginCreate,
    BindCreate,
    CloseRun,
    CloseStream,
    Emit,
    Failure,
    FailureKind,
    HttpRequest,
    HttpResponse,
    NextEvent,
    RecordEffect,
    Reply,
    Request,
    RunTools,
    SaveRun,
    Sleep,
    SseEvent,
    StreamOpened,
    ToolResult,
)
from lifecycle.kernel._responses import ResponsesBinding
from lifecycle.kernel._responses_json import output_text
from lifecycle.kernel._results import (
    DriveResult,
    MessageSeen,
    Notice,
    RoundFinished,
    RoundStarted,
    StatusSeen,
    StepSeen,
    ToolCallRecord,
    records_from_ledger,
)

__all__ = [
    "END_OF_STREAM",
    "HEADERS",
    "ActiveRunPolicy",
    "ApiCall",
    "AskApproval",
    "AssistantsBinding",
    "BeginCreate",
    "BindCreate",
    "Binding",
    "CallFailed",
    "CancelSignal",
    "Capabilities",
    "CloseRun",
    "CloseStream",
    "ControllerConfig",
    "Drive",
    "DriveApi",
    "DriveCheckpoint",
    "DriveResult",
    "Emit",
    "Ending",
    "EndingKind",
    "Failure",
    "FailureKind",
    "Flow",
    "HttpRequest",
    "HttpResponse",
    "MessageSeen",
    "NextEvent",
    "Notice",
    "Observation",
    "RecordEffect",
    "Reply",
    "Request",
    "ResponsesBinding",
    "RetryPolicy",
    "RoundFinished",
    "RoundStarted",
    "RunTools",
    "SaveRun",
    "Sleep",
    "SseEvent",
    "StatusSeen",
    "StepSeen",
    "StreamItem",
    "StreamOpened",
    "ThreadBusy",
    "ToolCallRecord",
    "ToolResult",
    "output_text",
    "parse_run",
    "records_from_ledger",
]
