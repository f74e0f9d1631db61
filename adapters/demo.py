"""``lifecycle demo``: the seed's order-total assistant, end to end, with a live terminal view.

Without a base URL the Assistants simulator is started in-process on a loopback port, so the real
``openai`` SDK talks real HTTP to it and no API key or network is needed. With ``--base-url`` (or
``OPENAI_BASE_URL``) and ``OPENAI_API_KEY`` it targets a real compatible server instead.

The view is built from ``RunController.events()``: each transition (with how it was seen and
whether it was inferred), the tool calls with their arguments and outputs (arguments that are not
valid JSON are shown as sent), the final answer, and for a run that did not complete, why: the
run's ``last_error`` or ``incomplete_details``, or the drive's ending. A run that does not finish
within the demo's deadline (``timeout``) is cancelled and the demo says so. It works without a
TTY (plain lines when output is redirected). A server that cannot be reached or refuses a request
ends the demo with one ``Error:`` line (:mod:`adapters._cli_common`).
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
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from adapters._cli_common import CliError, CliFailed, api_errors, one_line, quiet_library_logs
from adapters.openai import (
    ControllerConfig,
    MessageCompleted,
    RunController,
    RunFinished,
    RunOutcome,
    StatusChanged,
    ToolsFinished,
    ToolsStarted,
)
from adapters.openai._wire import assistants_quiet
from lifecycle import RunStatus, ToolRegistry
from lifecycle.kernel import EndingKind

__all__ = [
    "ORDER_TOOLS",
    "Item",
    "ItemType",
    "calculate_order_total",
    "demo_config",
    "outcome_reason",
    "run_demo",
]


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

#: the longest wait for a cancel the demo sent at its deadline
_CANCEL_WAIT_S = 5.0


def demo_config(timeout_s: float) -> ControllerConfig:
    """The demo's settings: the run gets ``timeout_s`` in all (and in any one status) before
    it is cancelled, and the cancel at most 5 s more."""
    waiting = (RunStatus.QUEUED, RunStatus.IN_PROGRESS, RunStatus.REQUIRES_ACTION)
    deadlines: dict[str, float] = {s.value: timeout_s for s in waiting}
    deadlines[RunStatus.CANCELLING.value] = min(timeout_s, _CANCEL_WAIT_S)
    return ControllerConfig(overall_timeout_s=timeout_s, deadlines=deadlines)


def outcome_reason(outcome: RunOutcome, timeout_s: float | None = None) -> str | None:
    """Why a run did not complete, in one line (``None`` when it completed).

    The server's ``last_error`` (failed), ``incomplete_details`` (incomplete), or what ended the
    drive (a deadline, an unconfirmed cancel, a lost run, a server that kept failing...).
    """
    if outcome.ok:
        return None
    ending = outcome.ending
    payload = outcome.payload or {}
    if ending.kind is EndingKind.DEADLINE:
        within = f" within {timeout_s:g} s" if timeout_s is not None else ""
        return (
            f"the run did not finish{within} (deadline: {ending.deadline}); "
            f"it was cancelled and ended {outcome.status}"
        )
    if ending.kind is EndingKind.CANCEL_UNCONFIRMED:
        return (
            "the run was cancelled at the deadline, but the cancel was never confirmed "
            f"(deadline: {ending.deadline})"
        )
    if ending.kind is not EndingKind.TERMINAL:
        return f"the drive ended {ending}"
    error = payload.get("last_error")
    if isinstance(error, dict) and (error.get("code") or error.get("message")):
        return f"last_error {error.get('code')}: {one_line(str(error.get('message', '')), 200)}"
    details = payload.get("incomplete_details")
    if isinstance(details, dict) and details.get("reason"):
        return f"incomplete_details.reason: {details['reason']}"
    return f"the run ended {outcome.status} without saying why"


def _known_scenarios() -> list[str]:
    from adapters.simulator import Simulator

    with Simulator() as sim:
        return sim.scenario_names


@contextlib.contextmanager
def _backend(base_url: str | None) -> Iterator[tuple[str, str]]:
    """Yield ``(base_url, api_key)``: the given server, or a simulator on loopback."""
    if base_url:
        yield base_url, os.environ.get("OPENAI_API_KEY", "")
        return
    from adapters.simulator import Simulator, SimulatorServer

    with SimulatorServer(Simulator(poll_after_ms=20)) as server:
        yield server.base_url, "sk-simulator-no-key-needed"


def _arguments(raw: str) -> str:
    """Tool arguments as compact JSON, or as sent (cut) when they are not valid JSON."""
    if not raw:
        return ""
    try:
        return json.dumps(json.loads(raw), ensure_ascii=False)
    except ValueError:
        return f"{one_line(raw, 120)} [invalid JSON]"


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
            args = _arguments(r.arguments)
            mark = "[red]✗[/]" if r.error else "[green]✓[/]"
            console.print(f"    {mark} {escape(r.name)}({escape(args)})", highlight=False)
            console.print(f"      → {escape(r.output or '')}", highlight=False, markup=True)
    elif isinstance(event, MessageCompleted):
        console.print(f"  [dim]message completed ({len(event.text)} chars)[/]")
    elif isinstance(event, RunFinished):
        return event.outcome
    return None


def run_demo(
    base_url: str | None, stream: bool, scenario: str, timeout_s: float | None = None
) -> int:
    """Run the order-total assistant end to end and show it live.

    Args:
        base_url: a real compatible server, or ``None`` for the built-in simulator.
        stream: follow the run through the streaming API instead of polling.
        scenario: the simulator scenario (ignored by real servers).
        timeout_s: seconds before the run is cancelled (default 15 with the simulator, 120
            with a real server).

    Returns:
        The exit code: 0 when the run completed, 1 otherwise.

    Raises:
        CliError: an unknown scenario for the built-in simulator (the message lists them), a
            server that cannot be reached or refused a request.
    """
    if base_url is None and scenario not in (known := _known_scenarios()):
        raise CliError(f"unknown scenario {one_line(scenario, 80)!r}; one of: {', '.join(known)}")
    timeout = timeout_s if timeout_s is not None else (15.0 if base_url is None else 120.0)
    quiet_library_logs()
    console = Console(highlight=False)
    with _backend(base_url) as (url, key), api_errors(url):
        outcome = _drive(console, url, key, base_url is None, stream, scenario, timeout)
    table = Table(show_header=False, box=None)
    table.add_row("status", f"[{_STYLE.get(outcome.status, 'cyan')}]{outcome.status}[/]")
    reason = outcome_reason(outcome, timeout)
    if reason is not None:
        table.add_row("reason", escape(reason))
    table.add_row("transitions", str(len(outcome.history)))
    table.add_row("anomalies", str(len(outcome.anomalies)))
    table.add_row("requests", str(outcome.requests))
    console.print(table)
    if outcome.text:
        console.print(Panel(escape(outcome.text), title="answer"))
    return 0 if outcome.ok else 1


def _drive(
    console: Console,
    url: str,
    key: str,
    simulated: bool,
    stream: bool,
    scenario: str,
    timeout: float,
) -> RunOutcome:
    """Create the assistant and thread, drive the run with the live view, return its outcome."""
    client = openai.OpenAI(base_url=url, api_key=key or "missing-key", max_retries=0)
    try:
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
        where = "built-in simulator" if simulated else url
        mode = "streaming" if stream else "polling"
        console.print(
            Panel(
                f"[bold]{QUESTION}[/]\n[dim]{escape(where)} · {mode} · scenario "
                f"{escape(scenario)} · gives up after {timeout:g} s[/]",
                title="run-lifecycle demo",
            )
        )
        controller = RunController(client, tools=ORDER_TOOLS, config=demo_config(timeout))
        outcome: RunOutcome | None = None
        with console.status("driving the run…"):
            for event in controller.events(
                thread_id=thread.id,
                assistant_id=assistant.id,
                stream=stream,
                metadata={"scenario": scenario},
            ):
                outcome = _show(console, event) or outcome
    finally:
        client.close()
    if outcome is None:  # pragma: no cover - events() always ends with RunFinished
        raise CliFailed("the run ended without an outcome")
    return outcome
