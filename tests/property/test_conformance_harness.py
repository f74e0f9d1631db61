"""The shipped conformance harness catches a wrong controller and passes a right one."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from lifecycle import ASSISTANTS_RUN, RunLifecycle
from lifecycle.testing import LifecycleConformance


def find(examples: int) -> settings:
    """Search for a counterexample deterministically (a fixed seed, no example database: the
    same outcome on every machine) and report the first one found, unshrunk."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate),
    )


class NaiveTracker:
    """What users often write: take whatever status the server says, if the string is known."""

    def __init__(self) -> None:
        self.state = "queued"

    def on_status(self, status: str) -> None:
        if status in ASSISTANTS_RUN.state_values:
            self.state = status


class CarefulTracker(NaiveTracker):
    """Follow the table: only forward moves, nothing after a terminal status."""

    def on_status(self, status: str) -> None:
        spec = ASSISTANTS_RUN
        if status not in spec.state_values or self.state in spec.terminal_values:
            return
        if ASSISTANTS_RUN.path(self.state, status) is not None:
            self.state = status


class NaiveConformance(LifecycleConformance):
    def make_subject(self) -> Any:
        return NaiveTracker()

    def feed(self, subject: Any, status: str) -> None:
        subject.on_status(status)

    def read_state(self, subject: Any) -> str:
        return str(subject.state)


class CarefulConformance(NaiveConformance):
    def make_subject(self) -> Any:
        return CarefulTracker()


def test_harness_catches_a_tracker_that_accepts_regressions() -> None:
    """The naive tracker moves back on stale reads; the harness finds a counterexample."""
    with pytest.raises(AssertionError, match="the table says"):
        run_state_machine_as_test(NaiveConformance, settings=find(200))


TestCarefulTracker = CarefulConformance.TestCase


class WrappingTracker:
    """A tracker built on the engine itself, with its default (live) ``observe()``."""

    def __init__(self) -> None:
        self.lifecycle = RunLifecycle()

    def on_status(self, status: str) -> None:
        self.lifecycle.observe(status)

    def on_submitted(self, tool_call_ids: list[str]) -> None:
        self.lifecycle.record_submission(tool_call_ids)

    def on_cancel_sent(self) -> None:
        self.lifecycle.request_cancel()

    @property
    def state(self) -> str:
        return str(self.lifecycle.state)


class WrappingConformance(NaiveConformance):
    """The harness as a trace reads statuses (the default): client actions implied."""

    def make_subject(self) -> Any:
        return WrappingTracker()


class LiveWrappingConformance(WrappingConformance):
    """The harness as a live controller judges statuses, playing the client's actions too."""

    assume_client = False

    def submit(self, subject: Any, tool_call_ids: list[str]) -> None:
        subject.on_submitted(tool_call_ids)

    def cancel(self, subject: Any) -> None:
        subject.on_cancel_sent()


class LiveCarefulConformance(CarefulConformance):
    """A tracker that takes every forward move, judged live: it accepts an unsubmitted round."""

    assume_client = False


def test_a_wrapping_tracker_disagrees_with_the_trace_view() -> None:
    """Under the default (a trace's view), a tracker on the live engine rejects the
    ``requires_action -> queued`` the reference takes as our implied submission."""
    with pytest.raises(AssertionError, match="the table says"):
        run_state_machine_as_test(WrappingConformance, settings=find(300))


def test_live_view_catches_a_tracker_that_takes_an_unsubmitted_round() -> None:
    """With ``assume_client = False`` a ``requires_action -> queued`` nobody submitted for is a
    stale read: a tracker that follows every forward edge is caught."""
    with pytest.raises(AssertionError, match="the table says"):
        run_state_machine_as_test(LiveCarefulConformance, settings=find(300))


def test_live_view_plays_the_client_for_submits_and_cancels() -> None:
    """In the live view the harness submits and cancels: the reference leaves
    ``requires_action`` through our submission and enters ``cancelling`` through our cancel."""
    machine = LiveWrappingConformance()
    machine.reference.observe("in_progress")
    machine.reference.observe("requires_action")
    machine.client_submits()
    machine.reference.observe("queued")
    machine.client_cancels()
    machine.reference.observe("cancelling")
    assert [e.dest for e in machine.reference.history] == [
        "in_progress",
        "requires_action",
        "queued",
        "cancelling",
    ]
    assert not machine.reference.anomalies
    assert machine.subject.lifecycle.cancel_requested


TestWrappingTrackerLive = LiveWrappingConformance.TestCase
