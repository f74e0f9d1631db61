"""Gaps found by mutation testing in the kernel's request layer and schedule (issue 14;
docs/mutation.md): a read is retried exactly up to its attempts, a mutating request is resent
after a clear refusal but never after an unknown outcome, a stream request answered with JSON is
a fallback, a failure names its operation, and the server's retry-after (milliseconds first)
and the jittered backoff bound every wait."""

from __future__ import annotations

import logging
import random

import pytest

from lifecycle.kernel import (
    CallFailed,
    ControllerConfig,
    Failure,
    FailureKind,
    HttpRequest,
    HttpResponse,
    Notice,
    RetryPolicy,
)
from lifecycle.kernel._calls import call, parse, retryable
from lifecycle.kernel._errors import OutcomeUnknown
from lifecycle.kernel._schedule import PollSchedule, retry_after, retry_delay
from tests.kernel.script import Script, drive, http_error, ok, run, run_body

GET = HttpRequest("GET", "/threads/thread_1/runs/run_1")
POST = HttpRequest("POST", "/threads/thread_1/runs/run_1/cancel")
LOST = Failure(FailureKind.TIMEOUT, message="timed out")


def _policy(attempts: int = 3) -> RetryPolicy:
    return RetryPolicy(max_attempts=attempts, base_s=0.5, cap_s=0.5)


def test_a_read_is_sent_exactly_max_attempts_times_then_fails_naming_its_op() -> None:
    d = drive(retry=_policy(3))
    script = Script().add(http_error(503), LOST, http_error(502), run("queued"))
    with pytest.raises(CallFailed) as info:
        script.play(call(d, "retrieve", GET))
    assert info.value.op == "retrieve"
    assert info.value.failure.status == 502
    assert [c.mutating for c in script.calls()] == [False, False, False]
    assert len(script.sleeps()) == 2
    retries = [n for n in script.emitted(Notice) if n.message == "retry"]
    assert [(n.level, n.fields["op"]) for n in retries] == [(logging.INFO, "retrieve")] * 2
    assert [n.fields["delay_s"] for n in retries] == script.sleeps()
    assert "http_503" in str(retries[0].fields["error"])
    assert d.requests == 3


def test_a_read_whose_answer_is_lost_is_simply_sent_again() -> None:
    """Not mutating (the default): a lost answer is retried, no outcome is unknown."""
    d = drive(retry=_policy(3))
    script = Script().add(LOST, run("queued"))
    value: object = script.play(call(d, "retrieve", GET))
    assert isinstance(value, HttpResponse)
    assert value.status == 200
    assert script.ops() == ["retrieve", "retrieve"]
    assert [n.message for n in script.emitted(Notice)] == ["retry"]


def test_a_mutating_request_is_resent_after_a_rate_limit_but_not_after_a_lost_answer() -> None:
    d = drive(retry=_policy(3))
    script = Script().add(http_error(429), ok(run_body("cancelling")))
    script.play(call(d, "cancel", POST, mutating=True))
    assert script.ops() == ["cancel", "cancel"]
    assert all(c.mutating for c in script.calls())

    lost = Script().add(LOST)
    with pytest.raises(OutcomeUnknown) as info:
        lost.play(call(drive(retry=_policy(3)), "cancel", POST, mutating=True))
    assert info.value.op == "cancel"
    (note,) = lost.emitted(Notice)
    assert (note.level, note.message, note.fields["op"]) == (
        logging.WARNING,
        "outcome unknown",
        "cancel",
    )
    assert note.fields["error"] == "timeout"


def test_a_stream_request_answered_with_json_falls_back_to_polling() -> None:
    d = drive(stream=True)
    stream = HttpRequest("POST", "/threads/thread_1/runs", stream=True)
    script = Script().add(ok(run_body("queued")))
    value: object = script.play(call(d, "create", stream))
    assert isinstance(value, HttpResponse)
    assert value.status == 200
    assert (d.stream_fallbacks, d.streaming) == (1, False)
    (note,) = script.emitted(Notice)
    assert note.fields["why"] == "the server answered a stream request with JSON"


def test_parse_refuses_what_is_not_an_object_answer_as_a_parse_failure() -> None:
    binding = drive().binding
    with pytest.raises(CallFailed) as info:
        parse(binding, None)
    assert (info.value.op, info.value.failure.kind) == ("parse", FailureKind.MALFORMED)
    assert info.value.failure.message == "not a response"
    with pytest.raises(CallFailed) as garbage:
        parse(binding, ok(b"<html>bad gateway</html>"))
    assert garbage.value.op == "parse"
    assert garbage.value.failure.kind is FailureKind.MALFORMED


def test_retryable_statuses() -> None:
    policy = RetryPolicy()
    assert retryable(policy, Failure(FailureKind.STATUS, status=500))
    assert retryable(policy, Failure(FailureKind.STATUS, status=429))
    assert not retryable(policy, Failure(FailureKind.STATUS, status=400))
    assert not retryable(policy, Failure(FailureKind.STATUS, status=None))
    assert retryable(policy, LOST)
    assert not retryable(policy, Failure(FailureKind.MALFORMED))


def test_retry_after_prefers_milliseconds_and_scales_them() -> None:
    policy = RetryPolicy(max_retry_after_s=60.0)
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}, policy) == 1.5
    assert retry_after({"retry-after": "9"}, policy) == 9.0
    assert retry_after({"retry-after-ms": "999999"}, policy) == 60.0
    assert retry_after({"retry-after-ms": "500"}, policy) == 0.5  # no floor of a second
    assert retry_after({}, policy) is None


@pytest.mark.parametrize("attempt", [1, 2, 3, 4])
def test_the_jittered_backoff_doubles_per_attempt_up_to_the_cap(attempt: int) -> None:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)]; the bound is reached."""
    policy = RetryPolicy(base_s=0.25, cap_s=100.0)
    rng = random.Random(7)
    waits = [retry_delay(None, attempt, policy, rng) for _ in range(2000)]
    bound = 0.25 * 2**attempt
    assert max(waits) <= bound
    assert max(waits) > 0.9 * bound
    capped = RetryPolicy(base_s=0.25, cap_s=0.3)
    assert max(retry_delay(None, attempt, capped, rng) for _ in range(500)) <= 0.3


def test_a_request_refused_outright_is_not_retried_and_names_its_op() -> None:
    script = Script().add(http_error(400), run("queued"))
    with pytest.raises(CallFailed) as info:
        script.play(call(drive(retry=_policy(3)), "retrieve", GET))
    assert (info.value.op, info.value.failure.status) == ("retrieve", 400)
    assert script.ops() == ["retrieve"]


def test_a_fresh_schedule_polls_at_once() -> None:
    assert PollSchedule(ControllerConfig()).wait == 0.0
