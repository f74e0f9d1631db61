"""Drive OpenAI Assistants runs through the ``openai`` SDK, on the lifecycle kernel.

``RunController`` (sync) and ``AsyncRunController`` (async) pump the same kernel drive
(``lifecycle.kernel``: every decision, no I/O); they only perform its requests. See
``RunController`` for the methods: ``run``, ``drive``, ``cancel``, ``events`` and ``recover``
(with ``store=RunStore(...)``: durable restart). Settings are one typed object,
:class:`ControllerConfig`.
"""

from __future__ import annotations

from adapters.openai._async._controller import AsyncRunController
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
from adapters.openai._token import CancelToken
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
    "AsyncRunController",
    "CancelToken",
    "ControllerConfig",
    "CrashPoint",
    "Ending",
    "EndingKind",
    "MessageCompleted",
    "RedactingFilter",
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
]
