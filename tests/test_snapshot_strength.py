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
