"""Drive OpenAI Assistants runs through the ``openai`` SDK, on top of the lifecycle core.

``RunController`` (sync) and ``AsyncRunController`` (async) share one decision flow
(``_flow.RunFlow``, a generator that yields I/O requests); each only pumps it. See
``RunController`` for the methods: ``run``, ``drive``, ``cancel``, ``events`` and ``recover``
(with ``store=RunStore(...)``: durable restart).
"""

from __future__ import annotations

from adapters.openai._async import AsyncRunController
from adapters.openai._config import ControllerConfig, RetryPolicy
from adapters.openai._controller import ControllerBase
from adapters.openai._errors import CRASH_POINTS, ActiveRunPolicy, CrashPoint, ThreadBusy
from adapters.openai._flow import CancelToken, RunFlow
from adapters.openai._logging import LOGGER_NAME, RedactingFilter
from adapters.openai._outcome import (
    UNKNOWN_EFFECT,
    MessageCompleted,
    RunEvent,
    RunFinished,
    RunOutcome,
    StatusChanged,
    StepCompleted,
    ToolCallRecord,
    ToolsFinished,
    ToolsStarted,
)
from adapters.openai._sync import RunController

__all__ = [
    "CRASH_POINTS",
    "LOGGER_NAME",
    "UNKNOWN_EFFECT",
    "ActiveRunPolicy",
    "AsyncRunController",
    "CancelToken",
    "ControllerBase",
    "ControllerConfig",
    "CrashPoint",
    "MessageCompleted",
    "RedactingFilter",
    "RetryPolicy",
    "RunController",
    "RunEvent",
    "RunFinished",
    "RunFlow",
    "RunOutcome",
    "StatusChanged",
    "StepCompleted",
    "ThreadBusy",
    "ToolCallRecord",
    "ToolsFinished",
    "ToolsStarted",
]
