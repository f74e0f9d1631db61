"""``lifecycle runs``: look into a run store, settle an unknown effect, resume the pending runs.

* ``runs list``: every run of the store, grouped: ``pending`` (recover() continues it),
  ``held`` (a tool call's effect is unknown: a person decides), ``finished`` (terminal, or
  closed with a reason); and create intents whose outcome is unknown.
* ``runs show RUN_ID``: one run's journal, anomalies, tool ledger, effect log and decisions.
* ``runs settle RUN_ID CALL_ID --as delivered|failed|run-again [--output TEXT]``: a person's
  decision about an unknown effect (:func:`adapters._store_settle.settle`): *delivered* (it
  happened; ``--output`` is what it returned, submitted without running the tool), *failed* (an
  error output is submitted), *run-again* (it never happened; the tool runs once more).
* ``runs resume --base-url URL --tools MODULE:ATTR``: ``recover()`` over the store.

Every command takes ``--store FILE`` (or ``LIFECYCLE_STORE``); ``--json`` prints JSON.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from adapters._cli_common import (
    FAILED,
    CliError,
    api_errors,
    load_tools,
    one_line,
    quiet_library_logs,
)

if TYPE_CHECKING:
    from adapters._store_records import StoredRun
    from adapters._store_settle import Decision
    from adapters.store import RunStore

__all__ = ["runs"]

#: ``--as`` choices and the ledger's names for them
_DECISIONS: dict[str, Decision] = {
    "delivered": "done",
    "failed": "failed",
    "run-again": "run_again",
}


def store_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--store",
        "store_path",
        envvar="LIFECYCLE_STORE",
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="The run store file (RunStore), or LIFECYCLE_STORE.",
    )(fn)


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(fn)


@contextmanager
def _open(path: Path) -> Iterator[RunStore]:
    from adapters.store import RunStore, StoreError

    try:
        store = RunStore(path)
    except (StoreError, sqlite3.Error) as exc:
        raise CliError(f"cannot open the run store {path}: {exc}") from None
    with store:
        yield store


@click.group()
def runs() -> None:
    """A run store (RunStore): list, show, settle an unknown effect, resume."""


def _group(store: RunStore, run: StoredRun) -> tuple[str, str]:
    """``(group, detail)`` of a stored run."""
    if run.terminal:
        return "finished", ""
    if run.closed is not None:
        return "finished", f"closed: {run.closed}"
    unknown = [*run.ledger.unknown()]
    unknown += [
        c
        for c in store.unknown_effects(run.run_id)
        if c not in unknown and run.ledger.output_for(c) is None
    ]
    if unknown:
        names = [f"{c} ({run.ledger.entries[c].name})" for c in unknown if c in run.ledger.entries]
        return "held", "unknown effect: " + ", ".join(names or unknown)
    return "pending", ""


@runs.command("list")
@store_option
@json_option
def list_runs(store_path: Path, as_json: bool) -> None:
    """Every run of the store: pending, held (an unknown effect waits for a person), finished."""
    with _open(store_path) as store:
        rows: list[dict[str, str | None]] = []
        for run in store.runs():
            group, detail = _group(store, run)
            rows.append(
                {
                    "group": group,
                    "run_id": run.run_id,
                    "thread_id": run.thread_id,
                    "lifecycle": run.snapshot.lifecycle,
                    "state": run.state,
                    "detail": detail,
                }
            )
        for intent in store.unbound_creates():
            detail = f"create {intent.op_id} sent, outcome unknown (recover() looks for it)"
            rows.append(
                {
                    "group": "pending",
                    "run_id": None,
                    "thread_id": intent.thread_id,
                    "lifecycle": None,
                    "state": None,
                    "detail": detail,
                }
            )
    order = {"held": 0, "pending": 1, "finished": 2}
    rows.sort(key=lambda r: order[str(r["group"])])
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"{store_path}: no runs")
        return
    click.echo(f"{'GROUP':<9} {'RUN':<30} {'THREAD':<30} {'STATE':<16} DETAIL")
    for r in rows:
        click.echo(
            f"{r['group']:<9} {r['run_id'] or '-':<30} {r['thread_id']:<30} "
            f"{r['state'] or '-':<16} {r['detail']}".rstrip()
        )


@runs.command("show")
@click.argument("run_id")
@store_option
@json_option
def show_run(run_id: str, store_path: Path, as_json: bool) -> None:
    """One run's journal, anomalies, tool ledger, effect log and decisions."""
    with _open(store_path) as store:
        run = store.load(run_id)
        if run is None:
            raise CliError(f"no run {one_line(run_id, 80)!r} in {store_path}")
        group, detail = _group(store, run)
        effects = store.effects(run_id)
        decisions = store.settlements(run_id)
    if as_json:
        data = {
            "run_id": run.run_id,
            "thread_id": run.thread_id,
            "op_id": run.op_id,
            "group": group,
            "detail": detail,
            "closed": run.closed,
            "revision": run.revision,
            "snapshot": run.snapshot.model_dump(mode="json"),
            "ledger": run.ledger.model_dump(mode="json"),
            "effects": [
                {"seq": e.seq, "call_id": e.tool_call_id, "phase": e.phase.value, "at": e.at}
                | {"detail": e.detail}
                for e in effects
            ],
            "settlements": [
                {"call_id": s.tool_call_id, "decision": s.decision, "at": s.at, "voided": s.voided}
                for s in decisions
            ],
        }
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    snap = run.snapshot
    echo = click.echo
    echo(f"run {run.run_id} on {run.thread_id} ({snap.lifecycle}): {snap.state}, {group}")
    if detail:
        echo(f"  {detail}")
    echo(f"  op_id {run.op_id or '-'}, saved {run.revision} time(s)")
    echo("journal:" if snap.journal else "journal: empty")
    for e in snap.journal:
        how = f"{e.trigger}, via {e.via}" + (", inferred" if e.inferred else "")
        at = f", at {e.at:g}" if e.at is not None else ""
        echo(f"  {e.source} -> {e.dest} ({how}{at})")
    echo("anomalies:" if snap.anomalies else "anomalies: none")
    for a in snap.anomalies:
        echo(f"  {a.kind}: observed {one_line(a.observed, 80)!r} in {a.state} ({a.detail})")
    echo("tool calls:" if run.ledger.entries else "tool calls: none")
    for call_id, entry in run.ledger.entries.items():
        reason = f" ({entry.reason})" if entry.reason else ""
        echo(f"  {call_id} {entry.name}, round {entry.round}: {entry.state.value}{reason}")
        echo(f"    arguments: {one_line(entry.arguments, 200)}")
        if entry.output is not None:
            echo(f"    output: {one_line(entry.output, 200)}")
    echo("effect log:" if effects else "effect log: empty")
    for rec in effects:
        note = f" ({rec.detail})" if rec.detail else ""
        echo(f"  #{rec.seq} {rec.tool_call_id} {rec.phase.value}{note}")
    for s in decisions:
        voided = f", {s.voided} effect record(s) taken out of the log" if s.voided else ""
        echo(f"  decided: {s.tool_call_id} {s.decision}{voided}")


@runs.command("settle")
@click.argument("run_id")
@click.argument("call_id")
@click.option(
    "--as",
    "decision",
    required=True,
    type=click.Choice(sorted(_DECISIONS)),
    help="delivered: the effect happened (give --output); failed: it failed (an error output "
    "is submitted); run-again: it never happened (the tool runs once more).",
)
@click.option("--output", default=None, help="The output to submit (delivered, or failed).")
@store_option
def settle_call(
    run_id: str, call_id: str, decision: str, output: str | None, store_path: Path
) -> None:
    """Decide about a tool call whose effect is unknown (after a crash), so `runs resume`
    (recover()) can go on: it submits the output of a delivered or failed call without running
    the tool, and runs a run-again call exactly once."""
    from adapters.store import StoreError

    if decision == "delivered" and output is None:
        raise CliError("--as delivered needs --output: the output the tool's effect returned")
    if decision == "run-again" and output is not None:
        raise CliError("--as run-again takes no --output: the tool runs again and answers")
    with _open(store_path) as store:
        try:
            store.settle(run_id, call_id, _DECISIONS[decision], output)
        except KeyError:
            if store.load(run_id) is None:
                raise CliError(f"no run {one_line(run_id, 80)!r} in {store_path}") from None
            raise CliError(f"run {run_id} has no tool call {one_line(call_id, 80)!r}") from None
        except (StoreError, ValueError) as exc:
            raise CliError(str(exc)) from None
    then = {
        "delivered": "its output will be submitted without running the tool",
        "failed": "an error output will be submitted without running the tool",
        "run-again": "the tool will run once more",
    }[decision]
    click.echo(
        f"settled {call_id} of run {run_id} as {decision}: {then} by `lifecycle runs resume`"
    )


@runs.command("resume")
@store_option
@click.option(
    "--base-url",
    envvar="OPENAI_BASE_URL",
    required=True,
    help="The server the runs live on, ending in /v1 (or OPENAI_BASE_URL); the key comes "
    "from OPENAI_API_KEY.",
)
@click.option(
    "--tools",
    "tools_path",
    required=True,
    metavar="MODULE:ATTR",
    help="Your ToolRegistry by import path (e.g. myapp.tools:TOOLS; the current directory is "
    "on the path).",
)
@json_option
def resume_runs(store_path: Path, base_url: str, tools_path: str, as_json: bool) -> None:
    """Continue every pending run of the store (recover()): no tool call runs twice, a held
    call stays held until settled.

    Exit 0 when every run completed, 1 otherwise.
    """
    import openai

    from adapters.openai import ResponseController, RunController

    quiet_library_logs()
    tools = load_tools(tools_path)
    client = openai.OpenAI(
        base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY") or "no-key", max_retries=0
    )
    outcomes: list[Any] = []
    with _open(store_path) as store, client, api_errors(base_url):
        outcomes += RunController(client, tools=tools, store=store).recover()
        outcomes += ResponseController(client, tools=tools, store=store).recover()
    if as_json:
        for outcome in outcomes:
            click.echo(json.dumps(outcome.to_dict(), ensure_ascii=False))
    elif not outcomes:
        click.echo(f"{store_path}: nothing to resume")
    for outcome in outcomes if not as_json else ():
        name = getattr(outcome, "run_id", None) or ", ".join(outcome.response_ids) or "-"
        calls = ", ".join(f"{t.id} {t.state}" for t in outcome.tool_calls) or "no tool calls"
        click.echo(f"{name}: {outcome.status} (ending {outcome.ending}); {calls}")
    ok = all(o.status == "completed" and o.ending.kind.value == "terminal" for o in outcomes)
    sys.exit(0 if ok else FAILED)
