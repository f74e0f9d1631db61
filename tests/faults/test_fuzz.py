"""S34: random status strings, missing required_action, SSE split at every byte (I7)."""

from __future__ import annotations

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai._streaming import SSEDecoder

from adapters.simulator import Answer, CallTools, Queue, Scenario, ToolCallSpec, Work
from lifecycle import ASSISTANTS_RUN, AnomalyKind, RunLifecycle, ToolRegistry
from tests.faults.harness import SECRET_KEY, Rule, World

_KNOWN = st.sampled_from([s.value for s in ASSISTANTS_RUN.states])


@given(st.lists(st.one_of(_KNOWN, st.text(max_size=40)), max_size=30))
def test_any_status_sequence_never_raises_and_state_stays_in_the_table(seq: list[str]) -> None:
    """Arbitrary status strings (known or not): no exception; the state is always a table
    state; unknown strings become unknown_status anomalies with the raw text (capped)."""
    lc = RunLifecycle()
    for raw in seq:
        lc.observe(raw)
        assert lc.state.value in ASSISTANTS_RUN.state_values
    unknown = [s for s in seq if s not in ASSISTANTS_RUN.state_values]
    got = [a.observed for a in lc.anomalies if a.kind == AnomalyKind.UNKNOWN_STATUS]
    assert got == [s[:200] for s in unknown]


@pytest.mark.parametrize("raw", ["paused_for_review", "", "COMPLETED", "in progress", "null"])
def test_unknown_statuses_on_the_wire_do_not_crash_the_controller(world: World, raw: str) -> None:
    """Unknown status strings in polls: anomalies, the run still ends completed."""
    meta = world.scenario(f"fz-{raw}", Scenario((Queue(0.02), Work(0.1), Answer("ok"))))
    thread = world.thread()
    world.rewriter.add(thread, Rule(when="in_progress", status=raw, times=2))
    out = world.controller().run(thread_id=thread, assistant_id=world.assistant_id, metadata=meta)
    assert out.status == "completed"
    assert {a.kind for a in out.anomalies} == {AnomalyKind.UNKNOWN_STATUS}


def test_requires_action_without_its_payload_is_reread_not_submitted_empty(world: World) -> None:
    """A requires_action poll missing required_action: no empty submission; re-read, go on."""
    tools = ToolRegistry()

    @tools.tool
    def charge(order: str) -> str:
        """Charge."""
        return "charged"

    call = ToolCallSpec.of("charge", {"order": "m"})
    meta = world.scenario("fz-missing", Scenario((Queue(), CallTools((call,)), Answer("{output}"))))
    thread = world.thread()
    world.rewriter.add(thread, Rule(when="requires_action", drop_required_action=True, times=1))
    out = world.controller(tools).run(
        thread_id=thread, assistant_id=world.assistant_id, metadata=meta
    )
    assert out.status == "completed"
    assert world.rewriter.rules[thread][0].fired == 1
    rounds = world.sim.tool_outputs(out.run_id)
    assert [len(r) for r in rounds] == [1]  # never an empty set
    assert world.count("POST", "/v1/threads/*/runs/*/submit_tool_outputs") == 1


def _decode(chunks: list[bytes]) -> list[tuple[str | None, str]]:
    return [(e.event, e.data) for e in SSEDecoder().iter_bytes(iter(chunks))]


def test_sse_split_at_every_byte_gives_the_same_events() -> None:
    """A recorded SSE body of a tool run, split at every byte boundary (and byte by byte),
    decodes to the same events with the SDK's decoder."""
    with World(autoadvance=0.005) as world:
        call = ToolCallSpec.of("charge", {"order": "sse"})
        meta = world.scenario("sse", Scenario((Queue(), CallTools((call,)), Answer("x"))))
        thread = world.thread()
        body = httpx2.post(
            f"{world.server.base_url}/threads/{thread}/runs",
            json={"assistant_id": world.assistant_id, "stream": True, "metadata": meta},
            headers={"Authorization": f"Bearer {SECRET_KEY}", "OpenAI-Beta": "assistants=v2"},
            timeout=10,
        ).content
    whole = _decode([body])
    assert [e for e, _ in whole][:2] == ["thread.run.created", "thread.run.queued"]
    assert whole[-1][0] == "done"
    for i in range(1, len(body)):
        assert _decode([body[:i], body[i:]]) == whole, f"split at byte {i}"
    assert _decode([body[i : i + 1] for i in range(len(body))]) == whole
