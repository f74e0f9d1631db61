"""run-lifecycle: an explicit finite-state machine for OpenAI-style run lifecycles.

The core is pure: it never performs I/O, reads a clock or sleeps. One table per lifecycle
(``lifecycle._table``) is the single source of truth; a ``transitions`` machine is built from it.
"""

from __future__ import annotations

from lifecycle._dispatch import Prepared, ToolErrorKind, ToolOutput, redact_secrets
from lifecycle._guards import GUARDS, GuardContext
from lifecycle._ledger import CallState, LedgerEntry, ToolLedger
from lifecycle._machine import Hooks, RunLifecycle, build_machine
from lifecycle._records import (
    Anomaly,
    AnomalyKind,
    Command,
    DispatchTools,
    Finished,
    JournalEntry,
    ToolCall,
    Via,
)
from lifecycle._snapshot import LifecycleSnapshot
from lifecycle._spec import Driver, Edge, EdgeKind, LifecycleSpec, ObservedPolicy
from lifecycle._status import ResponseStatus, RunStatus, StepStatus
from lifecycle._table import ASSISTANTS_RUN, LIFECYCLES, RESPONSE, RUN_STEP
from lifecycle._tools import ToolRegistry, ToolSpec
from lifecycle.errors import (
    DefinitionError,
    GuardRejected,
    IllegalTransition,
    LifecycleError,
    PollTimeout,
    RunCancelled,
    RunEndedUnsuccessfully,
    RunExpired,
    RunFailed,
    RunIncomplete,
    ToolDispatchError,
)

__version__ = "0.1.0"

__all__ = [
    "ASSISTANTS_RUN",
    "GUARDS",
    "LIFECYCLES",
    "RESPONSE",
    "RUN_STEP",
    "Anomaly",
    "AnomalyKind",
    "CallState",
    "Command",
    "DefinitionError",
    "DispatchTools",
    "Driver",
    "Edge",
    "EdgeKind",
    "Finished",
    "GuardContext",
    "GuardRejected",
    "Hooks",
    "IllegalTransition",
    "JournalEntry",
    "LedgerEntry",
    "LifecycleError",
    "LifecycleSnapshot",
    "LifecycleSpec",
    "ObservedPolicy",
    "PollTimeout",
    "Prepared",
    "ResponseStatus",
    "RunCancelled",
    "RunEndedUnsuccessfully",
    "RunExpired",
    "RunFailed",
    "RunIncomplete",
    "RunLifecycle",
    "RunStatus",
    "StepStatus",
    "ToolCall",
    "ToolDispatchError",
    "ToolErrorKind",
    "ToolLedger",
    "ToolOutput",
    "ToolRegistry",
    "ToolSpec",
    "Via",
    "build_machine",
    "redact_secrets",
]
