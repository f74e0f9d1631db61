"""Status vocabularies: the API strings, verbatim, as StrEnums.

Each enum's values are exactly the strings the server sends, so ``RunStatus("queued")`` parses a
payload and ``RunStatus.QUEUED == "queued"`` compares with one. Which statuses are terminal, which
wait for the client and which edges join them is *not* said here: that lives in ``_table.py``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ChainStatus", "ResponseStatus", "RunStatus", "StepStatus"]


class RunStatus(StrEnum):
    """Statuses of an Assistants run (``thread.run``): all nine of the API's enum."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    REQUIRES_ACTION = "requires_action"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    FAILED = "failed"
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    EXPIRED = "expired"


class StepStatus(StrEnum):
    """Statuses of an Assistants run step (``thread.run.step``)."""

    IN_PROGRESS = "in_progress"
    CANCELLED = "cancelled"
    FAILED = "failed"
    COMPLETED = "completed"
    EXPIRED = "expired"


class ResponseStatus(StrEnum):
    """Statuses of a Responses API response in background mode."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INCOMPLETE = "incomplete"


class ChainStatus(StrEnum):
    """Statuses of a Responses API **chain**: the run a user starts, spanning the background
    responses linked by ``previous_response_id`` (one per tool round).

    They are the chain's, not the API's: ``queued``, ``in_progress`` and the terminal statuses
    are those of the chain's current response; ``requires_action`` is a response that completed
    with client-owned output items (``function_call``, ``mcp_approval_request``...) the client has
    not answered yet.
    """

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    REQUIRES_ACTION = "requires_action"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INCOMPLETE = "incomplete"
