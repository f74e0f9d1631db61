"""The workload of ``bench_chains``: its settings, the tools every side runs, the simulator's
scenarios (each step lasting ``--step``) and the answer every side must end with."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from adapters.simulator import SCENARIOS as SHIPPED_SCENARIOS
from adapters.simulator import CallTools, Hang, Scenario
from adapters.simulator.scenarios import Step
from lifecycle import ToolRegistry

__all__ = [
    "API_KEY",
    "BASELINE",
    "INSTRUCTIONS",
    "LOOPS",
    "LOOP_GUARD_S",
    "MODEL",
    "PROFILE_NAMES",
    "QUESTION",
    "RUNNER_SCENARIOS",
    "RUNNER_SIDE",
    "SCENARIOS",
    "SERVER_THREAD",
    "SIDES",
    "STEP",
    "TOOL_DEFINITIONS",
    "TOOL_SECONDS",
    "Tools",
    "expected_answers",
    "make_registry",
    "make_scenarios",
]

API_KEY = "sk-sim-bench"
MODEL = "sim-model"
QUESTION = "What does my order cost?"
INSTRUCTIONS = "Answer briefly."
STEP = 0.05  # seconds per scenario step on the server (as in bench_e2e)
TOOL_SECONDS = 0.2  # seconds per tool call (as in bench_e2e)
LOOP_GUARD_S = 120.0  # the hand-written loop gives up after this (never reached in practice)

#: the server profiles, the two without a header on create first
PROFILE_NAMES: tuple[str, ...] = ("get-only-poll-after", "no-poll-after", "reference")
SCENARIOS: tuple[str, ...] = ("text", "order-total", "two-rounds")
#: every side, in its starting order
SIDES: tuple[str, ...] = (
    "controller-sync",
    "controller-async",
    "controller-stream",
    "loop-2s",
    "loop-1s",
    "loop-0.25s",
    "sdk-runner-fg",
)
#: the hand-written loops and their fixed sleep: the background-mode guide's ``sleep(2)``, the 1 s
#: default of the SDK's own pollers (the baseline of the ratios), and a tight 0.25 s
LOOPS: dict[str, float] = {"loop-2s": 2.0, "loop-1s": 1.0, "loop-0.25s": 0.25}
BASELINE = "loop-1s"
RUNNER_SIDE = "sdk-runner-fg"
#: the scenarios where the foreground runner does the same work as a chain on the simulator
RUNNER_SCENARIOS: frozenset[str] = frozenset({"text"})
SERVER_THREAD = "simulator-server"


# -- the tools (the same for every side) ------------------------------------------------------

PRICES = {"books": 12.5, "stationery": 3.0, "electronics": 99.0}


class OrderItem(BaseModel):
    """One line of an order."""

    model_config = ConfigDict(extra="forbid")
    item_type: str
    quantity: int


@dataclass
class Tools:
    """The tools the scenarios call; each blocks ``seconds`` (an HTTP call, a query) and counts
    its executions. Outputs are strings, so every side sends the server the same bytes."""

    seconds: float = TOOL_SECONDS
    executions: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _work(self) -> None:
        with self._lock:
            self.executions += 1
        threading.Event().wait(self.seconds)

    def calculate_order_total(self, items: Sequence[dict[str, Any]]) -> str:
        """The order's total, two decimals."""
        self._work()
        return f"{sum(PRICES[i['item_type']] * i['quantity'] for i in items):.2f}"

    def lookup_prices(self, item_types: Sequence[str]) -> str:
        """The unit prices of ``item_types``, as JSON."""
        self._work()
        return json.dumps({t: PRICES[t] for t in item_types}, sort_keys=True)

    def functions(self) -> dict[str, Callable[..., str]]:
        """The tools by name, called with the call's JSON arguments as keywords."""
        return {
            "calculate_order_total": self.calculate_order_total,
            "lookup_prices": self.lookup_prices,
        }


def make_registry(tools: Tools) -> ToolRegistry:
    """Our registry with the two tools (arguments validated by their signatures)."""
    registry = ToolRegistry()

    @registry.tool
    def calculate_order_total(items: list[OrderItem]) -> str:
        """Compute the total price of an order.

        Args:
            items: the items ordered, each an item type and a quantity.
        """
        return tools.calculate_order_total([i.model_dump() for i in items])

    @registry.tool
    def lookup_prices(item_types: list[str]) -> str:
        """Look up unit prices.

        Args:
            item_types: the item types to price.
        """
        return tools.lookup_prices(item_types)

    return registry


#: the tools as a user declares them by hand for ``responses.create`` (the Responses shape)
TOOL_DEFINITIONS: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "calculate_order_total",
        "description": "Compute the total price of an order.",
        "parameters": {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "item_type": {"type": "string"},
                            "quantity": {"type": "integer"},
                        },
                        "required": ["item_type", "quantity"],
                        "additionalProperties": False,
                    },
                }
            },
            "required": ["items"],
            "additionalProperties": False,
        },
        "strict": True,
    },
    {
        "type": "function",
        "name": "lookup_prices",
        "description": "Look up unit prices.",
        "parameters": {
            "type": "object",
            "properties": {"item_types": {"type": "array", "items": {"type": "string"}}},
            "required": ["item_types"],
            "additionalProperties": False,
        },
        "strict": True,
    },
]


def make_scenarios(step: float = STEP) -> dict[str, Scenario]:
    """The simulator's own scenarios, each step lasting ``step`` seconds."""
    return {
        name: dataclasses.replace(
            SHIPPED_SCENARIOS[name],
            steps=tuple(_lasting(s, step) for s in SHIPPED_SCENARIOS[name].steps),
        )
        for name in SCENARIOS
    }


def _lasting(step: Step, seconds: float) -> Step:
    """``step`` lasting ``seconds`` (a ``Hang`` lasts forever)."""
    return step if isinstance(step, Hang) else dataclasses.replace(step, seconds=seconds)


#: the order the scenarios' calculate_order_total call carries
SHIPPED_ORDER: dict[str, Any] = json.loads(
    next(
        c.arguments
        for s in SHIPPED_SCENARIOS["order-total"].steps
        if isinstance(s, CallTools)
        for c in s.calls
    )
)


def expected_answers() -> dict[str, str]:
    """The final answer every side must end with, per scenario (from the tools' outputs)."""
    tools = Tools(0.0)
    order = SHIPPED_ORDER["items"]
    total = tools.calculate_order_total(order)
    prices = tools.lookup_prices(["books"])
    return {
        "text": "Hello! How can I help you today?",
        "order-total": f"The total price of your order is {total}.",
        "two-rounds": f"After two rounds: {prices}, {total}.",
    }
