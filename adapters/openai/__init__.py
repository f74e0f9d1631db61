"""Drive OpenAI runs through the ``openai`` SDK, on the lifecycle kernel.

* ``RunController`` / ``AsyncRunController``: Assistants runs (``run``, ``drive``, ``cancel``,
  ``events``, ``recover`` with ``store=RunStore(...)``);
* ``ResponseController`` / ``AsyncResponseController``: Responses API background chains (``run``,
  ``drive``, ``cancel``, ``events``).

Each pumps a kernel drive (``lifecycle.kernel``: every decision, no I/O) and only performs its
requests. Settings are one typed object, :class:`ControllerConfig`.
"""

from __future__ import annotations

from adapters.openai._async._controller import AsyncRunController
from adapters.openai._async._responses import AsyncResponseController
from adapters.openai._chain_outcome import (
    ChainEvent,
    ChainFinished,
    ResponseChanged,
    ResponseOutcome,
)
from adapters.openai._errors import CRASH_POINTS, CrashPoint
from adapters.openai._logging import LOGGER_NAME, RedactingFilter
from adapters.openai._outcome import (
    UNKNOWN_EFFECT,
    MessageCompleted,
    RunEvent,
    RunFinished,
    RunOutcome,
    StatusChanged,
    StepCompleted,
    ToolsFinished,
    ToolsStarted,
)
from adapters.openai._sync._controller import RunController
from adapters.openai._sync._responses import ResponseController
from adapters.openai._token import CancelToken
from adapters.openai._webhooks import RefusedWebhook, WebhookInbox, WebhookRefused
from lifecycle.kernel import (
    ActiveRunPolicy,
    ControllerConfig,
    Ending,
    EndingKind,
    RetryPolicy,
    ThreadBusy,
    ToolCallRecord,
)

__all__ = [
    "CRASH_POINTS",
    "LOGGER_NAME",
    "UNKNOWN_EFFECT",
    "ActiveRunPolicy",
    "AsyncResponseController",
    "AsyncRunController",
    "CancelToken",
    "ChainEvent",
    "ChainFinished",
    "ControllerConfig",
    "CrashPoint",
    "Ending",
    "EndingKind",
    "MessageCompleted",
    "RedactingFilter",
    "RefusedWebhook",
    "ResponseChanged",
    "ResponseController",
    "ResponseOutcome",
    "RetryPolicy",
    "RunController",
    "RunEvent",
    "RunFinished",
    "RunOutcome",
    "StatusChanged",
    "StepCompleted",
    "ThreadBusy",
    "ToolCallRecord",
    "ToolsFinished",
    "ToolsStarted",
    "WebhookInbox",
    "WebhookRefused",
]
