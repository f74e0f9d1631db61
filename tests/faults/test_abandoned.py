"""A drive abandoned mid-round (the API kept failing) and continued later with ``drive()``.

The outcome reports ``abandoned``; the tool call that ran is never run again by the later drive,
which submits the recorded output once - with or without a store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.simulator import Fault
from adapters.store import RunStore
from lifecycle import CallState, Hooks
from tests.faults.harness import Effects, World, charge_tools, one_charge_scenario


@pytest.mark.parametrize("durable", [False, True], ids=["in-memory", "store"])
def test_an_abandoned_drive_is_continued_without_running_the_tool_again(
    world: World, tmp_path: Path, durable: bool
) -> None:
    """Submit answers 500 (not applied) and every read fails: the drive ends ``abandoned`` in
    requires_action with the output recorded, not delivered. Once the API is back, ``drive()``
    submits that output: 1 execution, 1 accepted submission, completed."""
    effects = Effects()
    meta = one_charge_scenario(world, f"ab-{durable}")
    thread = world.thread()
    store = RunStore(tmp_path / "runs.db", clock=world.clock) if durable else None
    runs = f"/v1/threads/{thread}/runs"
    hooks = Hooks()
    outages = [1]

    @hooks.on_requires_action
    def outage(run: object, calls: object) -> None:  # from here on the API is down (once)
        if not outages:
            return
        outages.pop()
        world.sim.faults.add(Fault(method="POST", path=runs + "/*/submit_tool_outputs", status=500))
        world.sim.faults.add(Fault(method="GET", path=runs + "/**", status=503, times=None))

    controller = world.controller(charge_tools(effects), store=store, hooks=hooks)

    first = controller.run(thread_id=thread, assistant_id=world.assistant_id, metadata=meta)

    assert first.abandoned == "http_503"
    assert first.status == "requires_action"
    (call,) = first.tool_calls
    assert call.state == CallState.EXECUTED_UNDELIVERED
    assert first.ledger.entries[call.id].reason == "abandoned"
    assert effects.count == {f"ab-{durable}": 1}
    assert world.sim.tool_outputs(first.run_id) == []  # nothing got in
    assert world.sim.runs[first.run_id].status == "requires_action"

    world.sim.faults.clear()
    second = controller.drive(thread_id=thread, run_id=first.run_id)

    assert second.status == "completed"
    assert effects.count == {f"ab-{durable}": 1}  # never run again
    (call,) = second.tool_calls
    assert call.state == CallState.DELIVERED
    assert [[o.tool_call_id for o in r] for r in world.sim.tool_outputs(first.run_id)] == [
        [call.id]
    ]
    if store is not None:
        store.close()
