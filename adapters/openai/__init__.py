"""Drive OpenAI Assistants runs through the ``openai`` SDK, on top of the lifecycle core.

``RunController`` (sync) and ``AsyncRunController`` (async) share one decision flow
(``_flow.RunFlow``, a generator that yields I/O requests); each only pumps it. See
``RunController`` for the methods: ``run``, ``drive``, ``cancel`` and ``events``.
"""

from __future__ import annotations

from adapters.openai._async import AsyncRunController
from adapters.openai._config import ControllerConfig, RetryPolicy
from adapters.openai._controller import ControllerBase
from adapters.openai._flow import CancelToken, RunFlow
from adapters.openai._logging import LOGGER_NAME, RedactingFilter
from adapters.openai._outcome import (
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
    "LOGGER_NAME",
    "AsyncRunController",
    "CancelToken",
    "ControllerBase",
    "ControllerConfig",
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
    "ToolCallRecord",
    "ToolsFinished",
    "ToolsStarted",
]
