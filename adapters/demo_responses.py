"""``lifecycle demo --api responses``: the order-total job as a Responses API chain.

The same question, tools, simulator and deadline as the Assistants demo (:mod:`adapters.demo`),
driven by :class:`~adapters.openai.ResponseController`: the first background response asks for
``calculate_order_total``, the tool runs once, the next response (``previous_response_id`` and
the ``function_call_output``) answers with the total.

The view is the chain's journal, grouped by response: a header for each response id of the chain
(oldest first), then its status moves, in the order they were applied (through an
``on_transition`` hook, so the client's own edge, the create of the next response, is shown
too); each tool round with its calls' arguments and outputs; then the final text and the ending.
A chain that did not complete says why: the response's ``error`` (failed),
``incomplete_details.reason`` (incomplete), or the drive's ending (a deadline, a lost answer...).
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from adapters._cli_common import CliFailed
from adapters.demo import (
    INSTRUCTIONS,
    ORDER_TOOLS,
    QUESTION,
    DemoSettings,
    outcome_reason,
    show_entry,
    show_summary,
    show_tools,
)
from adapters.openai import (
    ChainFinished,
    ControllerConfig,
    ResponseChanged,
    ResponseController,
    ResponseOutcome,
)
from lifecycle import ChainStatus, Hooks, JournalEntry, RunLifecycle

__all__ = ["chain_config", "drive_chain", "responses_scenarios"]

#: the longest wait for a cancel the demo sent at its deadline
_CANCEL_WAIT_S = 5.0
#: the chain's client edge that creates the next response (row C3 of the chain table)
_NEXT_RESPONSE = "submit_tool_outputs"


def responses_scenarios() -> list[str]:
    """The scenarios the built-in simulator plays over ``/v1/responses`` (status scripts serve
    Assistants runs only)."""
    from adapters.simulator import SCRIPTS, Simulator

    with Simulator() as sim:
        return [name for name in sim.scenario_names if name not in SCRIPTS]


def chain_config(timeout_s: float) -> ControllerConfig:
    """The chain's settings: ``timeout_s`` in all (and in any one status) before it is
    cancelled, and the cancel (which goes straight to ``cancelled``) at most 5 s more (a
    silent stream's read is cut at those deadlines by the kernel)."""
    waiting = (ChainStatus.QUEUED, ChainStatus.IN_PROGRESS, ChainStatus.REQUIRES_ACTION)
    deadlines: dict[str, float] = {s.value: timeout_s for s in waiting}
    deadlines[ChainStatus.CANCELLED.value] = min(timeout_s, _CANCEL_WAIT_S)
    return ControllerConfig(overall_timeout_s=timeout_s, deadlines=deadlines)


class _ChainView:
    """Prints the chain live: the journal (from the hook) under a header per response."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.pending: list[JournalEntry] = []
        self.ids: list[str] = []
        self.shown = 0  # response headers printed
        self.hooks = Hooks()
        self.hooks.on_transition(self._applied)

    def _applied(self, run: RunLifecycle, entry: JournalEntry) -> None:
        self.pending.append(entry)

    def _header(self) -> None:
        n = self.shown
        rid = self.ids[n] if n < len(self.ids) else "(no id: the create's answer was lost)"
        after = f" [dim](previous_response_id {self.ids[n - 1]})[/]" if n else ""
        self.console.print(f"  [bold]response {n + 1}[/] {escape(rid)}{after}")
        self.shown += 1

    def flush(self) -> None:
        """Print the transitions applied since the last event, a header before each response."""
        for entry in self.pending:
            if self.shown == 0 or entry.trigger == _NEXT_RESPONSE:
                self._header()
            show_entry(self.console, entry)
        self.pending.clear()

    def show(self, event: object) -> ResponseOutcome | None:
        """Show one event of ``ResponseController.events()``; the outcome at the end."""
        if isinstance(event, ResponseChanged) and event.response_id not in self.ids:
            self.ids.append(event.response_id)
        if isinstance(event, ChainFinished):
            self.ids = list(event.outcome.response_ids)
        self.flush()
        while self.shown < len(self.ids):  # a response whose moves were never seen
            self._header()
        show_tools(self.console, event)
        return event.outcome if isinstance(event, ChainFinished) else None


def drive_chain(console: Console, s: DemoSettings) -> int:
    """Drive the order-total chain with the live view; print how it ended.

    Returns:
        The exit code: 0 when the chain completed, 1 otherwise.

    Raises:
        openai.APIError: the first create failed for good or lost its answer (the caller
            turns it into one error line).
    """
    view = _ChainView(console)
    client = s.client()
    try:
        controller = ResponseController(
            client, tools=ORDER_TOOLS, config=chain_config(s.timeout), hooks=view.hooks
        )
        outcome: ResponseOutcome | None = None
        with console.status("driving the chain…"):
            for n, event in enumerate(
                controller.events(
                    model=s.model,
                    input=QUESTION,
                    instructions=INSTRUCTIONS,
                    stream=s.stream,
                    metadata={"scenario": s.scenario},
                )
            ):
                if n == 0:  # the first create got in: a refused one is only its error line
                    s.header(console, "run-lifecycle demo · Responses API")
                outcome = view.show(event) or outcome
    finally:
        client.close()
    if outcome is None:  # pragma: no cover - events() always ends with ChainFinished
        raise CliFailed("the chain ended without an outcome")
    reason = outcome_reason(outcome, s.timeout, noun="chain")
    chain = " → ".join(outcome.response_ids) or "none"
    return show_summary(console, outcome, reason, outcome.output_text, extra=[("responses", chain)])
