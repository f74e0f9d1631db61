"""Status scripts: runs serving scripted statuses, via the real SDK (in-process and loopback)."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput

from adapters.simulator import (
    ManualClock,
    ScriptCall,
    Simulator,
    SimulatorServer,
    StatusScript,
    Step,
)
from tests.simulator.conftest import assert_history_is_documented

pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")

CALC = ScriptCall.of("call_A", "calculate_order_total", {"items": []})
WEATHER = ScriptCall.of("call_B", "get_weather", {"city": "Paris"})


def _start(client: openai.OpenAI, scenario: str) -> tuple[str, str]:
    """Create an assistant on ``scenario``, a thread and a run; return (thread_id, run_id)."""
    asst = client.beta.assistants.create(model="m", metadata={"scenario": scenario})
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id)
    return thread.id, run.id


def _statuses(client: openai.OpenAI, thread_id: str, run_id: str, reads: int) -> list[str]:
    return [
        client.beta.threads.runs.retrieve(run_id, thread_id=thread_id).status for _ in range(reads)
    ]


def _names(history: list[tuple[str, float]]) -> list[str]:
    return [s for s, _ in history]


def test_per_read_regression_is_served_in_order(sim: Simulator, client: openai.OpenAI) -> None:
    """per_read: create serves step 0, each GET the next one, the last step repeats."""
    steps = [Step("queued"), Step("in_progress"), Step("queued"), Step("completed")]
    sim.add_scenario("stale", StatusScript(steps=steps, advance="per_read"))
    thread_id, run_id = _start(client, "stale")
    assert _statuses(client, thread_id, run_id, 4) == [
        "in_progress",
        "queued",
        "completed",
        "completed",
    ]
    assert sim.is_scripted(run_id)
    assert _names(sim.run_history(run_id)) == ["queued", "in_progress", "queued", "completed"]
    reads = sim.script_reads(run_id)
    assert [(r.via, r.index, r.status) for r in reads] == [
        ("create", 0, "queued"),
        ("retrieve", 1, "in_progress"),
        ("retrieve", 2, "queued"),
        ("retrieve", 3, "completed"),
        ("retrieve", 3, "completed"),
    ]


def test_repeats_and_skips_are_served_verbatim(sim: Simulator, client: openai.OpenAI) -> None:
    """Repeated statuses are separate steps; a skip straight to completed is served as is."""
    sim.add_scenario("skip", StatusScript([Step("queued"), Step("queued"), Step("completed")]))
    thread_id, run_id = _start(client, "skip")
    assert _statuses(client, thread_id, run_id, 2) == ["queued", "completed"]
    assert _names(sim.run_history(run_id)) == ["queued", "queued", "completed"]


def test_unknown_status_parses_with_the_sdk(sim: Simulator, client: openai.OpenAI) -> None:
    """An unknown status string reaches the SDK's Run unchanged; history keeps the raw string."""
    script = StatusScript([Step("in_progress"), Step("paused_for_review"), Step("completed")])
    sim.add_scenario("unknown", script)
    thread_id, run_id = _start(client, "unknown")
    run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert str(run.status) == "paused_for_review"
    assert run.id == run_id
    history = sim.run_history(run_id)
    assert history[1][0] == "paused_for_review"
    assert history[0][0] == "in_progress"


def test_listing_and_lists_do_not_advance(sim: Simulator, client: openai.OpenAI) -> None:
    """Only a GET of the run moves a per_read script; listing serves the current step."""
    sim.add_scenario("s", StatusScript([Step("queued"), Step("in_progress"), Step("expired")]))
    thread_id, run_id = _start(client, "s")
    listed = client.beta.threads.runs.list(thread_id=thread_id)
    assert [r.status for r in listed.data] == ["queued"]
    assert [r.via for r in sim.script_reads(run_id)] == ["create", "list"]


def test_by_time_follows_the_clock(
    sim: Simulator, client: openai.OpenAI, clock: ManualClock
) -> None:
    """by_time: steps become current after their delays; reads in between repeat the step."""
    script = StatusScript(
        [Step("queued"), Step("in_progress", delay=1.0), Step("cancelled", delay=2.0)],
        advance="by_time",
    )
    sim.add_scenario("timed", script)
    thread_id, run_id = _start(client, "timed")
    t0 = clock()
    assert _statuses(client, thread_id, run_id, 2) == ["queued", "queued"]
    clock.advance(1.0)
    assert _statuses(client, thread_id, run_id, 1) == ["in_progress"]
    clock.advance(5.0)
    run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert run.status == "cancelled"
    assert run.started_at == int(t0 + 1.0)
    assert run.cancelled_at == int(t0 + 3.0)
    assert sim.run_history(run_id) == [
        ("queued", t0),
        ("in_progress", t0 + 1.0),
        ("cancelled", t0 + 3.0),
    ]


def test_terminal_flip_is_served(sim: Simulator, client: openai.OpenAI) -> None:
    """A terminal status can be followed by another one (cancelled, then completed)."""
    sim.add_scenario(
        "flip", StatusScript([Step("in_progress"), Step("cancelled"), Step("completed")])
    )
    thread_id, run_id = _start(client, "flip")
    assert _statuses(client, thread_id, run_id, 3) == ["cancelled", "completed", "completed"]


def test_payload_overrides_apply_last(sim: Simulator, client: openai.OpenAI) -> None:
    """Step payload overrides replace served fields (here a failed run's last_error)."""
    error = {"code": "server_error", "message": "scripted"}
    sim.add_scenario("fail", StatusScript([Step("queued"), Step("failed", {"last_error": error})]))
    thread_id, run_id = _start(client, "fail")
    run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert run.status == "failed"
    assert run.last_error is not None
    assert (run.last_error.code, run.last_error.message) == ("server_error", "scripted")


def test_requires_action_variants_parse(sim: Simulator, client: openai.OpenAI) -> None:
    """requires_action with required_action null, with an empty call list, and with calls."""
    steps = [
        Step("queued"),
        Step("requires_action"),
        Step("requires_action", tool_calls=()),
        Step("requires_action", tool_calls=[CALC, WEATHER]),
    ]
    sim.add_scenario("ra", StatusScript(steps))
    thread_id, run_id = _start(client, "ra")
    null, empty, full = (
        client.beta.threads.runs.retrieve(run_id, thread_id=thread_id) for _ in range(3)
    )
    assert (null.status, null.required_action) == ("requires_action", None)
    assert empty.required_action is not None
    assert empty.required_action.submit_tool_outputs.tool_calls == []
    assert full.required_action is not None
    calls = full.required_action.submit_tool_outputs.tool_calls
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_A", "calculate_order_total", '{"items": []}'),
        ("call_B", "get_weather", '{"city": "Paris"}'),
    ]


def test_submit_records_and_advances_then_stale_step_refuses(
    sim: Simulator, client: openai.OpenAI
) -> None:
    """Submit on a tool step records the round and serves the next step; a stale
    requires_action (accepts_outputs=False) repeats the old id and refuses outputs with a 400."""
    steps = [
        Step("requires_action", tool_calls=[CALC]),
        Step("requires_action", tool_calls=[CALC], accepts_outputs=False),
        Step("in_progress"),
        Step("requires_action", tool_calls=[CALC, WEATHER]),
        Step("completed"),
    ]
    sim.add_scenario("rounds", StatusScript(steps))
    thread_id, run_id = _start(client, "rounds")
    runs = client.beta.threads.runs
    after = runs.submit_tool_outputs(
        run_id, thread_id=thread_id, tool_outputs=[{"tool_call_id": "call_A", "output": "10"}]
    )
    assert after.status == "requires_action"
    assert after.required_action is not None
    assert after.required_action.submit_tool_outputs.tool_calls[0].id == "call_A"
    with pytest.raises(openai.BadRequestError, match="do not accept tool outputs"):
        runs.submit_tool_outputs(
            run_id, thread_id=thread_id, tool_outputs=[{"tool_call_id": "call_A", "output": "10"}]
        )
    assert _statuses(client, thread_id, run_id, 2) == ["in_progress", "requires_action"]
    done = runs.submit_tool_outputs(
        run_id,
        thread_id=thread_id,
        tool_outputs=[
            {"tool_call_id": "call_A", "output": "again"},
            {"tool_call_id": "call_B", "output": "sunny"},
        ],
    )
    assert done.status == "completed"
    rounds = sim.tool_outputs(run_id)
    assert [[(o.tool_call_id, o.name, o.output) for o in r] for r in rounds] == [
        [("call_A", "calculate_order_total", "10")],
        [("call_A", "calculate_order_total", "again"), ("call_B", "get_weather", "sunny")],
    ]
    assert [r.via for r in sim.script_reads(run_id)].count("submit") == 2


def test_submit_with_wrong_ids_is_a_400_unless_unchecked(
    sim: Simulator, client: openai.OpenAI
) -> None:
    """check_outputs mirrors the real server's id check; check_outputs=False accepts anything."""
    steps = [Step("requires_action", tool_calls=[CALC]), Step("queued")]
    sim.add_scenario("strict", StatusScript(steps))
    sim.add_scenario("loose", StatusScript(steps, check_outputs=False))
    wrong: list[ToolOutput] = [{"tool_call_id": "call_Z", "output": "x"}]
    thread_id, run_id = _start(client, "strict")
    with pytest.raises(openai.BadRequestError, match="not found"):
        client.beta.threads.runs.submit_tool_outputs(
            run_id, thread_id=thread_id, tool_outputs=wrong
        )
    assert sim.tool_outputs(run_id) == []
    thread_id, run_id = _start(client, "loose")
    run = client.beta.threads.runs.submit_tool_outputs(
        run_id, thread_id=thread_id, tool_outputs=wrong
    )
    assert run.status == "queued"
    assert [(o.tool_call_id, o.name) for o in sim.tool_outputs(run_id)[0]] == [("call_Z", "")]


def test_cancel_switches_to_on_cancel(sim: Simulator, client: openai.OpenAI) -> None:
    """The first cancel serves on_cancel's first step; later reads walk that branch."""
    script = StatusScript(
        [Step("queued")],
        on_cancel=[Step("cancelling"), Step("cancelling"), Step("cancelled")],
    )
    sim.add_scenario("cancel", script)
    sim.add_scenario("plain", StatusScript([Step("in_progress"), Step("completed")]))
    thread_id, run_id = _start(client, "cancel")
    assert _statuses(client, thread_id, run_id, 1) == ["queued"]
    cancelled = client.beta.threads.runs.cancel(run_id, thread_id=thread_id)
    assert cancelled.status == "cancelling"
    assert _statuses(client, thread_id, run_id, 3) == ["cancelling", "cancelled", "cancelled"]
    assert [(r.via, r.branch) for r in sim.script_reads(run_id)][1:3] == [
        ("retrieve", "main"),
        ("cancel", "cancel"),
    ]
    thread_id, run_id = _start(client, "plain")
    assert client.beta.threads.runs.cancel(run_id, thread_id=thread_id).status == "in_progress"


def test_scripted_run_locks_its_thread_until_a_terminal_status(
    sim: Simulator, client: openai.OpenAI
) -> None:
    """The thread lock follows the last known status served (unknown ones do not change it)."""
    sim.add_scenario("lock", StatusScript([Step("in_progress"), Step("weird"), Step("expired")]))
    thread_id, run_id = _start(client, "lock")
    _statuses(client, thread_id, run_id, 1)
    with pytest.raises(openai.BadRequestError, match="while a run"):
        client.beta.threads.messages.create(thread_id, role="user", content="hi")
    _statuses(client, thread_id, run_id, 1)
    assert client.beta.threads.messages.create(thread_id, role="user", content="hi").id


def test_stream_per_read_emits_every_step(sim: Simulator, client: openai.OpenAI) -> None:
    """A per_read stream emits one thread.run.<status> per step, unknown ones included, and
    ends at a stop-polling status; submitting with stream=True continues the script."""
    steps = [
        Step("queued"),
        Step("paused_for_review"),
        Step("requires_action", tool_calls=[CALC]),
        Step("in_progress"),
        Step("completed"),
    ]
    sim.add_scenario("streamed", StatusScript(steps))
    asst = client.beta.assistants.create(model="m", metadata={"scenario": "streamed"})
    thread = client.beta.threads.create()
    runs = client.beta.threads.runs
    with runs.create(thread_id=thread.id, assistant_id=asst.id, stream=True) as stream:
        events = list(stream)
    names = [e.event for e in events]
    assert names == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.paused_for_review",
        "thread.run.requires_action",
    ]
    unknown: Any = events[2]
    assert unknown.data.status == "paused_for_review"
    created: Any = events[0]
    run_id = created.data.id
    with runs.submit_tool_outputs(
        run_id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": "call_A", "output": "1"}],
        stream=True,
    ) as stream:
        after = [e.event for e in stream]
    assert after == ["thread.run.in_progress", "thread.run.completed"]
    assert sim.run_events(run_id) == names + after


def test_stream_by_time_follows_the_clock(make_sim: Any) -> None:
    """A by_time stream emits each step as the (auto-advancing) clock reaches it."""
    sim = make_sim(clock=ManualClock(autoadvance=0.5))
    script = StatusScript(
        [Step("queued"), Step("in_progress", delay=1.0), Step("cancelled", delay=1.0)],
        advance="by_time",
    )
    sim.add_scenario("timed", script)
    with openai.OpenAI(
        base_url="http://simulator.local/v1", api_key="k", http_client=sim.http_client()
    ) as client:
        asst = client.beta.assistants.create(model="m", metadata={"scenario": "timed"})
        thread = client.beta.threads.create()
        with client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=asst.id, stream=True
        ) as stream:
            names = [e.event for e in stream]
    assert names == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.cancelled",
    ]


def test_registry_and_default_scenario(sim: Simulator, client: openai.OpenAI) -> None:
    """A script name works as the default scenario and replaces a scenario of the same name."""
    sim.add_scenario("text", StatusScript([Step("incomplete")]))
    sim.default_scenario = "text"
    asst = client.beta.assistants.create(model="m")
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id)
    assert run.status == "incomplete"
    assert sim.is_scripted(run.id)
    with pytest.raises(openai.BadRequestError, match="text"):
        client.beta.threads.runs.create(
            thread_id=client.beta.threads.create().id,
            assistant_id=asst.id,
            metadata={"scenario": "nope"},
        )


def test_normal_runs_are_still_history_checked(sim: Simulator, client: openai.OpenAI) -> None:
    """Scripted and scenario runs side by side: the documented-moves check still applies to the
    latter."""
    sim.add_scenario("back", StatusScript([Step("completed"), Step("queued")]))
    _start(client, "back")
    _, run_id = _start(client, "text")
    assert not sim.is_scripted(run_id)
    with pytest.raises(ValueError, match="does not follow"):
        sim.script_reads(run_id)
    end = sim.run_history(run_id)[-1][1]
    sim.runs[run_id].history.append(("queued", end))  # completed -> queued: undocumented
    with pytest.raises(AssertionError):
        assert_history_is_documented(sim)
    sim.runs[run_id].history.pop()


def test_script_validation() -> None:
    """Scripts reject what cannot be served."""
    with pytest.raises(ValueError, match="at least one step"):
        StatusScript([])
    with pytest.raises(ValueError, match="on_cancel"):
        StatusScript([Step("queued")], on_cancel=[])
    with pytest.raises(ValueError, match="advance"):
        StatusScript([Step("queued")], advance="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        Step("queued", delay=-1.0)
    with pytest.raises(ValueError, match="status"):
        Step("")


def test_scripted_run_over_loopback(served: SimulatorServer, live: openai.OpenAI) -> None:
    """Over real HTTP (uvicorn on 127.0.0.1): the SDK's create_and_poll sees the script."""
    served.sim.add_scenario(
        "loop",
        StatusScript([Step("queued"), Step("paused_for_review"), Step("queued"), Step("expired")]),
    )
    asst = live.beta.assistants.create(model="m", metadata={"scenario": "loop"})
    thread = live.beta.threads.create()
    run = live.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=asst.id, poll_interval_ms=1
    )
    assert run.status == "expired"
    assert _names(served.sim.run_history(run.id)) == [
        "queued",
        "paused_for_review",
        "queued",
        "expired",
    ]
