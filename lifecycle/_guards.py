"""Guards: pure predicates named in the table.

A guard takes the run's :class:`GuardContext` and the keyword context of the trigger, and returns
``None`` when the edge may be taken, or a short reason when it may not. It reads nothing else and
changes nothing. The machine wraps each guard into a ``transitions`` condition; the engine calls
the same function again only to explain a rejection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lifecycle._records import ToolCall

__all__ = ["GUARDS", "Guard", "GuardContext"]


@dataclass(slots=True)
class GuardContext:
    """What the guards of one run know: the current tool-call round and our own requests.

    Attributes:
        tool_calls: the calls of the current requires_action round.
        submitted_call_ids: the ids we submitted outputs for in this round.
        cancel_requested: whether we asked for a cancel.
        answered_call_ids: the ids we submitted outputs for in earlier rounds (a later
            ``requires_action`` asking only for these is a stale read, never a new round).
    """

    tool_calls: tuple[ToolCall, ...] = ()
    submitted_call_ids: frozenset[str] = frozenset()
    cancel_requested: bool = False
    answered_call_ids: frozenset[str] = frozenset()

    @property
    def required_call_ids(self) -> frozenset[str]:
        """The ids that need an output in the current round."""
        return frozenset(c.id for c in self.tool_calls)


Guard = Callable[[GuardContext, Mapping[str, Any]], "str | None"]


def _ids(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return frozenset(str(k) for k in value)
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return frozenset(str(v) for v in value)
    return None


def outputs_cover_required_calls(ctx: GuardContext, kwargs: Mapping[str, Any]) -> str | None:
    """The submit edge needs exactly one output for every required tool call.

    The submitted ids come from the trigger's ``tool_call_ids`` (or ``outputs`` mapping) keyword,
    or from a submission recorded earlier with ``record_submission``. ``assume_client=True``
    (replaying a recorded trace, where our submission is implied) passes.
    """
    if kwargs.get("assume_client"):
        return None
    submitted = _ids(kwargs.get("tool_call_ids", kwargs.get("outputs")))
    if submitted is None:
        submitted = ctx.submitted_call_ids
    if not submitted:
        return "no tool outputs were submitted"
    required = ctx.required_call_ids
    if not required:
        return None  # the round's calls are unknown (payload not seen); any submission counts
    missing = required - submitted
    if missing:
        return f"missing outputs for {', '.join(sorted(missing))}"
    extra = submitted - required
    if extra:
        return f"outputs for calls not required: {', '.join(sorted(extra))}"
    return None


def cancel_was_requested(ctx: GuardContext, kwargs: Mapping[str, Any]) -> str | None:
    """Cancel edges need a cancel request: ours, or one observed from elsewhere (external)."""
    if kwargs.get("assume_client") or kwargs.get("external") or kwargs.get("cancel_requested"):
        return None
    if ctx.cancel_requested:
        return None
    return "no cancel was requested"


#: Every guard by the name the table uses.
GUARDS: dict[str, Guard] = {
    "outputs_cover_required_calls": outputs_cover_required_calls,
    "cancel_was_requested": cancel_was_requested,
}
