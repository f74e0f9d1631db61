"""What the demo says about a drive that did not complete, for the endings the simulator's
scenarios do not reach (a lost answer, a deadline with no cancel, a server that kept failing)."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.demo import outcome_reason
from adapters.openai import ResponseOutcome
from lifecycle.kernel import Ending, EndingKind


def _chain(ending: Ending, payload: dict[str, Any] | None = None, **kw: Any) -> ResponseOutcome:
    return ResponseOutcome(
        status=ending.outcome_status,
        response_ids=("resp_1",),
        ending=ending,
        history=(),
        anomalies=(),
        tool_calls=(),
        payload=payload,
        **kw,
    )


def test_a_completed_chain_has_no_reason() -> None:
    done = _chain(Ending(EndingKind.TERMINAL, "completed", terminal=True))
    assert outcome_reason(done, 15.0, noun="chain") is None


@pytest.mark.parametrize(
    ("ending", "payload", "kw", "reason"),
    [
        (
            Ending(EndingKind.TERMINAL, "failed", terminal=True),
            {"error": {"code": "server_error", "message": "Sorry,\n  something went wrong."}},
            {},
            "error server_error: Sorry, something went wrong.",
        ),
        (
            Ending(EndingKind.TERMINAL, "incomplete", terminal=True),
            {"incomplete_details": {"reason": "content_filter"}},
            {},
            "incomplete_details.reason: content_filter",
        ),
        (
            Ending(EndingKind.TERMINAL, "cancelled", terminal=True),
            {},
            {},
            "the chain ended cancelled without saying why",
        ),
        (
            Ending(EndingKind.DEADLINE, "cancelled", deadline="overall"),
            None,
            {"cancel_requested": True},
            "the chain did not finish within 2 s (deadline: overall); it was cancelled and "
            "ended cancelled",
        ),
        (
            Ending(EndingKind.DEADLINE, "in_progress", deadline="in_progress"),
            None,
            {},
            "the chain did not finish within 2 s (deadline: in_progress); no cancel was sent; "
            "it was left in_progress",
        ),
        (
            Ending(EndingKind.OUTCOME_UNKNOWN, "requires_action", detail="next_response"),
            None,
            {},
            "the answer to a request was lost and the API cannot tell whether it got in; nothing "
            "was sent again (the drive ended outcome_unknown status=requires_action "
            "next_response)",
        ),
        (
            Ending(EndingKind.HELD, "requires_action", detail="approval:mcpr_1"),
            None,
            {},
            "the chain waits for a decision outside this drive (held: approval:mcpr_1)",
        ),
        (
            Ending(EndingKind.ABANDONED, "in_progress", detail="http_503"),
            None,
            {},
            "the drive ended abandoned status=in_progress http_503",
        ),
    ],
)
def test_why_a_chain_did_not_complete(
    ending: Ending, payload: dict[str, Any] | None, kw: dict[str, Any], reason: str
) -> None:
    assert outcome_reason(_chain(ending, payload, **kw), 2.0, noun="chain") == reason
