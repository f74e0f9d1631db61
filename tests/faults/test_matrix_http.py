"""Matrix rows about HTTP, streams and races: S17-S22, S24-S28."""

from __future__ import annotations

import openai
import pytest

from adapters.openai import CancelToken
from adapters.simulator import Answer, CallTools, Fault, Queue, Scenario, ToolCallSpec, Work
from lifecycle import CallState, RunLifecycle, ToolRegistry
from tests.faults.harness import Effects, Rule, World, journal_is_continuous

SUBMIT = "/v1/threads/*/runs/*/submit_tool_outputs"
CREATE = "/v1/threads/*/runs"
RUN = "/v1/threads/*/runs/*"
CANCEL = "/v1/threads/*/runs/*/cancel"


def _one_tool(
    world: World, name: str, effects: Effects, *, advance: float = 0.0
) -> tuple[ToolRegistry, dict[str, str]]:
    tools = ToolRegistry()

    @tools.tool
    def charge(order: str) -> str:
        """Charge an order (counts executions)."""
        effects.hit(order)
        if advance:
            world.clock.advance(advance)  # the tool is slow in simulated time
        return f"charged {order}"

    meta = world.scenario(
        name,
        Scenario((Queue(), CallTools((ToolCallSpec.of("charge", {"order": name}),)), Answer("ok"))),
    )
    return tools, meta


def test_s17_submit_refused_because_expired_is_not_resent(world: World) -> None:
    """S17: the tool outlives expires_at; submit -> 400 expired: expired, no resubmit, I2."""
    effects = Effects()
    tools, meta = _one_tool(world, "s17", effects, advance=601.0)
    cfg = world.config(expiry_margin_s=0.0, tool_timeout_s=5.0)
    out = world.controller(tools, config=cfg).run(
        thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
    )
    assert out.status == "expired"
    assert world.count("POST", SUBMIT) == 1
    assert effects.count == {"s17": 1}
    (call,) = out.tool_calls
    assert call.state == CallState.EXECUTED_UNDELIVERED
    assert out.ledger.entries[call.id].reason == "expired"


def test_s18_submit_applied_but_timed_out_is_reconciled_as_delivered(world: World) -> None:
    """S18: submit applied, response lost (timeout): read the run, it moved on -> delivered."""
    effects = Effects()
    tools, meta = _one_tool(world, "s18", effects)
    world.sim.faults.add(Fault(method="POST", path=SUBMIT, applied_then_fail="hang"))
    cfg = world.config(request_timeout_s=0.3)
    out = world.controller(tools, config=cfg).run(
        thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
    )
    assert out.status == "completed"
    assert effects.count == {"s18": 1}  # 0 re-executions
    assert len(world.sim.tool_outputs(out.run_id)) == 1  # 1 logical submission
    assert world.count("POST", SUBMIT) == 1  # reconciled by reading, not by resending
    assert [t.state for t in out.tool_calls] == [CallState.DELIVERED]


def test_s19_submit_500_not_applied_then_200_delivers_once(world: World) -> None:
    """S19: submit -> 500 (not applied), then 200: jittered backoff, one delivery."""
    effects = Effects()
    tools, meta = _one_tool(world, "s19", effects)
    world.sim.faults.add(Fault(method="POST", path=SUBMIT, status=500))
    out = world.controller(tools).run(
        thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
    )
    assert out.status == "completed"
    assert world.count("POST", SUBMIT) == 2
    assert len(world.sim.tool_outputs(out.run_id)) == 1
    assert effects.count == {"s19": 1}
    backoffs = [s for s in world.sleeps if s != pytest.approx(0.005)]
    assert backoffs
    assert all(0 <= s <= 1.0 for s in backoffs)  # within the retry cap


def test_s20_create_applied_then_lost_is_adopted_by_op_id(world: World) -> None:
    """S20: create applied, connection lost; the run is found by metadata.op_id: exactly 1 run."""
    meta = world.scenario("s20", Scenario((Queue(), Work(), Answer("adopted"))))
    world.sim.faults.add(Fault(method="POST", path=CREATE, applied_then_fail="drop"))
    thread = world.thread()
    out = world.controller().run(thread_id=thread, assistant_id=world.assistant_id, metadata=meta)
    assert out.status == "completed"
    assert world.runs_on(thread) == [out.run_id]  # I6: exactly one run created
    assert world.sim.runs[out.run_id].metadata.get("op_id")
    assert out.text == "adopted"


def test_s21_an_orphan_active_run_is_reconciled_before_creating(world: World) -> None:
    """S21: a previous process left an active run on the thread; run() cancels it per policy
    (``on_active_run="cancel"``), then creates its own: never two active runs."""
    from adapters.openai._wire import assistants_quiet

    meta = world.scenario("s21", Scenario((Queue(), Work(), Answer("mine"))))
    orphan_meta = world.scenario("s21-orphan", Scenario((Queue(), Work(1000.0), Answer("x"))))
    thread = world.thread()
    with assistants_quiet():
        orphan = world.api.beta.threads.runs.create(
            thread_id=thread, assistant_id=world.assistant_id, metadata=orphan_meta
        )
    out = world.controller().run(
        thread_id=thread, assistant_id=world.assistant_id, metadata=meta, on_active_run="cancel"
    )
    assert out.status == "completed"
    history = world.sim.run_history(orphan.id)
    assert history[-1][0] == "cancelled"
    created_at = world.sim.run_history(out.run_id)[0][1]
    assert history[-1][1] <= created_at  # the orphan ended before ours was created


def test_s06_s21_a_thread_with_an_unconfirmed_cancel_is_not_reused(world: World) -> None:
    """I6: after cancel_unconfirmed the controller refuses locally to create on that thread
    (no POST /runs is sent) instead of relying on the server's 400."""
    from adapters.simulator import CancelBehaviour, Hang

    meta = world.scenario(
        "s06b",
        Scenario((Queue(0.02), Work(0.02), Hang()), cancel=CancelBehaviour(confirm_after=None)),
    )
    cfg = world.config(deadlines={"in_progress": 1.0, "cancelling": 1.0}, poll_interval_s=0.5)
    controller = world.controller(config=cfg)
    thread = world.thread()
    first = controller.run(thread_id=thread, assistant_id=world.assistant_id, metadata=meta)
    assert first.cancel_unconfirmed
    creates = world.count("POST", CREATE)
    with pytest.raises(Exception, match="active run"):
        controller.run(thread_id=thread, assistant_id=world.assistant_id, metadata=meta)
    assert world.count("POST", CREATE) == creates


def test_s22_retry_after_headers_are_honoured_beyond_the_sdk_cap(world: World) -> None:
    """S22: 429 retry-after-ms 1500, then 429 retry-after 300 (> SDK's 120 s cap): both waited."""
    meta = world.scenario("s22", Scenario((Queue(0.02), Work(0.02), Answer("ok"))))
    world.sim.faults.add(
        Fault(method="GET", path=RUN, status=429, headers={"retry-after-ms": "1500"}, nth=1)
    )
    world.sim.faults.add(
        Fault(method="GET", path=RUN, status=429, headers={"retry-after": "300"}, nth=2)
    )
    from adapters.openai import RetryPolicy

    deadlines = {"queued": 1000.0, "in_progress": 1000.0}  # room for the 300 s wait
    cfg = world.config(
        retry=RetryPolicy(max_attempts=4, max_retry_after_s=600.0),
        deadlines=deadlines,
        overall_timeout_s=2000.0,
    )
    out = world.controller(config=cfg).run(
        thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
    )
    assert out.status == "completed"
    assert 1.5 in world.sleeps
    assert 300.0 in world.sleeps
    gets = [r for r in world.sim.requests if r.method == "GET" and r.path.count("/") == 5]
    limited = [i for i, r in enumerate(gets) if r.status == 429]
    assert len(limited) == 2
    for i in limited:  # the next request came no earlier than the server asked (I9)
        wait = 1.5 if gets[i].fault and "retry-after-ms" in gets[i].fault.headers else 300.0
        assert gets[i + 1].time - gets[i].time >= wait


def test_s24_a_stream_reset_mid_run_falls_back_to_polling_without_gaps() -> None:
    """S24: the stream is cut after 3 events: polling takes over; the log has no gap or dup."""
    with World(autoadvance=0.005) as world:
        meta = world.scenario("s24", Scenario((Queue(0.05), Work(0.05), Answer("streamed"))))
        world.sim.faults.add(Fault(method="POST", path=CREATE, cut_stream_after=3))
        out = world.controller(stream=True).run(
            thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
        )
    assert out.status == "completed"
    assert out.stream_fallbacks == 1
    assert journal_is_continuous(out.history)
    dests = [e.dest for e in out.history]
    assert len(dests) == len(set(dests))


@pytest.mark.parametrize("mode", ["clean_close", "silence"])
def test_s25_a_stream_that_ends_without_a_terminal_event_switches_to_polling(mode: str) -> None:
    """S25: clean close without a terminal event, or silence past the idle timeout -> polling."""
    with World(autoadvance=0.005) as world:
        meta = world.scenario("s25", Scenario((Queue(0.05), Work(0.05), Answer("ok"))))
        thread = world.thread()
        if mode == "clean_close":
            world.rewriter.close_stream_after[thread] = 2
        else:
            world.sim.faults.add(Fault(method="POST", path=CREATE, silent_stream_after=2))
        cfg = world.config(stream_idle_timeout_s=0.3)
        out = world.controller(config=cfg, stream=True).run(
            thread_id=thread, assistant_id=world.assistant_id, metadata=meta
        )
    assert out.status == "completed"
    assert out.stream_fallbacks == 1
    assert journal_is_continuous(out.history)


def test_s26_the_same_status_from_stream_and_poll_is_logged_once() -> None:
    """S26: a stream event and a poll deliver the same status: one journal entry."""
    lc = RunLifecycle()
    lc.observe("in_progress", via="stream", at=1.0)
    assert lc.observe("in_progress", via="poll", at=1.0) == []
    lc.observe("completed", via="poll", at=2.0)
    assert lc.observe("completed", via="stream", at=2.0) == []
    assert [e.dest for e in lc.history] == ["in_progress", "completed"]
    assert lc.anomalies == ()


@pytest.mark.reference_server
def test_s26_a_streamed_run_logs_each_status_once(world: World) -> None:
    """S26 end to end: a streamed run (stream events plus the create response) logs once each."""
    world.clock.autoadvance = 0.005
    meta = world.scenario("s26", Scenario((Queue(0.02), Work(0.02), Answer("ok"))))
    out = world.controller(stream=True).run(
        thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
    )
    assert out.status == "completed"
    assert out.stream_fallbacks == 0
    dests = [e.dest for e in out.history]
    assert dests == ["in_progress", "completed"]


def test_s27_cancel_losing_the_race_to_completion_is_not_an_error(world: World) -> None:
    """S27: cancel a run that just finished -> 400 'Cannot cancel run': completed, lost race."""
    meta = world.scenario("s27", Scenario((Queue(0.02), Work(0.02), Answer("done first"))))
    thread = world.thread()
    from adapters.openai._wire import assistants_quiet

    with assistants_quiet():
        run = world.api.beta.threads.runs.create(
            thread_id=thread, assistant_id=world.assistant_id, metadata=meta
        )
    world.clock.advance(1.0)  # the run completes on the server...
    world.rewriter.add(thread, Rule(when="completed", status="in_progress"))  # ...a stale read
    out = world.controller().cancel(thread_id=thread, run_id=run.id)
    assert world.count("POST", CANCEL) == 1
    assert out.status == "completed"
    assert out.cancel_lost_race
    assert out.cancel_requested
    assert out.deadline is None


def test_s28_cancel_during_a_tool_round_submits_nothing(world: World) -> None:
    """S28: the user cancels while tools run: no submit after it; outputs executed_undelivered."""
    effects = Effects()
    token = CancelToken()
    tools = ToolRegistry()

    @tools.tool
    def charge(order: str) -> str:
        """Charge; the user cancels while it runs."""
        effects.hit(order)
        token.cancel()
        return "charged"

    calls = (ToolCallSpec.of("charge", {"order": "a"}), ToolCallSpec.of("charge", {"order": "b"}))
    meta = world.scenario("s28", Scenario((Queue(), CallTools(calls), Answer("never"))))
    out = world.controller(tools).run(
        thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta, cancel_token=token
    )
    assert world.count("POST", SUBMIT) == 0
    assert world.count("POST", CANCEL) == 1
    assert out.status == "cancelled"
    assert effects.total == 2
    assert {t.state for t in out.tool_calls} == {CallState.EXECUTED_UNDELIVERED}
    assert {out.ledger.entries[t.id].reason for t in out.tool_calls} == {"cancelled"}


def test_a_dropped_read_reaches_the_client_as_a_dropped_connection(world: World) -> None:
    """The harness's fault rows mean what they say: a connection dropped before the response,
    behind the payload rewriter, is a connection error at the client, not a 500 (the rewriter
    once hid the server's transport from the simulator's drop, so every drop was a 500)."""

    world.sim.faults.add(Fault(method="GET", path=RUN, drop="before_response"))
    with pytest.raises(openai.APIConnectionError):
        world.api.beta.threads.runs.retrieve("run_missing", thread_id=world.thread)
    # the fault was spent; the next read reaches the simulator (which knows no such run)
    with pytest.raises(openai.NotFoundError):
        world.api.beta.threads.runs.retrieve("run_missing", thread_id=world.thread)
