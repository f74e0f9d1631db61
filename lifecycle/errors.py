"""The exceptions of run-lifecycle.

::

    LifecycleError                      base: catch this to catch everything below
    ├─ DefinitionError                  a lifecycle table fails its structural checks
    ├─ IllegalTransition                a trigger or observation the table does not allow
    │   └─ GuardRejected                the edge exists but its guard said no
    ├─ ToolDispatchError                a tool could not be registered or dispatched
    ├─ PollTimeout                      a client-side deadline passed (raised by the adapters)
    └─ RunEndedUnsuccessfully           only from the opt-in ``outcome.raise_for_status()``
        ├─ RunFailed   ├─ RunExpired   ├─ RunCancelled   └─ RunIncomplete

Every exception carries its data as attributes, not only in its message.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "DefinitionError",
    "GuardRejected",
    "IllegalTransition",
    "LifecycleError",
    "PollTimeout",
    "RunCancelled",
    "RunEndedUnsuccessfully",
    "RunExpired",
    "RunFailed",
    "RunIncomplete",
    "ToolDispatchError",
]


class LifecycleError(Exception):
    """Base class of every error raised by run-lifecycle."""


class DefinitionError(LifecycleError):
    """A lifecycle table is malformed.

    Attributes:
        lifecycle: the name of the lifecycle being built.
        problem: a short machine-readable kind (``"initial"``, ``"terminal_has_edges"``, ...).
        states: the offending states, sorted.
    """

    def __init__(self, lifecycle: str, problem: str, states: Iterable[str], detail: str) -> None:
        self.lifecycle = lifecycle
        self.problem = problem
        self.states = tuple(sorted(states))
        super().__init__(f"lifecycle {lifecycle!r}: {detail} (states: {', '.join(self.states)})")


class IllegalTransition(LifecycleError):
    """The table has no edge for this move; the lifecycle's state did not change.

    Attributes:
        state: the state the lifecycle was (and still is) in.
        trigger: the trigger name asked for, or ``None`` when a status was observed.
        target: the observed status, or ``None`` when a trigger was asked for.
    """

    def __init__(
        self,
        state: str,
        *,
        trigger: str | None = None,
        target: str | None = None,
        reason: str = "",
    ) -> None:
        self.state = state
        self.trigger = trigger
        self.target = target
        self.reason = reason
        what = f"trigger {trigger!r}" if trigger is not None else f"status {target!r}"
        message = f"can't apply {what} in state {state!r}"
        super().__init__(f"{message}: {reason}" if reason else message)


class GuardRejected(IllegalTransition):
    """The edge exists, but its guard rejected the move (e.g. a submit missing an output)."""

    def __init__(self, state: str, *, trigger: str, guard: str, reason: str) -> None:
        self.guard = guard
        super().__init__(state, trigger=trigger, reason=f"guard {guard} failed: {reason}")


class ToolDispatchError(LifecycleError):
    """A tool could not be registered (bad name, bad signature)."""


class PollTimeout(LifecycleError):
    """A client-side deadline passed while waiting for a run to move.

    Attributes:
        run_id: the run waited on.
        waited_s: seconds waited in total.
        last_status: the last status seen.
        deadline: which deadline passed (``"queued"``, ``"in_progress"``, ``"overall"``, ...).
    """

    def __init__(self, run_id: str, waited_s: float, last_status: str, deadline: str) -> None:
        self.run_id = run_id
        self.waited_s = waited_s
        self.last_status = last_status
        self.deadline = deadline
        super().__init__(
            f"run {run_id}: the {deadline} deadline passed after {waited_s:.1f}s "
            f"(last status {last_status!r})"
        )


class RunEndedUnsuccessfully(LifecycleError):
    """A run ended in a state other than success; raised only by ``raise_for_status()``."""

    def __init__(self, run_id: str, status: str, detail: str = "") -> None:
        self.run_id = run_id
        self.status = status
        self.detail = detail
        super().__init__(f"run {run_id} ended {status}" + (f": {detail}" if detail else ""))


class RunFailed(RunEndedUnsuccessfully):
    """The run ended ``failed`` (see ``detail`` for ``last_error``)."""


class RunExpired(RunEndedUnsuccessfully):
    """The run ended ``expired``."""


class RunCancelled(RunEndedUnsuccessfully):
    """The run ended ``cancelled``."""


class RunIncomplete(RunEndedUnsuccessfully):
    """The run ended ``incomplete`` (see ``detail`` for the reason)."""
