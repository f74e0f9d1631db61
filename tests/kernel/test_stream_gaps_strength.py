"""Gaps found by the second mutation run in the kernel's stream reading (issue 14;
docs/mutation.md), mostly around deadlines (a stream is read in steps whose idle timeout is cut
at the next deadline):

* each read waits at most until the deadline (``min(idle, deadline - now)``, however little is
  left), and none is asked for once the deadline is reached;
* a read that fails at the deadline (within a microsecond of it) was cut by it: the stream is
  closed without resuming it or falling back to polling, and the follow loop acts on the
  deadline (one cancel);
* a read that fails before the deadline, or whose full idle timeout fitted before it, is a drop
  (resumed, or polling takes over);
* a submit's stream cut at a deadline before it named the next response ends the drive
  ``outcome_unknown`` (``next_response``): the previous response is not cancelled;
* a submit's stream follows the next response it names (a chain's new object);
* a resume that failed never reads the closed handle again;
* a resume is asked for the drive's own scope.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from lifecycle import CallState
from lifecycle.kernel import (
    END_OF_STREAM,
    CloseStream,
    Drive,
    EndingKind,
    Failure,
    HttpRequest,
    NextEvent,
    Reply,
    Request,
    ResponsesBinding,
    RetryPolicy,
    SseEvent,
    StreamOpened,
)
from tests.kernel.conftest import CountingTools
from tests.kernel.script import START, Script, http_error, ok
from tests.kernel.test_responses import ARGS, CALL, answer, response
from tests.kernel.test_stream_strength import DROP, _drive, _event

Item = SseEvent | Failure | object  # an event, a failed read, or END_OF_STREAM


@dataclass
class Timed(Script):
    """A script whose stream reads take time: ``timeline`` holds ``(clock, item)`` pairs, each
    read answered with its item at that clock reading (then the plain ``events``)."""

    timeline: deque[tuple[float, Item]] = field(default_factory=deque)

    def reply(self, request: Request) -> Reply:
        if isinstance(request, NextEvent) and self.timeline:
            when, item = self.timeline.popleft()
            self.now = when
            if isinstance(item, SseEvent | Failure):
                self.events.appendleft(item)
            else:  # the end of the stream, with more (another stream's events) queued
                return Reply(item, None, self.now, START + self.now)
        return super().reply(request)


def _reads(script: Script) -> list[float]:
    """The idle timeout of every stream read, in order."""
    return [r.idle_timeout for r in script.log if isinstance(r, NextEvent)]


def _delta(seq: int) -> SseEvent:
    """An event that only moves the stream's position."""
    return _event("response.output_text.delta", seq)


def _ops(script: Script) -> list[str]:
    return [c.op for c in script.calls()]


CANCELLED = ok(response("cancelled"))


def test_every_read_is_cut_at_the_deadline_however_little_is_left() -> None:
    """Overall deadline at 5.5 s, idle timeout 60 s, one event a second: each read waits
    what is left (5.5, 4.5 ... 0.5 s); the read cut at the deadline closes the stream, which
    is neither resumed nor replaced by polling; the loop cancels the response once."""
    script = Timed(
        timeline=deque(
            [
                (1.0, _event("response.created", 0, "queued")),
                (2.0, _event("response.in_progress", 1, "in_progress")),
                (3.0, _delta(2)),
                (4.0, _delta(3)),
                (5.0, _delta(4)),
                (5.5, DROP),  # the read cut at the deadline
            ]
        )
    ).add(StreamOpened("s0"), CANCELLED)
    drive = _drive(overall_timeout_s=5.5, stream_idle_timeout_s=60.0)
    result = script.play(drive.create(ARGS, op_id="op_1"))
    assert _reads(script) == [5.5, 4.5, 3.5, 2.5, 1.5, 0.5]
    assert _ops(script) == ["create", "cancel"]
    assert result.stream_fallbacks == 0
    assert result.ending.kind is EndingKind.DEADLINE
    assert result.ending.deadline == "overall"


def test_no_read_is_asked_for_once_the_deadline_is_reached() -> None:
    script = Timed(
        timeline=deque(
            [
                (2.5, _event("response.created", 0, "queued")),
                (5.0, _event("response.in_progress", 1, "in_progress")),  # at the deadline
            ]
        )
    ).add(StreamOpened("s0"), CANCELLED)
    result = script.play(_drive(overall_timeout_s=5.0).create(ARGS, op_id="op_1"))
    assert _reads(script) == [5.0, 2.5]
    assert [r.handle for r in script.log if isinstance(r, CloseStream)] == ["s0"]
    assert _ops(script) == ["create", "cancel"]
    assert result.stream_fallbacks == 0
    assert result.ending.deadline == "overall"


def test_a_read_failing_within_a_microsecond_of_the_deadline_was_cut_by_it() -> None:
    at = 5.0
    script = Timed(
        timeline=deque([(1.0, _event("response.created", 0, "queued")), (at - 1e-6, DROP)])
    ).add(StreamOpened("s0"), CANCELLED, CANCELLED)
    result = script.play(_drive(overall_timeout_s=at).create(ARGS, op_id="op_1"))
    assert "resume_stream" not in _ops(script)
    assert [r.handle for r in script.log if isinstance(r, CloseStream)] == ["s0"]
    assert result.stream_fallbacks == 0


def test_a_read_failing_before_the_deadline_is_a_drop_and_is_resumed() -> None:
    """Half a second before the deadline (a read cut to 4 s failed after 3.5 s): the stream
    dropped; it is resumed and read for the half second left."""
    script = Timed(
        timeline=deque([(1.0, _event("response.created", 0, "queued")), (4.5, DROP)])
    ).add(StreamOpened("s0"), StreamOpened("s1"), CANCELLED, CANCELLED)
    script.play(_drive(overall_timeout_s=5.0).create(ARGS, op_id="op_1"))
    assert _ops(script)[:2] == ["create", "resume_stream"]
    assert _reads(script)[:3] == [5.0, 4.0, 0.5]
    reads = [r.handle for r in script.log if isinstance(r, NextEvent)]
    assert reads[:3] == ["s0", "s0", "s1"]


def test_a_read_whose_whole_idle_timeout_fitted_before_the_deadline_failed_as_a_drop() -> None:
    """The idle timeout (4 s) is not cut by the deadline (4 s away): a read that fails then
    is the stream going silent, not the deadline; polling takes over (no numbered event to
    resume after), and the loop still acts on the deadline."""
    script = Timed(
        timeline=deque([(1.0, _event("response.created", None, "queued")), (5.0, DROP)])
    ).add(StreamOpened("s0"), CANCELLED, CANCELLED)
    drive = _drive(overall_timeout_s=5.0, stream_idle_timeout_s=4.0)
    result = script.play(drive.create(ARGS, op_id="op_1"))
    assert _reads(script) == [4.0, 4.0]
    assert result.stream_fallbacks == 1
    assert "resume_stream" not in _ops(script)
    assert result.ending.deadline == "overall"


# -- a submit's stream (a chain's next response) -----------------------------------------------


def _chain(tools: CountingTools, **config: Any) -> Drive:
    drive = _drive(**config)
    drive.tools = tools
    return drive


def _first_response() -> list[tuple[float, Item]]:
    """The first response's stream: created, then a function call (the round), then its end."""
    return [
        (1.0, _event("response.created", 0, "queued")),
        (
            2.0,
            SseEvent(
                "response.completed",
                {
                    "type": "response.completed",
                    "sequence_number": 1,
                    "response": response("completed", output=[CALL]),
                },
            ),
        ),
        (2.0, END_OF_STREAM),
    ]


def test_a_submits_stream_follows_the_next_response_it_names(calc_tools: CountingTools) -> None:
    script = Timed(timeline=deque(_first_response())).add(StreamOpened("s0"), StreamOpened("s1"))
    next_created = response("queued", rid="resp_2")
    next_done = response("completed", rid="resp_2", output=answer("3"))
    script.events.extend(
        [
            SseEvent(
                "response.created",
                {"type": "response.created", "sequence_number": 0, "response": next_created},
            ),
            SseEvent(
                "response.completed",
                {"type": "response.completed", "sequence_number": 1, "response": next_done},
            ),
        ]
    )
    result = script.play(_chain(calc_tools).create(ARGS, op_id="op_1"))
    assert result.object_ids == ("resp_1", "resp_2")
    assert result.ending.status == "completed"
    assert result.stream_fallbacks == 0
    assert _ops(script) == ["create", "submit"]
    assert result.ledger.state_of("call_1") is CallState.DELIVERED
    reads = [r.handle for r in script.log if isinstance(r, NextEvent)]
    assert reads == ["s0", "s0", "s0", "s1", "s1", "s1"]  # two events and the end, each
    assert [(e.source, e.dest, e.via) for e in result.history][-3:] == [
        ("requires_action", "queued", "client"),
        ("queued", "in_progress", "stream"),  # inferred: the stream skipped it
        ("in_progress", "completed", "stream"),
    ]


def test_a_submits_stream_cut_at_a_deadline_before_naming_the_next_response(
    calc_tools: CountingTools,
) -> None:
    """The next response's id never arrived before the deadline: the drive cannot name what
    its submit started, so it ends ``outcome_unknown`` and cancels nothing (the previous
    response is not the one running)."""
    timeline = [*_first_response(), (5.0, DROP)]  # s1 is cut at the deadline
    script = Timed(timeline=deque(timeline)).add(StreamOpened("s0"), StreamOpened("s1"))
    result = script.play(_chain(calc_tools, overall_timeout_s=5.0).create(ARGS, op_id="op_1"))
    assert result.ending.kind is EndingKind.OUTCOME_UNKNOWN
    assert result.ending.detail == "next_response"
    assert _ops(script) == ["create", "submit"]
    assert result.object_ids == ("resp_1",)


# -- resuming ----------------------------------------------------------------------------------


def test_a_failed_resume_never_reads_the_closed_handle_again() -> None:
    for refusal in (http_error(503), ok(response("in_progress"))):
        script = Script().add(
            StreamOpened("s0"), refusal, ok(response("completed", output=answer("ok")))
        )
        script.events.extend(
            [
                _event("response.created", 0, "queued"),
                DROP,
                _event("response.completed", 1, "completed"),  # never read: s0 is closed
            ]
        )
        drive = _drive(retry=RetryPolicy(max_attempts=1))
        result = script.play(drive.create(ARGS, op_id="op_1"))
        assert [r.handle for r in script.log if isinstance(r, NextEvent)] == ["s0", "s0"]
        assert _ops(script) == ["create", "resume_stream", "retrieve"]
        assert result.stream_fallbacks == 1


def test_a_resume_is_asked_for_the_drives_scope() -> None:
    asked: list[tuple[str, str, int]] = []

    class Recording(ResponsesBinding):
        def resume_stream(self, scope: str, run_id: str, after: int) -> HttpRequest | None:
            asked.append((scope, run_id, after))
            return super().resume_stream(scope, run_id, after)

    drive = _drive()
    drive.binding = Recording()
    script = Script().add(StreamOpened("s0"), StreamOpened("s1"))
    script.events.extend(
        [
            _event("response.created", 0, "queued"),
            DROP,
            _event("response.completed", 1, "completed"),
        ]
    )
    result = script.play(drive.create(ARGS, op_id="op_1"))
    assert asked == [("op_1", "resp_1", 0)]
    assert _ops(script) == ["create", "resume_stream"]
    assert result.ending.status == "completed"
