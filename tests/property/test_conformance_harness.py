"""The shipped conformance harness catches a wrong controller and passes a right one."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from lifecycle import ASSISTANTS_RUN
from lifecycle.testing import LifecycleConformance


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
        run_state_machine_as_test(
            NaiveConformance, settings=settings(max_examples=200, deadline=None)
        )


TestCarefulTracker = CarefulConformance.TestCase
