"""Matrix rows driven by status scripts: S01-S08 and S23 (the real controller, loopback HTTP)."""

from __future__ import annotations

import pytest

from adapters.simulator import (
    Answer,
    CancelBehaviour,
    EndIncomplete,
    Fail,
    Hang,
    Queue,
    Scenario,
    Work,
)
from lifecycle import AnomalyKind, RunFailed, RunIncomplete, RunLifecycle
from tests.faults.harness import Rule, World, journal_is_continuous


def _statuses(outcome: object) -> list[str]:
    history = outcome.history  # type: ignore[attr-defined]
    return [history[0].source] + [e.dest for e in history] if history else []


def test_s01_plain_run_logs_three_statuses(world: World) -> None:
    """S01: queued -> in_progress -> completed: completed, log of 3 statuses, no anomaly."""
    meta = world.scenario("s01", Scenario((Queue(0.05), Work(0.05), Answer("hi"))))
    out = world.controller().run(
        thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
    )
    assert out.status == "completed"
    assert _statuses(out) == ["queued", "in_progress", "completed"]
    assert out.anomalies == ()
    assert not any(e.inferred for e in out.history)
    assert out.text == "hi"


@pytest.mark.reference_server
def test_s02_repeats_collapse_and_a_skip_is_accepted(world: World) -> None:
    """S02: many polls of the same status log it once; a queued -> completed jump is inferred."""
    world.sim.poll_after_ms = 200  # the first poll after create lands after completion
    meta = world.scenario("s02", Scenario((Queue(0.02), Work(0.02), Answer("done"))))
    out = world.controller().run(
        thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
    )
    assert out.status == "completed"
    assert _statuses(out) == ["queued", "in_progress", "completed"]
    assert [e.inferred for e in out.history] == [True, False]
    assert out.anomalies == ()

    world.sim.poll_after_ms = 5
    meta = world.scenario("s02b", Scenario((Queue(0.5), Work(0.02), Answer("slow"))))
    out = world.controller().run(
        thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
    )
    polls = [s for s in world.sleeps if s == pytest.approx(0.005)]
    assert len(polls) > 20  # queued was read many times...
    assert _statuses(out) == ["queued", "in_progress", "completed"]  # ...and logged once
    assert journal_is_continuous(out.history)


def test_s03_stale_read_is_a_regression_anomaly(world: World) -> None:
    """S03: in_progress, then a stale 'queued', then completed: no move back, anomaly kept."""
    meta = world.scenario("s03", Scenario((Queue(0.02), Work(0.2), Answer("ok"))))
    thread = world.thread()
    world.rewriter.add(thread, Rule(when="in_progress", status="queued", times=1))
    world.rewriter.rules[thread].insert(0, Rule(when="in_progress", times=1))  # see it first
    out = world.controller().run(thread_id=thread, assistant_id=world.assistant_id, metadata=meta)
    assert "queued" in [s for _, s in world.rewriter.wire[1:]]
    assert out.status == "completed"
    assert [a.kind for a in out.anomalies] == [AnomalyKind.REGRESSION]
    assert out.anomalies[0].observed == "queued"
    assert out.anomalies[0].state == "in_progress"
    assert _statuses(out) == ["queued", "in_progress", "completed"]


def test_s04_unknown_status_is_kept_raw_and_the_run_goes_on(world: World) -> None:
    """S04: an unknown 'paused_for_review', later completed: anomaly with the raw string."""
    meta = world.scenario("s04", Scenario((Queue(0.02), Work(0.2), Answer("ok"))))
    thread = world.thread()
    world.rewriter.add(thread, Rule(when="in_progress", status="paused_for_review", times=3))
    out = world.controller().run(thread_id=thread, assistant_id=world.assistant_id, metadata=meta)
    assert out.status == "completed"
    kinds = {a.kind for a in out.anomalies}
    assert kinds == {AnomalyKind.UNKNOWN_STATUS}
    assert {a.observed for a in out.anomalies} == {"paused_for_review"}
    assert journal_is_continuous(out.history)


def test_s05_queued_forever_hits_the_queue_deadline_and_cancels_once(world: World) -> None:
    """S05: queued forever: queue deadline -> one cancel -> reported within the deadlines."""
    meta = world.scenario("s05", Scenario((Queue(10_000), Work(), Answer("never"))))
    cfg = world.config(deadlines={"queued": 5.0, "cancelling": 5.0}, poll_interval_s=0.5)
    world.sim.poll_after_ms = None
    start = world.clock()
    out = world.controller(config=cfg).run(
        thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
    )
    assert out.deadline == "queued"
    assert out.cancel_requested
    assert world.count("POST", "/v1/threads/*/runs/*/cancel") == 1
    assert out.status == "cancelled"
    assert world.clock() - start <= 5.0 + 5.0 + 0.5 + 0.5
    with pytest.raises(Exception, match="queued deadline"):
        out.raise_for_status()


def test_s06_stuck_in_progress_then_stuck_cancelling_is_cancel_unconfirmed(world: World) -> None:
    """S06: in_progress forever, then cancelling forever: cancel_unconfirmed within deadlines."""
    meta = world.scenario(
        "s06",
        Scenario((Queue(0.02), Work(0.02), Hang()), cancel=CancelBehaviour(confirm_after=None)),
    )
    cfg = world.config(deadlines={"in_progress": 10.0, "cancelling": 5.0}, poll_interval_s=0.5)
    world.sim.poll_after_ms = None
    start = world.clock()
    thread = world.thread()
    out = world.controller(config=cfg).run(
        thread_id=thread, assistant_id=world.assistant_id, metadata=meta
    )
    assert out.deadline == "in_progress"
    assert out.cancel_unconfirmed
    assert out.status == "cancelling"
    assert world.count("POST", "/v1/threads/*/runs/*/cancel") == 1
    assert world.clock() - start <= 10.0 + 5.0 + 1.5
    assert world.runs_on(thread) == [out.run_id]  # nothing else was started on the thread


def test_s07_cancelled_then_completed_keeps_cancelled(world: World) -> None:
    """S07: a read says cancelled, the server later says completed: cancelled is committed."""
    meta = world.scenario("s07", Scenario((Queue(0.02), Work(0.3), Answer("late output"))))
    thread = world.thread()
    world.rewriter.add(thread, Rule(when="in_progress", status="cancelled"))
    out = world.controller().run(thread_id=thread, assistant_id=world.assistant_id, metadata=meta)
    assert out.status == "cancelled"
    assert not out.ok
    assert "late output" not in out.text  # the output is not delivered as a success
    # the server later reports completed: the committed terminal status does not flip
    world.clock.advance(1.0)
    real = world.sim.run_history(out.run_id)[-1][0]
    assert real == "completed"
    assert out.snapshot is not None
    lc = RunLifecycle.restore(out.snapshot)
    assert lc.observe(real) == []
    assert lc.state == "cancelled"
    assert lc.anomalies[-1].kind == AnomalyKind.TERMINAL_FLIP
    assert lc.anomalies[-1].observed == "completed"


def test_s08_incomplete_keeps_its_reason_and_is_not_success(world: World) -> None:
    """S08: incomplete (max tokens): status incomplete, reason kept, not reported as success."""
    meta = world.scenario(
        "s08", Scenario((Queue(0.02), Work(0.02), EndIncomplete("max_completion_tokens")))
    )
    out = world.controller().run(
        thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
    )
    assert out.status == "incomplete"
    assert not out.ok
    with pytest.raises(RunIncomplete) as info:
        out.raise_for_status()
    assert info.value.detail == "max_completion_tokens"


@pytest.mark.parametrize("code", ["rate_limit_exceeded", "server_error"])
def test_s23_failed_run_reports_its_code_and_is_never_rerun(world: World, code: str) -> None:
    """S23: failed with last_error.code: failed(code) reported; no hidden second run."""
    meta = world.scenario(f"s23-{code}", Scenario((Queue(0.02), Work(0.02), Fail(code))))  # type: ignore[arg-type]
    thread = world.thread()
    out = world.controller().run(thread_id=thread, assistant_id=world.assistant_id, metadata=meta)
    assert out.status == "failed"
    with pytest.raises(RunFailed) as info:
        out.raise_for_status()
    assert info.value.detail.startswith(code)
    assert world.count("POST", "/v1/threads/*/runs") == 1
    assert world.runs_on(thread) == [out.run_id]
