"""Gaps found by mutation testing in the kernel's stream reading (issue 14; docs/mutation.md): a
dropped stream is resumed at most ``MAX_RESUMES`` times, each old handle closed, only after a
numbered event and while the response is live; a failed or refused resume, a drop before any
numbered event, an error event and a stream that ends early all fall back to polling once, with
one warning that says why; the idle timeout is the configured one."""

from __future__ import annotations

import logging
from typing import Any

from lifecycle.kernel import (
    ApiCall,
    CloseStream,
    Drive,
    Failure,
    FailureKind,
    NextEvent,
    Notice,
    RetryPolicy,
    SseEvent,
    StreamOpened,
)
from lifecycle.kernel._stream import MAX_RESUMES
from tests.kernel.script import Script, chain_drive, http_error, ok
from tests.kernel.test_responses import ARGS, answer, response

DROP = Failure(FailureKind.STREAM, message="dropped")


def _drive(**config: Any) -> Drive:
    return chain_drive(stream=True, **config)


def _event(kind: str, seq: int | None, status: str | None = None) -> SseEvent:
    data: dict[str, Any] = {"type": kind}
    if seq is not None:
        data["sequence_number"] = seq
    if status is not None:
        data["response"] = response(status, output=answer("ok") if status == "completed" else [])
    return SseEvent(kind, data)


def _notes(script: Script) -> list[tuple[int, str]]:
    return [(n.level, n.message) for n in script.emitted(Notice)]


def _closed(script: Script) -> list[Any]:
    return [r.handle for r in script.log if isinstance(r, CloseStream)]


def _resumes(script: Script) -> list[ApiCall]:
    return [c for c in script.calls() if c.op == "resume_stream"]


def test_a_stream_dropping_again_and_again_is_resumed_max_resumes_times_then_polled() -> None:
    script = Script().add(
        StreamOpened("s0"),
        *(StreamOpened(f"s{i}") for i in range(1, MAX_RESUMES + 1)),
        ok(response("completed", output=answer("ok"))),
    )
    script.events.extend([_event("response.created", 0, "queued"), DROP])
    for i in range(1, MAX_RESUMES + 1):
        script.events.extend([_event("response.in_progress", i, "in_progress"), DROP])
    result = script.play(_drive().create(ARGS, op_id="op_1"))
    resumes = _resumes(script)
    assert len(resumes) == MAX_RESUMES
    assert [dict(c.http.query)["starting_after"] for c in resumes] == list(range(MAX_RESUMES))
    assert _closed(script) == [f"s{i}" for i in range(MAX_RESUMES + 1)]
    assert result.stream_fallbacks == 1
    assert result.ending.status == "completed"
    resumed = [n for n in script.emitted(Notice) if n.message == "stream resumed"]
    assert [(n.level, n.fields["after"]) for n in resumed] == [
        (logging.INFO, i) for i in range(MAX_RESUMES)
    ]
    assert (logging.WARNING, "stream dropped (stream)") in _notes(script)


def test_every_read_waits_the_configured_idle_timeout_on_the_current_handle() -> None:
    script = Script().add(StreamOpened("s0"), StreamOpened("s1"))
    script.events.extend(
        [
            _event("response.created", 0, "queued"),
            DROP,
            _event("response.completed", 1, "completed"),
        ]
    )
    result = script.play(_drive(stream_idle_timeout_s=7.5).create(ARGS, op_id="op_1"))
    reads = [r for r in script.log if isinstance(r, NextEvent)]
    assert [r.handle for r in reads] == ["s0", "s0", "s1", "s1"]  # the last one: the end
    assert {r.idle_timeout for r in reads} == {7.5}
    assert result.stream_fallbacks == 0
    assert _closed(script) == ["s0", "s1"]


def test_a_drop_before_any_numbered_event_is_not_resumed() -> None:
    script = Script().add(StreamOpened("s0"), ok(response("completed", output=answer("ok"))))
    script.events.extend([_event("response.created", None, "queued"), DROP])
    result = script.play(_drive().create(ARGS, op_id="op_1"))
    assert _resumes(script) == []
    assert result.stream_fallbacks == 1
    assert script.ops() == ["create", "retrieve"]


def test_a_failed_resume_falls_back_to_polling_with_its_reason() -> None:
    script = Script().add(
        StreamOpened("s0"), http_error(503), ok(response("completed", output=answer("ok")))
    )
    script.events.extend([_event("response.created", 0, "queued"), DROP])
    result = script.play(_drive(retry=RetryPolicy(max_attempts=1)).create(ARGS, op_id="op_1"))
    (failed,) = [n for n in script.emitted(Notice) if n.message == "stream resume failed"]
    assert failed.level == logging.WARNING
    assert "http_503" in str(failed.fields["error"])
    assert result.stream_fallbacks == 1
    assert result.ending.status == "completed"


def test_a_resume_answered_with_the_object_instead_of_a_stream_is_polled() -> None:
    script = Script().add(
        StreamOpened("s0"),
        ok(response("in_progress")),
        ok(response("completed", output=answer("ok"))),
    )
    script.events.extend([_event("response.created", 0, "queued"), DROP])
    result = script.play(_drive().create(ARGS, op_id="op_1"))
    assert len(_resumes(script)) == 1
    assert result.stream_fallbacks == 1
    assert "stream resumed" not in [m for _, m in _notes(script)]


def test_an_error_event_ends_the_stream_and_polling_takes_over() -> None:
    script = Script().add(StreamOpened("s0"), ok(response("completed", output=answer("ok"))))
    script.events.extend(
        [
            _event("response.created", 0, "queued"),
            SseEvent("error", {"type": "error", "message": "overloaded", "sequence_number": 1}),
            _event("response.completed", 2, "completed"),  # never read
        ]
    )
    result = script.play(_drive().create(ARGS, op_id="op_1"))
    assert result.stream_fallbacks == 1
    why, fallback = [m for level, m in _notes(script) if level == logging.WARNING]
    assert why == "stream sent an error or garbage (error event)"
    assert fallback == "no stream; polling instead"
    assert _resumes(script) == []


def test_a_stream_ending_before_the_response_settles_is_polled_at_once() -> None:
    script = Script().add(StreamOpened("s0"), ok(response("completed", output=answer("ok"))))
    script.events.extend([_event("response.created", 0, "queued")])
    result = script.play(_drive().create(ARGS, op_id="op_1"))
    assert (logging.WARNING, "the stream ended before the run settled") in _notes(script)
    assert result.stream_fallbacks == 1
    kinds = [k for k in script.kinds() if k not in ("Emit",)]
    after_close = kinds[kinds.index("CloseStream") + 1 :]
    assert after_close[0] == "retrieve"  # no wait first


def test_a_stream_read_to_the_end_needs_no_note_and_no_fallback() -> None:
    script = Script().add(StreamOpened("s0"))
    script.events.extend(
        [_event("response.created", 0, "queued"), _event("response.completed", 1, "completed")]
    )
    result = script.play(_drive().create(ARGS, op_id="op_1"))
    assert result.stream_fallbacks == 0
    assert {e.via for e in result.history} == {"stream"}
    assert [level for level, _ in _notes(script) if level >= logging.WARNING] == []
    assert _closed(script) == ["s0"]
    assert script.ops() == ["create"]
