"""The sides and workload of ``bench_e2e``: its settings, the scenarios (each step lasting
``--step``), the SDK's own loop and our controller as drivers of one run, the what-if sides, and
the counter of the controller's stream fallbacks."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import openai
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput

from adapters.simulator import (
    Answer,
    CallTools,
    Queue,
    Scenario,
    ToolCallSpec,
    Work,
)
from benchmarks._observe import (
    TOOL_NAME,
    ToolLog,
    make_registry,
)
from benchmarks._schedule_model import WHAT_IF_BACKOFFS
from lifecycle import RunStatus

__all__ = [
    "API_KEY",
    "FALLBACK_MESSAGE",
    "PROFILE_NAMES",
    "REQUESTS_TARGET",
    "SCENARIOS",
    "SIDES",
    "STEP",
    "TARGET_PROFILES",
    "TARGET_SCENARIOS",
    "WALL_TARGET",
    "WHAT_IF_PROFILE",
    "Driver",
    "FallbackCounter",
    "controller_driver",
    "counting_fallbacks",
    "make_driver",
    "make_scenarios",
    "ms",
    "ratio",
    "sdk_driver",
    "what_if_side",
]

STEP = 0.05  # seconds per scenario step on the server
API_KEY = "sk-sim-bench"

#: the server profiles, headline first
PROFILE_NAMES: tuple[str, ...] = ("get-only-poll-after", "no-poll-after", "reference", "no-sse")
#: where the targets apply, and to which scenarios
TARGET_PROFILES: tuple[str, ...] = ("get-only-poll-after", "no-poll-after")
TARGET_SCENARIOS: tuple[str, ...] = ("text", "one-tool", "two-rounds")
WALL_TARGET = 1.25  # controller wall / sdk wall
REQUESTS_TARGET = 1.0  # controller requests / sdk requests
#: the sides every profile runs, in their starting order
SIDES: tuple[str, ...] = ("sdk", "controller-poll", "controller-stream")
WHAT_IF_PROFILE = "no-poll-after"
FALLBACK_MESSAGE = "no stream; polling instead"


def _calls(*labels: str) -> tuple[ToolCallSpec, ...]:
    return tuple(ToolCallSpec.of(TOOL_NAME, {"label": label}) for label in labels)


def make_scenarios(step: float = STEP) -> dict[str, Scenario]:
    """The benchmark scenarios (each server-side step lasts ``step`` seconds), by name."""
    return {
        "text": Scenario((Queue(step), Work(step), Answer("Hello!", step))),
        "one-tool": Scenario(
            (Queue(step), CallTools(_calls("a"), step), Answer("{outputs}", step))
        ),
        "two-rounds": Scenario(
            (
                Queue(step),
                CallTools(_calls("a"), step),
                Queue(step),
                CallTools(_calls("b"), step),
                Answer("{outputs}", step),
            )
        ),
        "parallel-3": Scenario(
            (Queue(step), CallTools(_calls("a", "b", "c"), step), Answer("{outputs}", step))
        ),
    }


#: The scenario names, in the order they are run.
SCENARIOS: tuple[str, ...] = tuple(make_scenarios())


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


# -- the drivers ----------------------------------------------------------------------------------

Driver = Callable[[openai.OpenAI, str, str], str]
"""Drive one run on ``(client, thread_id, assistant_id)`` to its end; return the run id."""


def sdk_driver(log: ToolLog) -> Driver:
    """The SDK loop as a user writes it, default poll settings: ``create_and_poll``, tools run
    one after another, ``submit_tool_outputs_and_poll``, then the run's messages."""
    tools = {TOOL_NAME: log.sync_tool}

    def drive(client: openai.OpenAI, thread_id: str, assistant_id: str) -> str:
        runs = client.beta.threads.runs
        run = runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
        while RunStatus(run.status) is RunStatus.REQUIRES_ACTION and run.required_action:
            outputs: list[ToolOutput] = []
            for call in run.required_action.submit_tool_outputs.tool_calls:
                result = tools[call.function.name](**json.loads(call.function.arguments))
                outputs.append({"tool_call_id": call.id, "output": result})
            run = runs.submit_tool_outputs_and_poll(
                thread_id=thread_id, run_id=run.id, tool_outputs=outputs
            )
        client.beta.threads.messages.list(thread_id=thread_id, run_id=run.id)
        return run.id

    return drive


def controller_driver(log: ToolLog, *, stream: bool, config: Any = None) -> Driver:
    """Our :class:`RunController` (polling or streaming; default config unless given)."""
    from adapters.openai import RunController

    registry = make_registry(log)

    def drive(client: openai.OpenAI, thread_id: str, assistant_id: str) -> str:
        controller = RunController(client, tools=registry, stream=stream, config=config)
        outcome = controller.run(thread_id=thread_id, assistant_id=assistant_id)
        return str(outcome.run_id)

    return drive


def what_if_side(backoff: float) -> str:
    """The name of a what-if side."""
    return f"controller-poll[first_poll_backoff_s={backoff:g}]"


def make_driver(side: str, log: ToolLog) -> Driver:
    """The driver of a side, by name."""
    if side == "sdk":
        return sdk_driver(log)
    if side == "controller-poll":
        return controller_driver(log, stream=False)
    if side == "controller-stream":
        return controller_driver(log, stream=True)
    for backoff in WHAT_IF_BACKOFFS:
        if side == what_if_side(backoff):
            from adapters.openai import ControllerConfig

            return controller_driver(
                log, stream=False, config=ControllerConfig(first_poll_backoff_s=backoff)
            )
    raise ValueError(f"unknown side {side!r}")


class FallbackCounter(logging.Handler):
    """Counts the controller's "no stream; polling instead" notices (and keeps its log quiet)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Count one record if it is a stream fallback."""
        if record.msg == FALLBACK_MESSAGE:
            self.count += 1


@contextlib.contextmanager
def counting_fallbacks() -> Iterator[FallbackCounter]:
    """Attach a :class:`FallbackCounter` to the controller's logger for a ``with`` block."""
    from adapters.openai._logging import LOGGER_NAME

    counter = FallbackCounter()
    log = logging.getLogger(LOGGER_NAME)
    log.addHandler(counter)
    try:
        yield counter
    finally:
        log.removeHandler(counter)
