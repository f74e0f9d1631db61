"""Looking up a create by its op id when the run list fails (found by the controller's state
machine): a lookup that fails for a while is waited out, like a failed poll, and the create is
never sent again meanwhile; the lookup gives up only when the failure is not retryable or a
deadline passes (the create intent then stays open for ``recover()``)."""

from __future__ import annotations

import pytest

from lifecycle.kernel import (
    BindCreate,
    CallFailed,
    CloseRun,
    EndingKind,
    Failure,
    FailureKind,
    HttpResponse,
    RetryPolicy,
    SaveRun,
)
from tests.kernel.script import THREAD, Script, drive, http_error, ok, run, run_body

ARGS = {"assistant_id": "asst_1"}
LOST = Failure(FailureKind.TIMEOUT, message="timed out")
RETRY = RetryPolicy(max_attempts=2, base_s=0.01, cap_s=0.05)


def _listing(*bodies: dict[str, object]) -> HttpResponse:
    return ok({"object": "list", "data": list(bodies)})


def _ours(status: str) -> dict[str, object]:
    return run_body(status, metadata={"op_id": "op_1"})


def test_a_lost_create_whose_run_list_fails_past_its_retries_keeps_looking() -> None:
    """Four 500s on the list (twice the retry budget) while the create's answer is lost: the
    drive waits and looks again, finds its run and follows it; one create only."""
    script = Script().add(LOST, *[http_error(500)] * 4, _listing(_ours("queued")))
    script.add(run("completed"))
    d = drive(run_id="", durable=True, retry=RETRY)
    result = script.play(d.create(ARGS, op_id="op_1"))
    assert (result.ending.kind, result.ending.status) == (EndingKind.TERMINAL, "completed")
    assert script.ops().count("create") == 1
    assert script.ops().count("list_runs") == 5
    assert not [r for r in script.log if isinstance(r, BindCreate)]  # never closed as no-run
    saves = [(r.op_id, r.run_id) for r in script.log if isinstance(r, SaveRun)]
    assert saves[0] == ("op_1", "run_1")  # the intent bound to the run found


def test_a_busy_thread_whose_run_list_fails_past_its_retries_keeps_looking() -> None:
    """The create was refused for an active run and the list failed past its retries: the
    drive looks again rather than failing the create, and adopts its own run."""
    busy = Failure(
        FailureKind.STATUS, status=400, message=f"Thread {THREAD} already has an active run."
    )
    script = Script().add(busy, *[http_error(503)] * 3, _listing(_ours("in_progress")))
    script.add(run("completed"))
    result = script.play(drive(run_id="", retry=RETRY).create(ARGS, op_id="op_1"))
    assert result.ending.status == "completed"
    assert script.ops().count("create") == 1


def test_a_lookup_refused_outright_is_not_retried() -> None:
    """A 401 on the list will not get better by waiting: the create raises at once, its
    intent left open (whether the run exists is still unknown)."""
    script = Script().add(LOST, http_error(401))
    d = drive(run_id="", durable=True, retry=RETRY)
    with pytest.raises(CallFailed) as raised:
        script.play(d.create(ARGS, op_id="op_1"))
    assert (raised.value.op, raised.value.failure.status) == ("list_runs", 401)
    assert script.ops() == ["create", "list_runs"]
    assert not [r for r in script.log if isinstance(r, BindCreate | CloseRun)]


def test_a_lookup_that_keeps_failing_stops_at_the_overall_deadline() -> None:
    """The list never answers: the lookups stop when the overall deadline passes, the create
    is never resent, and the intent stays open."""
    script = Script().add(LOST, *[http_error(500)] * 400)
    d = drive(run_id="", durable=True, retry=RETRY, overall_timeout_s=2.0)
    with pytest.raises(CallFailed):
        script.play(d.create(ARGS, op_id="op_1"))
    assert script.ops().count("create") == 1
    assert 4 <= script.ops().count("list_runs") < 400
    assert script.now == pytest.approx(2.0, abs=0.1)
    assert not [r for r in script.log if isinstance(r, BindCreate | CloseRun)]
