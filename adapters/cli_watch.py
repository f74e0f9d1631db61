"""``lifecycle watch``: follow an existing run (or response) on any server, read-only.

The command attaches to a run someone else drives (``--thread T --run R``) or to a background
response (``--response resp_...``) and prints its status changes, completed steps and messages
live, then how the watch ended. It only reads: it is the controllers' ``watch()``
(:meth:`adapters.openai.RunController.watch`, :meth:`adapters.openai.ResponseController.watch`),
which never runs a tool, submits, cancels or writes a store; ``--timeout`` ends the watch, not
the run. The API key comes from ``OPENAI_API_KEY`` and is never printed.

Output: one line per event, or with ``--json`` one JSON object per line (``status_changed`` /
``response_changed`` with the journal entries, ``step_completed``, ``message_completed``, and a
last ``finished`` with the outcome). Exit status: 0 when the run (or chain) completed, 1 when
it ended otherwise or the watch ended first (the reason is printed), 2 on bad input.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from adapters._cli_common import CliError, CliFailed, api_errors, one_line

__all__ = ["watch"]

#: the SDK's default base URL, named in messages when none is given
DEFAULT_BASE_URL = "https://api.openai.com/v1"


@click.command()
@click.option("--thread", "thread_id", default=None, help="The thread of the run to watch.")
@click.option("--run", "run_id", default=None, help="The run to watch (with --thread).")
@click.option("--response", "response_id", default=None, help="A background response to watch.")
@click.option(
    "--base-url",
    envvar="OPENAI_BASE_URL",
    default=None,
    help=f"The server, ending in /v1 [default: OPENAI_BASE_URL, else {DEFAULT_BASE_URL}].",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event, per line.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=600.0,
    show_default=True,
    help="Seconds to watch before giving up (the run is left as it is).",
)
def watch(
    thread_id: str | None,
    run_id: str | None,
    response_id: str | None,
    base_url: str | None,
    as_json: bool,
    timeout: float,
) -> None:
    """Follow an existing run or response, read-only: its live status and journal.

    Give --thread and --run for an Assistants run, or --response for a background response.
    Nothing is ever sent that acts on it: no tool runs, no output is submitted, no cancel. The
    API key is read from OPENAI_API_KEY.

    Exit 0 when it completed, 1 when it ended otherwise or --timeout passed first, 2 on bad
    input.
    """
    if response_id is not None and (thread_id is not None or run_id is not None):
        raise CliError("give either --thread and --run, or --response, not both")
    if response_id is None and (thread_id is None or run_id is None):
        raise CliError("give --thread and --run (an Assistants run) or --response")
    for name, value in (("--thread", thread_id), ("--run", run_id), ("--response", response_id)):
        if value is not None and not value.strip():
            raise CliError(f"{name} must not be empty")
    import openai

    from adapters._cli_common import quiet_library_logs
    from adapters.openai import ControllerConfig

    quiet_library_logs()
    url = base_url or DEFAULT_BASE_URL
    # the key is only handed to the client; nothing here prints or logs it
    client = openai.OpenAI(
        base_url=url, api_key=os.environ.get("OPENAI_API_KEY") or "no-key", max_retries=0
    )
    # a watcher has no deadline per status: it waits as long as the run does, up to --timeout
    config = ControllerConfig(
        overall_timeout_s=timeout,
        deadlines={s: timeout for s in _live_states()},
        cancel_on_timeout=False,
    )
    out = _Printer(as_json, url)
    with client, api_errors(url):
        if response_id is not None:
            from adapters.openai import ResponseController

            out.header(f"watching response {response_id} at {url} (read-only)")
            controller: Any = ResponseController(client, config=config)
            events = controller.watch(response_id=response_id)
        else:
            from adapters.openai import RunController

            assert thread_id is not None
            assert run_id is not None
            out.header(f"watching run {run_id} on thread {thread_id} at {url} (read-only)")
            controller = RunController(client, config=config)
            events = controller.watch(thread_id=thread_id, run_id=run_id)
        outcome: Any = None
        for event in events:
            outcome = out.event(event) or outcome
    sys.exit(0 if outcome is not None and out.finished_ok else 1)


def _entry(e: Any) -> dict[str, Any]:
    return {
        "source": e.source,
        "dest": e.dest,
        "trigger": e.trigger,
        "via": e.via,
        "at": e.at,
        "inferred": e.inferred,
    }


def _function_calls(payload: Any) -> list[str]:
    """The names of the function calls a response's output asks its client for."""
    items = payload.get("output") if isinstance(payload, dict) else None
    return [
        str(i.get("name"))
        for i in items or []
        if isinstance(i, dict) and i.get("type") == "function_call"
    ]


class _Printer:
    """Prints each event as a line of text or of JSON."""

    def __init__(self, as_json: bool, url: str) -> None:
        self.as_json = as_json
        self.url = url
        self.finished_ok = False

    def _emit(self, text: str, data: dict[str, Any]) -> None:
        click.echo(json.dumps(data, ensure_ascii=False) if self.as_json else text)

    def header(self, text: str) -> None:
        if not self.as_json:
            click.echo(text)

    def event(self, event: Any) -> Any:
        """Print one event; return the outcome when it is the last one."""
        from adapters.openai import (
            ChainFinished,
            MessageCompleted,
            ResponseChanged,
            RunFinished,
            StatusChanged,
            StepCompleted,
        )

        if isinstance(event, StatusChanged | ResponseChanged):
            kind = "status_changed" if isinstance(event, StatusChanged) else "response_changed"
            oid = event.run_id if isinstance(event, StatusChanged) else event.response_id
            for e in event.entries:
                how = f"via {e.via}" + (", inferred" if e.inferred else "")
                self.header(f"  {e.source:>15} -> {e.dest:<15} ({how})")
            if self.as_json:
                entries = [_entry(e) for e in event.entries]
                self._emit(
                    "", {"event": kind, "id": oid, "status": event.status, "entries": entries}
                )
        elif isinstance(event, StepCompleted):
            step = event.step
            self._emit(
                f"  step {step.id} completed ({step.type})",
                {
                    "event": "step_completed",
                    "id": event.run_id,
                    "step_id": step.id,
                    "type": step.type,
                },
            )
        elif isinstance(event, MessageCompleted):
            self._emit(
                f"  message: {one_line(event.text, 200)}",
                {"event": "message_completed", "id": event.run_id, "text": event.text},
            )
        elif isinstance(event, RunFinished | ChainFinished):
            return self._finished(event.outcome)
        return None

    def _finished(self, outcome: Any) -> Any:
        from lifecycle.kernel import EndingKind

        ending = outcome.ending
        self.finished_ok = ending.kind is EndingKind.TERMINAL and outcome.status == "completed"
        why = ""
        if ending.kind is EndingKind.DEADLINE:
            why = "the watch timed out (--timeout); the run was left as it is"
        elif ending.kind is EndingKind.HELD and ending.detail == "awaiting_client":
            calls = _function_calls(outcome.payload)
            why = (
                f"the response waits for its client's function outputs ({', '.join(calls)}); "
                "the answer comes as a new response, which this watch cannot name"
            )
        elif ending.kind is EndingKind.LOST_HANDLE:
            why = "the server does not know it (404)"
        elif ending.kind is EndingKind.ABANDONED and not outcome.history:
            raise CliFailed(f"cannot reach the server at {self.url} ({ending.detail})")
        elif ending.kind is EndingKind.ABANDONED:
            why = f"the server kept failing ({ending.detail}); the run was left as it is"
        elif ending.kind is not EndingKind.TERMINAL:
            why = f"the watch ended {ending}"
        else:
            payload = outcome.payload or {}
            error = payload.get("last_error") or payload.get("error")
            details = payload.get("incomplete_details")
            if isinstance(error, dict) and error.get("code"):
                why = f"{error.get('code')}: {one_line(str(error.get('message', '')), 200)}"
            elif isinstance(details, dict) and details.get("reason"):
                why = f"incomplete: {details['reason']}"
        data = {"event": "finished", "status": outcome.status, "ending": ending.kind.value}
        data |= {"detail": ending.detail, "reason": why or None, "outcome": outcome.to_dict()}
        text = f"finished: {outcome.status} (ending {ending.kind.value})"
        self._emit(text + (f": {why}" if why else ""), data)
        return outcome


def _live_states() -> frozenset[str]:
    """Every status a watched run or response can wait in (from the tables, not typed out)."""
    from lifecycle import ASSISTANTS_RUN, RESPONSE_CHAIN

    return frozenset().union(
        *(spec.state_values - spec.terminal_values for spec in (ASSISTANTS_RUN, RESPONSE_CHAIN))
    )
