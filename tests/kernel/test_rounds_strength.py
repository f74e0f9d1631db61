"""Gaps found by mutation testing in the kernel's tool rounds (issue 14; docs/mutation.md).

* a lost submit that the server took only in part is not delivered: the outputs go again;
* a delivery is saved as soon as it is known, before the next request (a crash right after it
  must find it in the store), whether the submit's answer said so or a reconcile found it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lifecycle import CallState
from lifecycle.kernel import ApiCall, EndingKind, Failure, FailureKind, Reply, Request, SaveRun
from tests.kernel.conftest import CountingTools
from tests.kernel.script import Script, drive, http_error, ok, run

CALLS = [("call_1", "add", '{"a": 1, "b": 2}'), ("call_2", "add", '{"a": 3, "b": 4}')]


@dataclass
class Recording(Script):
    """A script that also keeps, for every ``SaveRun``, its place in the log and the ledger's
    states as they were when it was written (the request carries the live ledger)."""

    saved: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    def reply(self, request: Request) -> Reply:
        if isinstance(request, SaveRun):
            states = {k: e.state.value for k, e in request.ledger.entries.items()}
            self.saved.append((len(self.log) - 1, states))
        return super().reply(request)

    def index(self, op: str, start: int = 0) -> int:
        """The log index of the first API call ``op`` at or after ``start``."""
        for i in range(start, len(self.log)):
            request = self.log[i]
            if isinstance(request, ApiCall) and request.op == op:
                return i
        raise AssertionError(f"no {op} after {start}")

    def next_call(self, after: int) -> int:
        """The log index of the first API call after ``after``."""
        for i in range(after + 1, len(self.log)):
            if isinstance(self.log[i], ApiCall):
                return i
        return len(self.log)

    def saves_between(self, start: int, end: int) -> list[dict[str, str]]:
        return [states for i, states in self.saved if start < i < end]


def _step(outputs: dict[str, str | None]) -> dict[str, Any]:
    """A tool_calls run step holding ``outputs`` (``None``: listed, no output yet)."""
    return {
        "id": "step_1",
        "type": "tool_calls",
        "status": "in_progress",
        "step_details": {
            "type": "tool_calls",
            "tool_calls": [
                {"id": cid, "type": "function", "function": {"name": "add", "output": out}}
                for cid, out in outputs.items()
            ],
        },
    }


def test_a_lost_submit_the_server_took_in_part_is_not_delivered(
    calc_tools: CountingTools,
) -> None:
    """The submit's answer is lost; the run still waits and its step holds one output of two:
    the round is not delivered, the outputs are submitted again (the tools never run again), and
    only the accepted second submit delivers them."""
    d = drive(tools=calc_tools, durable=True)
    script = Recording()
    script.add(
        run("requires_action", calls=CALLS),
        http_error(500),  # the submit: the answer is lost
        run("requires_action", calls=CALLS),  # the reconcile's read: still waiting
        ok({"object": "list", "data": [_step({"call_1": "3", "call_2": None})]}),
        run("queued"),  # the second submit's answer
        run("completed"),
    )
    result = script.play(d.attach())
    first = script.index("submit")
    second = script.index("submit", first + 1)
    assert all(s["call_2"] != "delivered" for s in script.saves_between(first, second))
    assert calc_tools.runs["add"] == 2  # each call ran once
    assert result.ending.kind is EndingKind.TERMINAL
    assert result.ledger.state_of("call_1") is CallState.DELIVERED
    assert result.ledger.state_of("call_2") is CallState.DELIVERED


def test_an_accepted_submit_is_saved_before_the_next_request(calc_tools: CountingTools) -> None:
    """A 2xx to the submit whose body is unreadable (the next poll tells the status): the
    delivery is saved at once, before the next read."""
    d = drive(tools=calc_tools, durable=True)
    script = Recording()
    script.add(
        run("requires_action", calls=CALLS[:1]),
        ok(b"<html>accepted</html>"),  # the submit: accepted, the body unreadable
        run("in_progress"),
        run("completed"),
    )
    result = script.play(d.attach())
    submit = script.index("submit")
    saves = script.saves_between(submit, script.next_call(submit))
    assert saves, "no save between the accepted submit and the next request"
    assert saves[0]["call_1"] == "delivered"
    assert result.ledger.state_of("call_1") is CallState.DELIVERED
    assert len([c for c in script.calls() if c.op == "submit"]) == 1


def test_a_submit_found_delivered_by_a_reconcile_is_saved_before_the_next_request(
    calc_tools: CountingTools,
) -> None:
    """The submit's answer is lost and the run step shows the output got in: the delivery is
    saved before the drive reads the run again (nothing is resent)."""
    d = drive(tools=calc_tools, durable=True)
    script = Recording()
    script.add(
        run("requires_action", calls=CALLS[:1]),
        Failure(FailureKind.TIMEOUT, message="timed out"),  # the submit: answer lost
        run("requires_action", calls=CALLS[:1]),  # a stale read: the step is the authority
        ok({"object": "list", "data": [_step({"call_1": "3"})]}),
        run("completed"),
    )
    result = script.play(d.attach())
    listing = script.index("list_steps", script.index("submit"))
    saves = script.saves_between(listing, script.next_call(listing))
    assert saves, "no save between the reconcile and the next request"
    assert saves[-1]["call_1"] == "delivered"
    assert len([c for c in script.calls() if c.op == "submit"]) == 1
    assert result.ledger.state_of("call_1") is CallState.DELIVERED
