"""``lifecycle demo``: the seed's order-total assistant, end to end, with a live terminal view.

Without a base URL the Assistants simulator is started in-process on a loopback port, so the real
``openai`` SDK talks real HTTP to it and no API key or network is needed. With ``--base-url`` (or
``OPENAI_BASE_URL``) and ``OPENAI_API_KEY`` it targets a real compatible server instead.

The view is built from ``RunController.events()``: each transition (with how it was seen and
whether it was inferred), the tool calls with their arguments and outputs, and the final answer.
It works without a TTY (plain lines when output is redirected).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from enum import StrEnum

import openai
from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from adapters.openai import (
    MessageCompleted,
    RunController,
    RunFinished,
    RunOutcome,
    StatusChanged,
    ToolsFinished,
    ToolsStarted,
)
from adapters.openai._wire import assistants_quiet
from lifecycle import ToolRegistry

__all__ = ["ORDER_TOOLS", "Item", "ItemType", "calculate_order_total", "run_demo"]


class ItemType(StrEnum):
    """What the shop sells."""

    BOOKS = "books"
    STATIONERY = "stationery"
    ELECTRONICS = "electronics"
    CLOTHING = "clothing"
    FOOD = "food"


#: Unit prices, as in the seed lesson's order-total example.
PRICES: dict[ItemType, float] = {
    ItemType.BOOKS: 10.0,
    ItemType.STATIONERY: 5.0,
    ItemType.ELECTRONICS: 100.0,
    ItemType.CLOTHING: 20.0,
    ItemType.FOOD: 2.0,
}


class Item(BaseModel):
    """One line of an order."""

    model_config = ConfigDict(extra="forbid")
    item_type: ItemType = Field(description="the kind of item")
    quantity: int = Field(description="how many", ge=0)


ORDER_TOOLS = ToolRegistry()


@ORDER_TOOLS.tool
def calculate_order_total(items: list[Item]) -> float:
    """Calculate the total price of an order from its items.

    Args:
        items: the items ordered, each an item type and a quantity.
    """
    return sum(PRICES[i.item_type] * i.quantity for i in items)


QUESTION = "I bought 2 books, 3 pieces of stationery and 1 electronics item. What's the total?"
INSTRUCTIONS = "You are a shop assistant. Use calculate_order_total to price orders."

_STYLE = {"completed": "green", "failed": "red", "expired": "red", "cancelled": "yellow"}


@contextlib.contextmanager
def _backend(base_url: str | None) -> Iterator[tuple[str, str]]:
    """Yield ``(base_url, api_key)``: the given server, or a simulator on loopback."""
    if base_url:
        yield base_url, os.environ.get("OPENAI_API_KEY", "")
        return
    from adapters.simulator import Simulator, SimulatorServer

    with SimulatorServer(Simulator(poll_after_ms=20)) as server:
        yield server.base_url, "sk-simulator-no-key-needed"


def _show(console: Console, event: object) -> RunOutcome | None:
    if isinstance(event, StatusChanged):
        for e in event.entries:
            how = f"via {e.via}" + (", inferred" if e.inferred else "")
            colour = _STYLE.get(e.dest, "cyan")
            console.print(f"  {e.source:>15} → [{colour}]{e.dest:<15}[/] [dim]({how})[/]")
    elif isinstance(event, ToolsStarted):
        console.print(f"  [bold]tool round {event.round}[/]: {len(event.calls)} call(s)")
    elif isinstance(event, ToolsFinished):
        for r in event.records:
            args = json.dumps(json.loads(r.arguments), ensure_ascii=False) if r.arguments else ""
            mark = "[red]✗[/]" if r.error else "[green]✓[/]"
            console.print(f"    {mark} {r.name}({args})", markup=True, highlight=False)
            console.print(f"      → {r.output}", highlight=False)
    elif isinstance(event, MessageCompleted):
        console.print(f"  [dim]message completed ({len(event.text)} chars)[/]")
    elif isinstance(event, RunFinished):
        return event.outcome
    return None


def run_demo(base_url: str | None, stream: bool, scenario: str) -> int:
    """Run the order-total assistant end to end and show it live.

    Args:
        base_url: a real compatible server, or ``None`` for the built-in simulator.
        stream: follow the run through the streaming API instead of polling.
        scenario: the simulator scenario (ignored by real servers).

    Returns:
        The exit code: 0 when the run completed, 1 otherwise.
    """
    console = Console(highlight=False)
    with _backend(base_url) as (url, key):
        client = openai.OpenAI(base_url=url, api_key=key or "missing-key")
        with assistants_quiet():
            assistant = client.beta.assistants.create(
                model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
                name="order-total",
                instructions=INSTRUCTIONS,
                tools=ORDER_TOOLS.definitions(),  # type: ignore[arg-type]
                metadata={"scenario": scenario},
            )
            thread = client.beta.threads.create()
            client.beta.threads.messages.create(thread.id, role="user", content=QUESTION)
        where = "built-in simulator" if base_url is None else url
        mode = "streaming" if stream else "polling"
        console.print(
            Panel(f"[bold]{QUESTION}[/]\n[dim]{where} · {mode}[/]", title="run-lifecycle demo")
        )
        controller = RunController(client, tools=ORDER_TOOLS)
        outcome: RunOutcome | None = None
        with console.status("driving the run…"):
            for event in controller.events(
                thread_id=thread.id,
                assistant_id=assistant.id,
                stream=stream,
                metadata={"scenario": scenario},
            ):
                outcome = _show(console, event) or outcome
        client.close()
    if outcome is None:  # pragma: no cover - events() always ends with RunFinished
        return 1
    table = Table(show_header=False, box=None)
    table.add_row("status", f"[{_STYLE.get(outcome.status, 'cyan')}]{outcome.status}[/]")
    table.add_row("transitions", str(len(outcome.history)))
    table.add_row("anomalies", str(len(outcome.anomalies)))
    table.add_row("requests", str(outcome.requests))
    console.print(table)
    if outcome.text:
        console.print(Panel(outcome.text, title="answer"))
    return 0 if outcome.ok else 1
