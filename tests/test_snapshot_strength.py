"""Gaps found by mutation testing in snapshots and restore (issue 14; docs/mutation.md): a run
saved between our accepted submit and the server's next status keeps its submission, a context
that holds only a submission is restored at all, and an MCP approval call keeps its server label."""

from __future__ import annotations

from lifecycle import RunLifecycle, ToolCall

CALLS = [ToolCall("c1", "f", "{}"), ToolCall("c2", "g", "{}")]


def _restored(run: RunLifecycle) -> RunLifecycle:
    back = RunLifecycle.restore(run.snapshot().model_dump_json())
    assert back.snapshot() == run.snapshot()
    return back


def test_a_submission_recorded_before_the_next_status_survives_a_restore() -> None:
    """Saved after our outputs were accepted and before ``queued`` was seen: the restored run
    still knows them, so the next status is our submit, not a move nobody asked for."""
    run = RunLifecycle()
    run.observe("requires_action", at=1.0, tool_calls=CALLS)
    run.record_submission(["c1", "c2"])
    back = _restored(run)
    (entry,) = back.observe("queued", at=2.0)
    assert (entry.trigger, entry.external, entry.inferred) == ("submit_tool_outputs", False, False)
    assert back.anomalies == ()


def test_a_context_holding_only_a_submission_is_restored() -> None:
    """No calls known, no cancel, nothing answered: the recorded submission alone is kept."""
    run = RunLifecycle()
    run.observe("requires_action", at=1.0)
    run.record_submission(["c9"])
    back = _restored(run)
    assert back.snapshot().context.submitted_call_ids == ("c9",)


def test_an_mcp_approval_call_keeps_its_server_label_through_a_restore() -> None:
    call = ToolCall("a1", "delete_repo", "{}", kind="mcp_approval", server_label="github")
    run = RunLifecycle()
    run.observe("requires_action", at=1.0, tool_calls=[call])
    back = _restored(run)
    (pending,) = back.pending_tool_calls
    assert (pending.kind, pending.server_label) == ("mcp_approval", "github")


def test_every_field_of_the_journal_anomalies_and_round_survives_a_restore() -> None:
    """Compared with the original objects, not with another snapshot: inferred and external
    steps, a tolerated edge's kind, an anomaly's time and detail, the pending calls' kind and
    server label and the ids submitted so far."""
    call = ToolCall("a1", "delete_repo", "{}", kind="mcp_approval", server_label="github")
    run = RunLifecycle()
    run.observe("requires_action", at=1.0, tool_calls=[call])  # queued, in_progress inferred
    run.observe("bogus", via="stream", at=2.0)
    run.trigger("submit_tool_outputs", tool_call_ids=["a1"], at=3.0)
    run.observe("cancelled", at=4.0)  # cancelling inferred; flagged external (no request)
    run2 = RunLifecycle()
    run2.observe("requires_action", at=1.0, tool_calls=[call])
    run2.record_submission(["a1"])
    assert any(e.inferred for e in run.history)
    assert any(e.external for e in run.history)
    assert len({e.kind for e in run.history}) > 1
    for original in (run, run2):
        back = RunLifecycle.restore(original.snapshot().model_dump_json())
        assert back.history == original.history
        assert back.anomalies == original.anomalies
        assert back.pending_tool_calls == original.pending_tool_calls
        assert back._ctx == original._ctx
