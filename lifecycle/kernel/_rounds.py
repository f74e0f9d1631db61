"""Tool rounds: prepare every call, run each at most once, answer the round in one submission.

Theory of operation
-------------------
A round starts when the lifecycle enters its awaiting-client status with the calls it asks for
(the machine emits ``DispatchTools``). For each call, in order:

1. the ledger learns it (``intend``); a call it knows from before keeps its state and output;
2. ``ToolRegistry.prepare`` validates it; an unknown tool or invalid arguments get an error
   output without running;
3. the ready calls are claimed (the one gate: a call that ever started never starts again),
   saved, their ``started`` effects recorded, and handed to the driver in one ``RunTools``;
4. the outputs are recorded, saved, their ``finished`` effects recorded;
5. one submission carries one output per call id.

A call whose effect is unknown (it started before a crash and its output was lost) holds the
round: it is never run again and never answered on anyone's behalf; the drive ends ``held``.

A submission whose answer was lost (timeout, dropped connection, 5xx, garbage) or that the
server refused is never simply resent: the run is read first, and the binding says which outputs
the server holds (:func:`reconcile_submit`). Only outputs known not to have got in are sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lifecycle._approval import MCP_APPROVAL, ApprovalRequest, approval_answer, rejection_output
from lifecycle._dispatch import Prepared, ToolOutput
from lifecycle._ledger import CallState
from lifecycle._records import ToolCall, Via
from lifecycle.kernel._binding import Flow
from lifecycle.kernel._durable import effect, save
from lifecycle.kernel._ending import EndingKind
from lifecycle.kernel._errors import CallFailed, OutcomeUnknown, Stop
from lifecycle.kernel._messages import (
    AskApproval,
    Failure,
    FailureKind,
    RunTools,
    StreamOpened,
    ToolResult,
)
from lifecycle.kernel._results import RoundFinished, RoundStarted, records_from_ledger
from lifecycle.kernel._schedule import retry_delay
from lifecycle.kernel._stream import consume

if TYPE_CHECKING:
    from lifecycle.kernel._drive import Drive

__all__ = ["reconcile_submit", "refuse_resend", "submit", "tool_round"]


def tool_round(d: Drive, calls: Sequence[ToolCall]) -> Flow:
    """Run one round's calls (each at most once) and submit their outputs once."""
    unique = list({c.id: c for c in reversed(calls)}.values())[::-1]
    if not unique:
        return  # requires_action without calls: an anomaly; re-read, never submit nothing
    d.round += 1
    number = d.round
    for call in unique:
        d.ledger.intend(call, round=number)
    yield from d.emit(RoundStarted(d.run_id, number, tuple(unique)))
    yield from execute(d, unique)
    held = [c.id for c in unique if d.ledger.state_of(c.id) is CallState.UNKNOWN_EFFECT]
    if held:
        yield from d.note(
            logging.ERROR,
            "tool calls with an unknown effect; not re-run, not submitted",
            tool_call_ids=held,
        )
        raise Stop(d.ending(EndingKind.HELD, detail=",".join(held)))
    outputs = [d.ledger.output_for(c.id) or d.tools.finish(c, timed_out=True) for c in unique]
    ids = [c.id for c in unique]
    yield from d.emit(
        RoundFinished(d.run_id, number, records_from_ledger(d.ledger, frozenset(ids)))
    )
    signal = d.cancel_signal
    if signal is not None and signal.cancelled:
        d.ledger.undelivered(ids, reason="cancelled")
        return  # the loop sends the cancel; never submit after a cancel request
    yield from submit(d, ids, outputs)


def tool_budget(d: Drive) -> float:
    """Seconds the round's tools may take: the tool timeout, cut to the run's expiry."""
    budget = d.config.tool_timeout_s
    expires_at = d.last.expires_at if d.last is not None else None
    if expires_at:
        budget = min(budget, expires_at - d.wall - d.config.expiry_margin_s)
    return budget


def execute(d: Drive, calls: Sequence[ToolCall]) -> Flow:
    """Prepare the calls never started, ask about those that need approval, run the ready ones
    (none while a decision is pending), record every output."""
    budget = tool_budget(d)
    ready: list[Prepared] = []
    for call in calls:
        if d.ledger.state_of(call.id) is not CallState.INTENDED:
            continue  # ran (or was answered) before: its recorded output is reused
        prepared = d.tools.prepare(call, allowed=d.allowed_tools)
        if prepared.error is not None:
            d.ledger.record(prepared.error, executed=False)
        else:
            ready.append(prepared)
    ready = yield from approvals(d, ready)
    to_run: list[Prepared] = []
    for prepared in ready:
        call = prepared.call
        if budget <= 0:
            d.ledger.record(d.tools.finish(call, timed_out=True), executed=False)
        elif d.ledger.claim(call.id):
            to_run.append(prepared)
    results: tuple[ToolResult, ...] = ()
    if to_run:
        yield from save(d)
        for prepared in to_run:  # committed before the side effect: the at-most-once gate
            yield from effect(d, prepared.call.id, "started")
        reply = yield from d.ask(RunTools(tuple(to_run), budget, max(1, d.config.max_concurrency)))
        results = tuple(reply.value)
        _record(d, results)
    yield from save(d)
    for result in results:
        if result.lost:
            continue  # no "finished" record: the effect log says it started and never ended
        detail = "timed_out" if result.timed_out else "ok"
        if result.output.error is not None and not result.timed_out:
            detail = f"error:{result.output.error}"
        yield from effect(d, result.output.tool_call_id, "finished", detail)


def approvals(d: Drive, ready: list[Prepared]) -> Flow:
    """Ask the approval hook about the calls that need it (once decided, never again); record
    the decisions; hold the round while any is pending. Returns the calls that may run."""
    asking = [
        p
        for p in ready
        if d.ledger.entries[p.call.id].approval != "approved" and d.tools.approval_needed(p)
    ]
    if not asking:
        return ready
    requests = tuple(ApprovalRequest.of(p.call, d.run_id) for p in asking)
    reply = yield from d.ask(AskApproval(requests))
    pending = []
    for prepared, decision in zip(asking, reply.value, strict=True):
        call = prepared.call
        if decision is None:
            d.ledger.decide(call.id, None)
            pending.append(call.id)
        elif call.kind == MCP_APPROVAL:
            d.ledger.decide(call.id, decision.approved, approval_answer(call.id, decision))
        elif decision.approved:
            d.ledger.decide(call.id, True)
        else:
            cap = d.tools.max_output_chars
            d.ledger.decide(call.id, False, rejection_output(call.id, decision, cap))
    yield from save(d)
    if pending:
        yield from d.note(logging.WARNING, "waiting for approval", tool_call_ids=pending)
        raise Stop(d.ending(EndingKind.HELD, detail="approval:" + ",".join(pending)))
    return [p for p in ready if d.ledger.state_of(p.call.id) is CallState.INTENDED]


def _record(d: Drive, results: Sequence[ToolResult]) -> None:
    """Record a batch's results in the ledger (a lost call: an unknown effect)."""
    for result in results:
        if result.lost:  # a worker died with the call in hand: never run again
            d.ledger.mark_unknown(result.output.tool_call_id)
        else:
            d.ledger.record(result.output, executed=result.executed, timed_out=result.timed_out)


def submit(d: Drive, ids: list[str], outputs: list[ToolOutput]) -> Flow:
    """Submit one output per call id, once; reconcile before anything is sent again."""
    if not d.binding.capabilities.checks_lost_submits:
        yield from _mark_submitted(d, ids)
    attempts = 0
    while True:
        http = d.binding.submit(d.scope, d.run_id, outputs, stream=d.streaming, last=d.last)
        try:
            value = yield from d.call("submit", http, mutating=True)
        except OutcomeUnknown as unknown:
            if not d.binding.capabilities.checks_lost_submits:
                # the API gives no way to tell whether it got in: never resend it
                raise Stop(d.ending(EndingKind.OUTCOME_UNKNOWN, detail="submit")) from None
            settled = yield from reconcile_submit(d, ids)
            if settled:
                return
            attempts += 1
            if attempts >= d.config.retry.max_attempts:
                raise CallFailed(unknown.op, unknown.failure) from None
            yield from d.sleep(retry_delay(None, attempts, d.config.retry, d.rng))
            continue
        except CallFailed as failed:
            if failed.failure.kind is FailureKind.STATUS and failed.failure.status == 400:
                yield from d.note(logging.WARNING, "submit refused; re-reading the run")
                yield from reconcile_submit(d, ids)
                return
            raise
        yield from _accepted(d, ids, value)
        return


def _accepted(d: Drive, ids: list[str], value: object) -> Flow:
    """The server accepted the outputs (2xx): record the delivery, then take the answer."""
    new_object = d.binding.capabilities.submit_starts_new_object
    if new_object:  # the answer is the next object: the round's edge is ours, certainly
        entry = d.lc.trigger(d.facts.submit_trigger[d.lc._status], at=d.wall, tool_call_ids=ids)
        d.unreported = (entry,)
    else:
        d.lc.record_submission(ids)
    d.ledger.delivered(ids)
    if not new_object:  # a new object is saved once its id is known (superseding this one)
        yield from save(d)
    if isinstance(value, StreamOpened):
        yield from consume(d, value.handle, new_object=new_object)
        return
    # accepted (2xx); if unreadable, the next poll tells (the run's own id is known)
    readable = yield from d.answered(value, new_object=new_object)
    if new_object and not readable:
        raise Stop(d.ending(EndingKind.OUTCOME_UNKNOWN, detail="next_response"))


def _mark_submitted(d: Drive, ids: Sequence[str]) -> Flow:
    """Where a lost submit cannot be checked: refuse to send an output that an earlier drive
    may have got in (effect log ``submitted``); record the others before they are sent."""
    yield from refuse_resend(d, ids)
    for call_id in ids:
        yield from effect(d, call_id, "submitted")
        d.submitted.add(call_id)


def reconcile_submit(d: Drive, ids: list[str]) -> Flow:
    """After a submit whose answer was lost or refused, find out whether the outputs got in.

    Returns whether that is settled: delivered, or never deliverable because the run ended.
    ``False`` means the outputs surely did not get in and the run still waits for them.

    The binding's answer (Assistants: the run's ``tool_calls`` step, whose ``function.output`` is
    set once the server accepted the outputs) is the authority; a run's status alone can mislead
    (a stale read). Only when the binding cannot tell does the status decide.
    """
    d.lc.record_submission(ids)  # we did send it: a move past requires_action is ours
    before = len(d.lc.history)
    while True:
        try:
            response = yield from d.call("retrieve", d.binding.retrieve(d.scope, d.run_id))
            parsed = d.binding.parse(response.body)
            if isinstance(parsed, Failure):
                raise CallFailed("retrieve", parsed)
            yield from d.observe(parsed, Via.POLL)
            accepted = yield from d.binding.accepted_outputs(d, ids)
            break
        except CallFailed as failed:
            if failed.failure.kind is not FailureKind.MALFORMED:
                raise
            # garbage: nothing is known; never resend on no knowledge, read again
            yield from d.note(logging.WARNING, "unreadable answer while reconciling a submit")
            yield from d.sleep(max(d.schedule.wait, d.config.first_poll_backoff_s))
    if accepted is None:  # the API cannot tell: judge by the status
        delivered = any(
            (e.source, e.trigger) in d.facts.submit_triggers for e in d.lc.history[before:]
        )
    else:
        delivered = accepted >= set(ids)
    if delivered:
        d.ledger.delivered(ids)
        yield from save(d)
        return True
    if d.lc.is_terminal or (accepted is None and not d.lc.awaiting_client):
        d.ledger.undelivered(ids, reason=d.lc._status)
        yield from save(d)
        return True
    return False


def refuse_resend(d: Drive, ids: Sequence[str]) -> Flow:
    """Where a lost submit cannot be checked, end the drive ``outcome_unknown`` (submit) when
    an earlier drive may have sent any of these outputs (effect log ``submitted``)."""
    again = [c for c in ids if c in d.submitted]
    if again:
        yield from d.note(
            logging.ERROR,
            "outputs an earlier drive submitted, with no answer on record; not sent again",
            tool_call_ids=again,
        )
        raise Stop(d.ending(EndingKind.OUTCOME_UNKNOWN, detail="submit"))
