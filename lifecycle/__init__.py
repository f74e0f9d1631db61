"""run-lifecycle: an explicit finite-state machine for OpenAI-style run lifecycles.

The core is pure: it never performs I/O, reads a clock or sleeps. One table per lifecycle
(``lifecycle._table``) is the single source of truth; a ``transitions`` machine is built from it.

The engine, the tables and the records are imported with the package. The parts built on
pydantic (snapshots, the tool registry and ledger, trace checking) are loaded on first use
(PEP 562 ``__getattr__``), so ``import lifecycle`` costs little more than ``transitions``;
``from lifecycle import ToolRegistry`` works as usual.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING

from lifecycle._machine import Hooks, RunLifecycle
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
from lifecycle._spec import Driver, Edge, EdgeKind, LifecycleSpec, ObservedPolicy
from lifecycle._status import ChainStatus, ResponseStatus, RunStatus, StepStatus
from lifecycle._table import ASSISTANTS_RUN, LIFECYCLES, RESPONSE, RESPONSE_CHAIN, RUN_STEP
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

if TYPE_CHECKING:
    from lifecycle._approval import (
        ApprovalRequest,
        Approver,
        AsyncApprover,
        Decision,
        as_decision,
    )
    from lifecycle._dispatch import ToolErrorKind, ToolOutput, redact_secrets
    from lifecycle._ledger import CallState, LedgerEntry, ToolLedger
    from lifecycle._snapshot import LifecycleSnapshot
    from lifecycle._tools import ToolRegistry, ToolSpec
    from lifecycle._trace import (
        Observation,
        TraceError,
        TraceFinding,
        TraceReport,
        check_trace,
        read_trace,
    )

__version__ = "0.1.0"

__all__ = [
    "ASSISTANTS_RUN",
    "LIFECYCLES",
    "RESPONSE",
    "RESPONSE_CHAIN",
    "RUN_STEP",
    "Anomaly",
    "AnomalyKind",
    "ApprovalRequest",
    "Approver",
    "AsyncApprover",
    "CallState",
    "ChainStatus",
    "Command",
    "Decision",
    "DefinitionError",
    "DispatchTools",
    "Driver",
    "Edge",
    "EdgeKind",
    "Finished",
    "GuardRejected",
    "Hooks",
    "IllegalTransition",
    "JournalEntry",
    "LedgerEntry",
    "LifecycleError",
    "LifecycleSnapshot",
    "LifecycleSpec",
    "Observation",
    "ObservedPolicy",
    "PollTimeout",
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
    "TraceError",
    "TraceFinding",
    "TraceReport",
    "Via",
    "as_decision",
    "check_trace",
    "read_trace",
    "redact_secrets",
]

#: public names loaded on first use, by the private module that defines them
_LAZY: dict[str, str] = {
    "ApprovalRequest": "lifecycle._approval",
    "Approver": "lifecycle._approval",
    "AsyncApprover": "lifecycle._approval",
    "Decision": "lifecycle._approval",
    "as_decision": "lifecycle._approval",
    "LifecycleSnapshot": "lifecycle._snapshot",
    "ToolRegistry": "lifecycle._tools",
    "ToolSpec": "lifecycle._tools",
    "CallState": "lifecycle._ledger",
    "LedgerEntry": "lifecycle._ledger",
    "ToolLedger": "lifecycle._ledger",
    "ToolErrorKind": "lifecycle._dispatch",
    "ToolOutput": "lifecycle._dispatch",
    "redact_secrets": "lifecycle._dispatch",
    "Observation": "lifecycle._trace",
    "TraceError": "lifecycle._trace",
    "TraceFinding": "lifecycle._trace",
    "TraceReport": "lifecycle._trace",
    "check_trace": "lifecycle._trace",
    "read_trace": "lifecycle._trace",
}

#: names that used to be exported here and are internal now: still importable, from here with a
#: DeprecationWarning, and from their private module without one
_PRIVATE: dict[str, str] = {
    "GUARDS": "lifecycle._guards",
    "GuardContext": "lifecycle._guards",
    "build_machine": "lifecycle._machine",
    "Prepared": "lifecycle._dispatch",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later look-ups find it without coming here
        return value
    module = _PRIVATE.get(name)
    if module is not None:
        warnings.warn(
            f"lifecycle.{name} is internal and no longer exported; import it from {module}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
