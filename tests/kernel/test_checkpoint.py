"""A drive moved elsewhere through its checkpoint, and a drive that only watches."""

from __future__ import annotations

import json
from typing import Any

from lifecycle import CallState
from lifecycle.kernel import (
    AssistantsBinding,
    ControllerConfig,
    Drive,
    DriveCheckpoint,
    EndingKind,
    Sleep,
)
from tests.kernel.conftest import CountingTools
from tests.kernel.script import START, THREAD, Script, drive, run

CALL = ("call_1", "add", '{"a": 1, "b": 2}')


class Flag:
    cancelled = False


def test_a_checkpoint_taken_mid_drive_continues_elsewhere_without_rerunning_a_tool(
    calc_tools: CountingTools,
) -> None:
    """Pump a drive through a tool round to a wait, checkpoint it (as JSON), continue it in a
    new drive: the counters and the deadline clock go on, the tool is not run again."""
    first = drive(tools=calc_tools, overall_timeout_s=100.0)
    script = Script().add(
        run("requires_action", calls=[CALL]), run("queued"), run("in_progress"), run("in_progress")
    )
    flow = first.attach()
    request = next(flow)
    sleeps = 0
    while True:
        if isinstance(request, Sleep):
            sleeps += 1
            if sleeps == 2:
                break
        script.log.append(request)
        request = flow.send(script.reply(request))
    point = first.checkpoint()
    flow.close()
    data = json.loads(json.dumps(point.to_dict()))  # it crosses a process boundary as JSON

    second = Drive(
        AssistantsBinding(),
        config=ControllerConfig(overall_timeout_s=100.0, fetch_messages=False),
        scope=THREAD,
        now=script.now,
        wall=START + script.now,
        tools=calc_tools,
    )
    rest = Script(now=script.now).add(run("in_progress"), run("completed"))
    result = rest.play(second.continue_from(DriveCheckpoint.from_dict(data)))
    assert result.ending.status == "completed"
    assert calc_tools.runs["add"] == 1
    assert result.ledger.state_of("call_1") is CallState.DELIVERED
    assert result.requests == point.requests + len(rest.calls())
    assert second.started == first.started  # the overall deadline counts from the first start
    # the journal goes on across the move: one history, nothing repeated
    assert [e.dest for e in result.history] == [
        "in_progress",
        "requires_action",
        "queued",
        "in_progress",
        "completed",
    ]


def test_a_watcher_never_acts_on_the_run(calc_tools: CountingTools) -> None:
    """observe_only: a requires_action is not answered, no tool runs, a deadline ends the watch
    without a cancel."""
    d = drive(tools=calc_tools, deadlines={"requires_action": 1.0})
    d.observe_only = True
    script = Script().add(*[run("requires_action", calls=[CALL])] * 30)
    result = script.play(d.attach())
    assert result.ending.kind is EndingKind.DEADLINE
    assert result.ending.deadline == "requires_action"
    assert calc_tools.runs["add"] == 0
    assert set(script.ops()) == {"retrieve"}
    assert len(result.ledger) == 0


def test_a_watcher_stops_when_asked() -> None:
    d = drive()
    d.observe_only = True
    flag: Any = Flag()
    d.cancel_signal = flag
    script = Script().add(run("in_progress"), run("in_progress"))
    flow = d.attach()
    request = next(flow)
    script.log.append(request)
    request = flow.send(script.reply(request))
    flag.cancelled = True
    result = script.play_from(flow, request)
    assert result.ending.kind is EndingKind.INTERRUPTED
    assert "cancel" not in script.ops()
