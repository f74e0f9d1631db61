"""A drive's state as plain data: what a distributed driver carries to continue a drive later.

A Temporal workflow that continues as new, or any driver that moves a live drive to another
process, takes a :class:`DriveCheckpoint` between two requests and later continues from it
(:meth:`Drive.continue_from`): the lifecycle and ledger (as JSON), the ids followed, the clocks
the deadlines count from, the cancel state and the binding's own state (a Responses chain's
create arguments). Everything in it is JSON-ready: no SDK object, no callable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lifecycle.kernel._drive import Drive

__all__ = ["DriveCheckpoint", "restore_checkpoint", "take_checkpoint"]


@dataclass(frozen=True)
class DriveCheckpoint:
    """A drive's state between two requests (see the module docstring).

    Attributes:
        scope: what the run belongs to.
        run_id: the object followed now.
        op_id: the create intent's id.
        lifecycle: the lifecycle snapshot, as JSON data.
        ledger: the tool ledger, as JSON data.
        started: the drive's start on its monotonic clock (the overall deadline counts from it).
        state_since: when the current status was entered (its deadline counts from it).
        requests: requests made so far.
        object_ids: the objects followed, oldest first.
        cancel_requested: a cancel was asked for.
        cancel_started: when it was sent (the cancelling deadline counts from it).
        user_cancel_seen: the caller's cancel signal was acted on.
        deadline: the deadline that passed, if one did.
        round: the last tool round's number.
        binding: the binding's own state (``Binding.state()``).
    """

    scope: str
    run_id: str
    op_id: str | None
    lifecycle: dict[str, Any]
    ledger: dict[str, Any]
    started: float
    state_since: float
    requests: int = 0
    object_ids: tuple[str, ...] = ()
    cancel_requested: bool = False
    cancel_started: float | None = None
    user_cancel_seen: bool = False
    deadline: str | None = None
    round: int = 0
    binding: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (``from_dict`` reads it back)."""
        data = asdict(self)
        data["object_ids"] = list(self.object_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriveCheckpoint:
        """A checkpoint from :meth:`to_dict` data."""
        return cls(**{**data, "object_ids": tuple(data.get("object_ids", ()))})


def take_checkpoint(d: Drive) -> DriveCheckpoint:
    """The drive's state now."""
    return DriveCheckpoint(
        scope=d.scope,
        run_id=d.run_id,
        op_id=d.op_id,
        lifecycle=d.lc.snapshot().model_dump(mode="json"),
        ledger=d.ledger.model_dump(mode="json"),
        started=d.started,
        state_since=d.state_since,
        requests=d.requests,
        object_ids=tuple(d.object_ids),
        cancel_requested=d.cancel_requested,
        cancel_started=d.cancel_started,
        user_cancel_seen=d.user_cancel_seen,
        deadline=d.deadline,
        round=d.round,
        binding=d.binding.state(),
    )


def restore_checkpoint(d: Drive, checkpoint: DriveCheckpoint) -> None:
    """Take up a checkpoint's clocks, counters and cancel state (the lifecycle and ledger are
    restored by the resume that follows)."""
    d.run_id = checkpoint.run_id
    d.op_id = checkpoint.op_id
    d.started = checkpoint.started
    d.state_since = checkpoint.state_since
    d.requests = checkpoint.requests
    d.object_ids = list(checkpoint.object_ids)
    d.cancel_requested = checkpoint.cancel_requested
    d.cancel_started = checkpoint.cancel_started
    d.user_cancel_seen = checkpoint.user_cancel_seen
    d.deadline = checkpoint.deadline
    d.binding.restore_state(checkpoint.binding)
