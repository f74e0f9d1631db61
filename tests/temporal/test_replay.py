"""Replay: histories recorded by earlier versions of the workflow replay with the current code.

``histories/*.json`` were recorded from real runs on the dev server (``LIFECYCLE_RECORD_HISTORIES=1
python -m pytest tests/temporal/test_workflow.py`` writes them again). A change to the workflow
or to the kernel that makes a different request for the same replies, reads a clock, draws other
randomness or reorders activities fails here with a ``NondeterminismError``, before it can strand
the runs in flight on a deployed cluster. Each history is replayed with the registry it was served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory

from adapters.temporal import replayer
from lifecycle import ToolRegistry
from tests.temporal.helpers import HISTORIES
from tests.temporal.tools import ORDER_TOOLS, SALES

Aio = Callable[[Awaitable[Any]], Any]

#: the registry each recorded history was served
SERVED: dict[str, ToolRegistry] = {
    "assistants_order_total": ORDER_TOOLS,
    "assistants_cancelled": ORDER_TOOLS,
    "responses_order_total": ORDER_TOOLS,
    "assistants_continued_last_run": SALES,
}


def test_every_recorded_history_is_known() -> None:
    """A history recorded without an entry in SERVED would never be replayed."""
    assert sorted(p.stem for p in HISTORIES.glob("*.json")) == sorted(SERVED)


@pytest.mark.parametrize("name", sorted(SERVED))
def test_a_recorded_history_replays_with_the_current_code(name: str, aio: Aio) -> None:
    path: Path = HISTORIES / f"{name}.json"
    history = WorkflowHistory.from_json(f"run-lifecycle-{name}", path.read_text(encoding="utf-8"))
    result = aio(replayer(SERVED[name]).replay_workflow(history, raise_on_replay_failure=True))
    assert result.replay_failure is None
