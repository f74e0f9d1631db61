"""Waits between polls may be ended by a pushed event (a verified webhook about the run)."""

from __future__ import annotations

from lifecycle.kernel import Reply, Sleep
from tests.kernel.script import START, Script, drive, run


class WakingScript(Script):
    """Answers the first wait between polls as if a webhook ended it."""

    woke = False

    def reply(self, request: object) -> Reply:
        answer = super().reply(request)  # type: ignore[arg-type]
        if isinstance(request, Sleep) and request.wake_on and not self.woke:
            self.woke = True
            return Reply(True, None, self.now, START + self.now)
        return answer


def test_poll_waits_name_the_run_and_a_woken_wait_polls_via_webhook() -> None:
    script = WakingScript().add(run("in_progress"), run("completed"))
    result = script.play(drive().attach())
    waits = [r for r in script.log if isinstance(r, Sleep)]
    assert waits
    assert {w.wake_on for w in waits} == {"run_1"}
    assert [(e.dest, e.via) for e in result.history][-1] == ("completed", "webhook")


def test_retry_waits_are_never_woken() -> None:
    """A retry's backoff is not a wait for news: only waits between polls name the run."""
    from tests.kernel.script import http_error

    script = Script().add(http_error(503), run("completed"))
    script.play(drive().attach())
    waits = [r for r in script.log if isinstance(r, Sleep)]
    assert waits
    assert all(w.wake_on == "" for w in waits)
