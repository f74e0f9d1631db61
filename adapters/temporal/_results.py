"""The workflow's pure helpers: a continued run's drive taken up from what its predecessor
carried, and the workflow's result built from the drive's.

Deterministic, no I/O: imported through the sandbox like the kernel.
"""

from __future__ import annotations

from typing import Any

from adapters.temporal._data import ASSISTANTS, Carried, DriveReport, StartDrive
from lifecycle.kernel import Drive, DriveCheckpoint, DriveResult, Flow, output_text

__all__ = ["entry", "report", "resume"]


def resume(drive: Drive, carried: Carried, op_id: str) -> Flow:
    """The flow of a continued run: the drive taken up from the checkpoint its predecessor
    carried (clocks, counters, cancel state, lifecycle, ledger, the chain's arguments)."""
    point = DriveCheckpoint(
        scope=drive.scope,
        run_id=carried.run_id,
        op_id=op_id,
        lifecycle=carried.snapshot,
        ledger=carried.ledger,
        started=carried.drive_started,
        state_since=carried.state_since,
        requests=carried.requests,
        object_ids=tuple(carried.object_ids),
        cancel_requested=carried.cancel_requested,
        cancel_started=carried.cancel_started,
        user_cancel_seen=carried.user_cancel_seen,
        deadline=carried.deadline,
        binding={"carry": dict(carried.chain_args)} if carried.chain_args else {},
    )
    return drive.continue_from(point, started=carried.started, unfinished=carried.unfinished)


def entry(e: Any) -> dict[str, Any]:
    return {
        "source": e.source,
        "dest": e.dest,
        "trigger": e.trigger,
        "via": e.via,
        "at": e.at,
        "inferred": e.inferred,
        "external": e.external,
    }


def report(start: StartDrive, drive: Drive, result: DriveResult, continued: int) -> DriveReport:
    """The workflow's result, from the drive's."""
    ending = result.ending
    messages = "\n\n".join(result.messages)
    text = messages if start.kind == ASSISTANTS else output_text(result.payload)
    calls = [
        {
            "id": r.id,
            "name": r.name,
            "state": r.state,
            "output": r.output,
            "error": r.error,
            "round": r.round,
        }
        for r in result.tool_calls
    ]
    anomalies = [
        {"kind": a.kind, "observed": a.observed, "state": a.state, "via": a.via, "detail": a.detail}
        for a in result.anomalies
    ]
    status = ending.outcome_status
    return DriveReport(
        op_id=start.op_id,
        kind=start.kind,
        run_id=result.run_id,
        scope=result.scope,
        status=status,
        ending=ending.kind.value,
        ending_text=str(ending),
        deadline=ending.deadline,
        ok=ending.kind.value == "terminal" and status == "completed",
        object_ids=list(result.object_ids),
        tool_calls=calls,
        history=[entry(e) for e in result.history],
        anomalies=anomalies,
        text=text,
        requests=result.requests,
        cancel_requested=result.cancel_requested,
        cancel_lost_race=result.cancel_lost_race,
        continued=continued,
    )
