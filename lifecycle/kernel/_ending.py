"""How a drive ends: one explicit value, decided where the drive stops.

Theory of operation
-------------------
A drive stops for exactly one reason, and the code that stops it says which by building an
:class:`Ending`. There are no flags resolved by precedence afterwards: everything the outcome
reports about the end (its status, which deadline passed, why outputs were not delivered) is
derived from this one value.

================== ===================================================================
``terminal``       the server reported a terminal status (``status`` says which)
``deadline``       a deadline passed (``deadline`` names it); with ``cancel_on_timeout``
                   the run was cancelled and ``status`` is where that cancel led
``cancel_unconfirmed`` we asked for a cancel; it was not confirmed within its deadline
``lost_handle``    the server does not know the run any more (404)
``abandoned``      the API kept failing after the run existed (``detail``: ``http_503``...)
``held``           the run waits for someone outside this drive: a tool call's effect is
                   unknown and its round waits for a person (``detail``: the call ids),
                   or a watcher saw a response wait for its client (``awaiting_client``)
``not_created``    a create intent that no run on the server carries
``interrupted``    the task or thread driving the run was interrupted locally
``outcome_unknown`` a create or submit lost its answer and the API gives no way to find
                   out whether it got in, or the lookup failed for good (``detail``:
                   ``create`` or ``submit``); nothing was resent
================== ===================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Ending", "EndingKind"]


class EndingKind(StrEnum):
    """Why a drive stopped."""

    TERMINAL = "terminal"
    DEADLINE = "deadline"
    CANCEL_UNCONFIRMED = "cancel_unconfirmed"
    LOST_HANDLE = "lost_handle"
    ABANDONED = "abandoned"
    HELD = "held"
    NOT_CREATED = "not_created"
    INTERRUPTED = "interrupted"
    OUTCOME_UNKNOWN = "outcome_unknown"


#: Endings with no run status of their own: the outcome reports the kind as its status.
_STATUS_IS_KIND = frozenset({EndingKind.LOST_HANDLE, EndingKind.NOT_CREATED})


@dataclass(frozen=True, slots=True)
class Ending:
    """The one reason a drive stopped.

    Attributes:
        kind: see :class:`EndingKind`.
        status: the run's last status as the server reported it (``""`` if none was read).
        terminal: whether ``status`` is terminal (the server is authoritative on that, even
            when the table has no edge to it from where the lifecycle stood).
        deadline: the deadline that passed on the way (``queued``, ``overall``,
            ``tool_round_limit``...), for ``deadline`` and ``cancel_unconfirmed`` endings.
        detail: more about the ending: the failure reason of ``abandoned``, ``off_table`` for a
            terminal status the table does not reach from where the lifecycle stood.
    """

    kind: EndingKind
    status: str = ""
    terminal: bool = False
    deadline: str | None = None
    detail: str | None = None

    @property
    def outcome_status(self) -> str:
        """The status an outcome reports: the run's, or the ending's for runs the server
        does not have (``lost_handle``, ``not_created``)."""
        return self.kind.value if self.kind in _STATUS_IS_KIND else self.status

    @property
    def undelivered_reason(self) -> str:
        """Why an output this drive did not deliver stays undelivered."""
        if self.terminal:
            return self.status
        if self.kind is EndingKind.DEADLINE:
            return f"deadline:{self.deadline}"
        return self.kind.value

    def __str__(self) -> str:
        parts = [self.kind.value]
        if self.status and self.kind is not EndingKind.TERMINAL:
            parts.append(f"status={self.status}")
        elif self.status:
            parts.append(self.status)
        if self.deadline:
            parts.append(f"deadline={self.deadline}")
        if self.detail:
            parts.append(self.detail)
        return " ".join(parts)
