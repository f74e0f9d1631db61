"""Tool-call rounds: what the engine remembers between entering and leaving ``requires_action``.

Theory of operation
-------------------
A round is the time a run spends in an awaiting-client status. Its calls live in the run's
:class:`~lifecycle._guards.GuardContext`, where the submit guard reads them:

* :func:`open_round` sets the calls of a round about to be entered (the machine's callback then
  emits :class:`~lifecycle.DispatchTools` with them). A round that asks only for calls we
  answered in earlier rounds is a stale read: it is refused (``False``), the state does not
  move, and no new round starts. A ``requires_action`` without calls is entered, with a
  ``missing_tool_calls`` anomaly: the driver re-reads the run and never submits an empty set.
* :func:`same_round` handles the same awaiting status seen again with calls: when the round was
  entered without its payload, the round starts now; other calls than the first are an anomaly
  (the first are kept).
* :func:`close_round` runs when a transition leaves the awaiting status: the ids we submitted
  join the answered ids (what makes a later stale read recognisable) and the round is cleared.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lifecycle._guards import GuardContext
from lifecycle._records import AnomalyKind, DispatchTools, ToolCall

if TYPE_CHECKING:
    from lifecycle._machine import RunLifecycle

__all__ = ["answered", "close_round", "open_round", "same_round"]

_NO_IDS: frozenset[str] = frozenset()


def close_round(run: RunLifecycle) -> None:
    """Leaving the awaiting-client status closes the tool-call round."""
    ctx = run._ctx
    if ctx is not None:
        if ctx.submitted_call_ids:
            ctx.answered_call_ids = ctx.answered_call_ids | ctx.submitted_call_ids
        ctx.tool_calls = ()
        ctx.submitted_call_ids = _NO_IDS


def open_round(
    run: RunLifecycle,
    raw: str,
    tool_calls: Sequence[ToolCall] | None,
    via: str,
    when: float | None,
) -> bool:
    """Set the calls of a round about to be entered; ``False`` for a stale round."""
    calls = tuple(tool_calls) if tool_calls is not None else ()
    ctx = run._ctx
    if ctx is None:
        run._ctx = GuardContext(calls)
    elif answered(run, calls):
        return False
    else:
        ctx.tool_calls = calls
    if tool_calls is not None and not calls:
        run._anomaly(
            AnomalyKind.MISSING_TOOL_CALLS,
            raw,
            via,
            when,
            "requires_action without tool calls: re-read, never submit an empty set",
        )
    return True


def answered(run: RunLifecycle, calls: Sequence[ToolCall]) -> bool:
    """Whether a round asks only for calls we answered in earlier rounds (a stale read)."""
    ctx = run._ctx
    if not calls or ctx is None or not ctx.answered_call_ids:
        return False
    return all(c.id in ctx.answered_call_ids for c in calls)


def same_round(
    run: RunLifecycle, tool_calls: Sequence[ToolCall], via: str, when: float | None
) -> None:
    """The awaiting status seen again, with calls: start a round entered without its payload,
    or record that the calls changed (or are a stale read)."""
    ctx = run._context()
    calls = tuple(tool_calls)
    known = ctx.required_call_ids
    new = frozenset(c.id for c in calls)
    if not known and new and answered(run, calls):
        run._anomaly(
            AnomalyKind.STALE_ROUND,
            run._status,
            via,
            when,
            "the round's payload names only calls answered earlier: a stale read",
        )
    elif not known and new:
        # requires_action was first seen without its payload: start the round now
        ctx.tool_calls = calls
        run._emit(DispatchTools(state=run._status, tool_calls=calls))
    elif new and new != known:
        run._anomaly(
            AnomalyKind.TOOL_CALLS_CHANGED,
            run._status,
            via,
            when,
            "the same requires_action round reports other tool calls; kept the first",
        )
