"""Gaps found by mutation testing in the general path of ``observe()`` (issue 14;
docs/mutation.md): an observation the table cannot explain is an anomaly that says how and when
it was seen (or, strictly, an error naming that anomaly's kind), a round opened without calls is
flagged with the same facts on both paths, and a status that is not an awaiting one never starts
a round, even when it comes with calls."""

from __future__ import annotations

import pytest

from lifecycle import AnomalyKind, Hooks, IllegalTransition, RunLifecycle, ToolCall

#: (statuses seen first, the observation the table cannot explain, the anomaly it is)
REJECTED = [
    (["in_progress"], "paused", AnomalyKind.UNKNOWN_STATUS),
    (["in_progress"], "queued", AnomalyKind.REGRESSION),
    (["completed"], "in_progress", AnomalyKind.AFTER_TERMINAL),
    (["completed"], "failed", AnomalyKind.TERMINAL_FLIP),
]


def _run(seen: list[str], *, hooks: Hooks | None = None, strict: bool = False) -> RunLifecycle:
    run = RunLifecycle(hooks=hooks, strict=strict)
    for i, status in enumerate(seen):
        run.observe(status, at=float(i))
    return run


@pytest.mark.parametrize("hooks", [None, Hooks()], ids=["plain", "hooks"])
@pytest.mark.parametrize(("seen", "observed", "kind"), REJECTED)
def test_a_rejected_observation_records_how_and_when_it_was_seen(
    seen: list[str], observed: str, kind: AnomalyKind, hooks: Hooks | None
) -> None:
    run = _run(seen, hooks=hooks)
    before = run.history
    assert run.observe(observed, via="stream", at=9.5) == []
    (anomaly,) = run.anomalies
    assert (anomaly.kind, anomaly.observed, anomaly.state) == (kind, observed, seen[-1])
    assert (anomaly.via, anomaly.at) == ("stream", 9.5)
    assert run.history == before


@pytest.mark.parametrize(("seen", "observed", "kind"), REJECTED)
def test_strictly_a_rejected_observation_raises_naming_its_anomaly(
    seen: list[str], observed: str, kind: AnomalyKind
) -> None:
    """``strict=True`` (on the run, or for one call): IllegalTransition with the state, the
    observed status and the anomaly's kind as its reason; nothing is recorded."""
    for run, strict in ((_run(seen, strict=True), None), (_run(seen), True)):
        with pytest.raises(IllegalTransition) as caught:
            run.observe(observed, at=9.5, strict=strict)
        err = caught.value
        assert (err.state, err.target, err.reason) == (seen[-1], observed, kind.value)
        assert run.anomalies == ()
        assert str(run.state) == seen[-1]


@pytest.mark.parametrize("hooks", [None, Hooks()], ids=["plain", "hooks"])
def test_a_round_opened_without_calls_is_flagged_with_how_and_when(hooks: Hooks | None) -> None:
    run = _run(["in_progress"], hooks=hooks)
    run.observe("requires_action", tool_calls=[], via="stream", at=5.0)
    assert run.state == "requires_action"
    (anomaly,) = run.anomalies
    assert (anomaly.kind, anomaly.observed, anomaly.state) == (
        AnomalyKind.MISSING_TOOL_CALLS,
        "requires_action",
        "in_progress",
    )
    assert (anomaly.via, anomaly.at) == ("stream", 5.0)


@pytest.mark.parametrize("hooks", [None, Hooks()], ids=["plain", "hooks"])
def test_calls_seen_with_a_status_that_does_not_wait_for_the_client_start_no_round(
    hooks: Hooks | None,
) -> None:
    run = _run(["in_progress"], hooks=hooks)
    run.take_commands()
    assert run.observe("in_progress", tool_calls=[ToolCall("c1", "f", "{}")], at=2.0) == []
    assert run.take_commands() == []
    assert run.pending_tool_calls == ()
    assert run.anomalies == ()


@pytest.mark.parametrize("hooks", [None, Hooks()], ids=["plain", "hooks"])
def test_calls_seen_with_a_move_to_a_status_that_does_not_wait_start_no_round(
    hooks: Hooks | None,
) -> None:
    """``in_progress`` with calls (or an empty list) is a move like any other: no pending calls,
    no dispatch, no missing-calls anomaly."""
    for calls in ([ToolCall("c1", "f", "{}")], []):
        run = _run(["queued"], hooks=hooks)
        run.take_commands()
        (entry,) = run.observe("in_progress", tool_calls=calls, at=2.0)
        assert (entry.source, entry.dest) == ("queued", "in_progress")
        assert run.take_commands() == []
        assert run.pending_tool_calls == ()
        assert run.anomalies == ()


@pytest.mark.parametrize("hooks", [None, Hooks()], ids=["plain", "hooks"])
def test_a_stale_round_after_a_move_is_flagged_with_how_and_when(hooks: Hooks | None) -> None:
    """A new ``requires_action`` asking only for calls we answered: the state stays, the stale
    round says how and when it was seen."""
    run = _run(["in_progress"], hooks=hooks)
    calls = [ToolCall("c1", "f", "{}")]
    run.observe("requires_action", tool_calls=calls, at=2.0)
    run.trigger("submit_tool_outputs", tool_call_ids=["c1"], at=3.0)
    run.observe("in_progress", at=4.0)
    assert run.observe("requires_action", tool_calls=calls, via="stream", at=7.0) == []
    (anomaly,) = run.anomalies
    assert (anomaly.kind, anomaly.state, anomaly.via, anomaly.at) == (
        AnomalyKind.STALE_ROUND,
        "in_progress",
        "stream",
        7.0,
    )
    assert run.state == "in_progress"


@pytest.mark.parametrize("hooks", [None, Hooks()], ids=["plain", "hooks"])
def test_a_cancel_nobody_here_asked_for_is_flagged_with_how_and_when(hooks: Hooks | None) -> None:
    run = _run(["in_progress"], hooks=hooks)
    applied = run.observe("cancelled", via="stream", at=6.0)
    assert run.state == "cancelled"
    assert any(e.external for e in applied)
    (anomaly,) = run.anomalies
    assert (anomaly.kind, anomaly.observed, anomaly.via, anomaly.at) == (
        AnomalyKind.EXTERNAL_CANCEL,
        "cancelled",
        "stream",
        6.0,
    )
