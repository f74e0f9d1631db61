"""Gaps found by mutation testing in the kernel's follow loop (issue 14; docs/mutation.md): a
watcher stops on the caller's signal (``interrupted``, stopped watching) and on a chain waiting
for its client (``held``, awaiting_client), never acting; the caller's cancel is sent once and
only for a live run; the tool round limit warns with the count and cancels; a create that cannot
be looked up is ``outcome_unknown`` and one that made no run ``not_created``."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lifecycle.kernel import (
    ApiCall,
    EndingKind,
    HttpResponse,
    Notice,
)
from tests.kernel.conftest import CountingTools
from tests.kernel.script import START, Script, chain_drive, drive, ok, run, run_body
from tests.kernel.test_responses import ARGS, CALL, response


@dataclass
class Flag:
    cancelled: bool = False


def test_a_watcher_stops_on_the_callers_signal_without_acting() -> None:
    signal = Flag()
    d = drive(cancel_signal=signal, observe_only=True)

    def flip(call: ApiCall) -> HttpResponse:
        signal.cancelled = True  # the caller stops watching while the run goes on
        return run("in_progress")

    script = Script().add(run("in_progress"), flip)
    result = script.play(d.attach())
    assert (result.ending.kind, result.ending.detail) == (
        EndingKind.INTERRUPTED,
        "stopped watching",
    )
    assert "cancel" not in script.ops()
    assert not result.cancel_requested


def test_a_watched_response_waiting_for_its_client_ends_held() -> None:
    d = chain_drive(run_id="resp_1", observe_only=True)
    script = Script().add(ok(response("completed", output=[CALL])))
    result = script.play(d.attach())
    assert (result.ending.kind, result.ending.detail) == (EndingKind.HELD, "awaiting_client")
    assert script.ops() == ["retrieve"]


def test_the_callers_cancel_is_sent_once_for_a_live_run() -> None:
    signal = Flag(cancelled=True)
    d = drive()
    d.cancel_signal = signal
    script = Script().add(run("in_progress"), run("cancelling"), run("cancelled"))
    result = script.play(d.attach())
    assert script.ops().count("cancel") == 1
    assert result.cancel_requested
    assert result.ending.status == "cancelled"
    (ours,) = [e for e in result.history if e.trigger == "cancel"]
    assert ours.at == START  # journaled at the drive's wall time, as ours
    assert ours.via == "client"


def test_no_cancel_for_a_run_that_already_ended_when_the_signal_is_seen() -> None:
    d = drive()
    d.cancel_signal = Flag(cancelled=True)
    script = Script().add(run("completed"))
    result = script.play(d.attach())
    assert "cancel" not in script.ops()
    assert result.ending.status == "completed"


def test_the_tool_round_limit_warns_with_the_count_and_cancels(calc_tools: CountingTools) -> None:
    calls = [("call_1", "add", '{"a": 1, "b": 2}')]
    again = [("call_2", "add", '{"a": 1, "b": 2}')]
    script = Script().add(
        run("requires_action", calls=calls),
        run("queued"),
        run("requires_action", calls=again),
        run("cancelling"),
        run("cancelled"),
    )
    result = script.play(drive(tools=calc_tools, max_tool_rounds=1).attach())
    (note,) = [n for n in script.emitted(Notice) if n.message == "tool round limit reached"]
    assert (note.level, note.fields["rounds"]) == (logging.WARNING, 1)
    assert script.ops().count("cancel") == 1
    assert calc_tools.runs["add"] == 1
    assert result.ending.deadline == "tool_round_limit"


def test_a_create_that_cannot_be_looked_up_or_made_no_run_ends_so() -> None:
    chain = chain_drive()
    result = Script().play(chain.adopt_create("op_1"))
    assert (result.ending.kind, result.ending.status, result.ending.detail) == (
        EndingKind.OUTCOME_UNKNOWN,
        "",
        "create",
    )
    none = Script().add(ok({"object": "list", "data": []}))
    result = none.play(drive(run_id="").adopt_create("op_1"))
    assert (result.ending.kind, result.ending.status) == (EndingKind.NOT_CREATED, "")


def test_ending_a_waiting_chain_locally_is_journaled_at_the_drives_time() -> None:
    """No cancel request exists for a completed response: the local cancel edge carries the
    drive's wall clock like any move of ours."""
    d = chain_drive(max_tool_rounds=1)
    second = {**CALL, "id": "fc_2", "call_id": "call_2"}
    script = Script().add(
        ok(response("completed", output=[CALL])),
        ok(response("completed", rid="resp_2", output=[second])),
    )
    result = script.play(d.create(ARGS, op_id="op_1"))
    last = result.history[-1]
    assert (last.dest, last.via, last.at) == ("cancelled", "client", START)


def test_no_tool_runs_after_the_callers_cancel_even_if_the_run_still_waits(
    calc_tools: CountingTools,
) -> None:
    """The cancel's answer still shows requires_action (the server is slow to apply it): the
    round is dropped, no tool runs, nothing is submitted."""
    calls = [("call_1", "add", '{"a": 1, "b": 2}')]
    d = drive(tools=calc_tools)
    d.cancel_signal = Flag(cancelled=True)
    script = Script().add(
        run("requires_action", calls=calls),
        ok(run_body("requires_action", calls=calls)),
        run("cancelling"),
        run("cancelled"),
    )
    result = script.play(d.attach())
    assert calc_tools.runs["add"] == 0
    assert "submit" not in script.ops()
    assert result.ending.status == "cancelled"
