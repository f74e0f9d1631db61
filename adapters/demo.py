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

``--api responses`` runs the same job as a Responses API chain (:mod:`adapters.demo_responses`);
what both share lives here: the tools, the settings (:class:`DemoSettings`), the reason a drive
did not complete (:func:`outcome_reason`), the journal and tool lines and the closing summary.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

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
from lifecycle import JournalEntry, RunStatus, ToolRegistry
from lifecycle.kernel import Ending, EndingKind

__all__ = [
    "DEFAULT_MODEL",
    "ORDER_TOOLS",
    "DemoSettings",
    "Ended",
    "Item",
    "ItemType",
    "calculate_order_total",
    "demo_config",
    "known_scenarios",
    "outcome_reason",
    "run_demo",
    "show_entry",
    "show_summary",
    "show_tools",
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
#: the model asked for when none is given (``--model``, ``OPENAI_MODEL``); the simulator takes any
DEFAULT_MODEL = "gpt-4o-mini"

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


class Ended(Protocol):
    """What :func:`outcome_reason` and :func:`show_summary` read of an outcome (a run's or a
    chain's)."""

    @property
    def status(self) -> str: ...

    @property
    def ok(self) -> bool: ...

    @property
    def ending(self) -> Ending: ...

    @property
    def payload(self) -> Mapping[str, Any] | None: ...

    @property
    def history(self) -> Sequence[object]: ...

    @property
    def anomalies(self) -> Sequence[object]: ...

    @property
    def requests(self) -> int: ...

    @property
    def cancel_requested(self) -> bool: ...


def outcome_reason(outcome: Ended, timeout_s: float | None = None, noun: str = "run") -> str | None:
    """Why a run (or, with ``noun="chain"``, a Responses chain) did not complete, in one line
    (``None`` when it completed).

    The server's ``last_error`` (a failed run) or ``error`` (a failed response),
    ``incomplete_details`` (incomplete), or what ended the drive (a deadline, an unconfirmed
    cancel, a lost run, a lost answer, a server that kept failing...).
    """
    if outcome.ok:
        return None
    ending = outcome.ending
    payload = outcome.payload or {}
    if ending.kind is EndingKind.DEADLINE:
        within = f" within {timeout_s:g} s" if timeout_s is not None else ""
        then = (
            f"it was cancelled and ended {outcome.status}"
            if outcome.cancel_requested
            else f"no cancel was sent; it was left {outcome.status}"
        )
        return f"the {noun} did not finish{within} (deadline: {ending.deadline}); {then}"
    if ending.kind is EndingKind.CANCEL_UNCONFIRMED:
        return (
            f"the {noun} was cancelled at the deadline, but the cancel was never confirmed "
            f"(deadline: {ending.deadline})"
        )
    if ending.kind is EndingKind.OUTCOME_UNKNOWN:
        return (
            f"the answer to a request was lost and the API cannot tell whether it got in; "
            f"nothing was sent again (the drive ended {ending})"
        )
    if ending.kind is EndingKind.HELD:
        return f"the {noun} waits for a decision outside this drive (held: {ending.detail})"
    if ending.kind is not EndingKind.TERMINAL:
        return f"the drive ended {ending}"
    for key in ("last_error", "error"):
        error = payload.get(key)
        if isinstance(error, dict) and (error.get("code") or error.get("message")):
            message = one_line(str(error.get("message", "")), 200)
            return f"{key} {error.get('code')}: {message}"
    details = payload.get("incomplete_details")
    if isinstance(details, dict) and details.get("reason"):
        return f"incomplete_details.reason: {details['reason']}"
    return f"the {noun} ended {outcome.status} without saying why"


def known_scenarios() -> list[str]:
    """The scenarios the built-in simulator plays for Assistants runs (status scripts too)."""
    from adapters.simulator import Simulator

    with Simulator() as sim:
        only_responses = {n for n, sc in sim.engine.scenarios.items() if sc.responses_only}
        return [n for n in sim.scenario_names if n not in only_responses]


@dataclass(frozen=True)
class DemoSettings:
    """What one demo drive needs: where to, how to follow it, and when to give up."""

    url: str
    key: str
    simulated: bool
    stream: bool
    scenario: str
    timeout: float
    model: str

    def client(self) -> openai.OpenAI:
        """The SDK client (no SDK retries: the controller is the one retry layer)."""
        return openai.OpenAI(base_url=self.url, api_key=self.key or "missing-key", max_retries=0)

    def header(self, console: Console, title: str) -> None:
        """The panel that opens the demo: the question, the server, the mode, the deadline."""
        where = "built-in simulator" if self.simulated else self.url
        mode = "streaming" if self.stream else "polling"
        console.print(
            Panel(
                f"[bold]{QUESTION}[/]\n[dim]{escape(where)} · {mode} · model "
                f"{escape(self.model)} · scenario {escape(self.scenario)} · gives up after "
                f"{self.timeout:g} s[/]",
                title=title,
            )
        )


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


def show_entry(console: Console, entry: JournalEntry) -> None:
    """One transition of the journal: ``source → dest (via ..., inferred)``."""
    how = f"via {entry.via}" + (", inferred" if entry.inferred else "")
    colour = _STYLE.get(entry.dest, "cyan")
    console.print(f"  {entry.source:>15} → [{colour}]{entry.dest:<15}[/] [dim]({how})[/]")


def show_tools(console: Console, event: object) -> bool:
    """Show a tool round's start or its calls (arguments and outputs); whether it was one."""
    if isinstance(event, ToolsStarted):
        console.print(f"  [bold]tool round {event.round}[/]: {len(event.calls)} call(s)")
    elif isinstance(event, ToolsFinished):
        for r in event.records:
            args = _arguments(r.arguments)
            mark = "[red]✗[/]" if r.error else "[green]✓[/]"
            console.print(f"    {mark} {escape(r.name)}({escape(args)})", highlight=False)
            console.print(f"      → {escape(r.output or '')}", highlight=False, markup=True)
    else:
        return False
    return True


def show_summary(
    console: Console,
    outcome: Ended,
    reason: str | None,
    answer: str,
    extra: Sequence[tuple[str, str]] = (),
) -> int:
    """The closing table (status, reason, counts) and the answer; returns the exit code."""
    table = Table(show_header=False, box=None)
    table.add_row("status", f"[{_STYLE.get(outcome.status, 'cyan')}]{outcome.status}[/]")
    if reason is not None:
        table.add_row("reason", escape(reason))
    for name, value in extra:
        table.add_row(name, escape(value))
    table.add_row("transitions", str(len(outcome.history)))
    table.add_row("anomalies", str(len(outcome.anomalies)))
    table.add_row("requests", str(outcome.requests))
    console.print(table)
    if answer:
        console.print(Panel(escape(answer), title="answer"))
    return 0 if outcome.ok else 1


def _show(console: Console, event: object) -> RunOutcome | None:
    if isinstance(event, StatusChanged):
        for e in event.entries:
            show_entry(console, e)
    elif show_tools(console, event):
        pass
    elif isinstance(event, MessageCompleted):
        console.print(f"  [dim]message completed ({len(event.text)} chars)[/]")
    elif isinstance(event, RunFinished):
        return event.outcome
    return None


def run_demo(
    base_url: str | None,
    stream: bool,
    scenario: str,
    timeout_s: float | None = None,
    *,
    api: str = "assistants",
    model: str = DEFAULT_MODEL,
) -> int:
    """Run the order-total assistant (or, with ``api="responses"``, the order-total Responses
    chain) end to end and show it live.

    Args:
        base_url: a real compatible server, or ``None`` for the built-in simulator.
        stream: follow the run through the streaming API instead of polling.
        scenario: the simulator scenario (ignored by real servers).
        timeout_s: seconds before the run is cancelled (default 15 with the simulator, 120
            with a real server).
        api: ``assistants`` (a run) or ``responses`` (a chain of background responses).
        model: the model of the assistant, or of every response of the chain.

    Returns:
        The exit code: 0 when the run completed, 1 otherwise.

    Raises:
        CliError: an unknown scenario for the built-in simulator (the message lists the ones
            the chosen API plays), a server that cannot be reached or refused a request.
    """
    if api == "responses":
        from adapters.demo_responses import drive_chain, responses_scenarios

        known_for = responses_scenarios
    else:
        known_for = known_scenarios
    if base_url is None and scenario not in (known := known_for()):
        raise CliError(f"unknown scenario {one_line(scenario, 80)!r}; one of: {', '.join(known)}")
    timeout = timeout_s if timeout_s is not None else (15.0 if base_url is None else 120.0)
    quiet_library_logs()
    console = Console(highlight=False)
    with _backend(base_url) as (url, key), api_errors(url):
        settings = DemoSettings(url, key, base_url is None, stream, scenario, timeout, model)
        if api == "responses":
            return drive_chain(console, settings)
        outcome = _drive(console, settings)
    return show_summary(console, outcome, outcome_reason(outcome, timeout), outcome.text)


def _drive(console: Console, s: DemoSettings) -> RunOutcome:
    """Create the assistant and thread, drive the run with the live view, return its outcome."""
    client = s.client()
    try:
        with assistants_quiet():
            assistant = client.beta.assistants.create(
                model=s.model,
                name="order-total",
                instructions=INSTRUCTIONS,
                tools=ORDER_TOOLS.definitions(),  # type: ignore[arg-type]
                metadata={"scenario": s.scenario},
            )
            thread = client.beta.threads.create()
            client.beta.threads.messages.create(thread.id, role="user", content=QUESTION)
        s.header(console, "run-lifecycle demo")
        controller = RunController(client, tools=ORDER_TOOLS, config=demo_config(s.timeout))
        outcome: RunOutcome | None = None
        with console.status("driving the run…"):
            for event in controller.events(
                thread_id=thread.id,
                assistant_id=assistant.id,
                stream=s.stream,
                metadata={"scenario": s.scenario},
            ):
                outcome = _show(console, event) or outcome
    finally:
        client.close()
    if outcome is None:  # pragma: no cover - events() always ends with RunFinished
        raise CliFailed("the run ended without an outcome")
    return outcome
