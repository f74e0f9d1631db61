"""The workflow: one kernel drive per run, pumped inside Temporal's deterministic sandbox.

Theory of operation
-------------------
:class:`LifecycleWorkflow` is the in-process controller's pump (``adapters/openai/_async/
_pump.py``) with Temporal in place of the event loop: it builds one :class:`Drive` (Assistants run
or Responses chain, ``durable=True``, ``stream=False``, ``rng=workflow.random()``), takes its
requests one by one and has :class:`~adapters.temporal._perform.WorkflowIO` perform them as
activities and timers. Every reply carries ``workflow.time()``. The kernel reads no clock, draws
no other randomness and does no I/O, so a replay of the history hands it the same replies in the
same order and it makes the same requests: the drive *is* the workflow's state.

Handlers:

* signal ``cancel``: the drive's cancel signal (read by the kernel between steps: it sends one
  cancel, follows it to its end, the outcome says so); it also ends a durable sleep at once;
* signal ``decide(call_id, approved, reason)``: the approval of a call that needs one (a tool
  registered ``needs_approval``, an MCP approval request); the round waits for it durably
  (``options.approval_timeout_s``; then the undecided calls hold the drive ``held``);
* queries ``state``, ``journal``, ``events``, ``outcome`` (``None`` until the drive ended) and
  ``awaiting_approval`` (the calls the round waits for);
* Temporal's own cancellation of the workflow: the drive is interrupted (one cancel for a live
  run, ending ``interrupted``), like an asyncio task cancelled under the async controller.

Long runs continue as new before Temporal's history limits: at a sleep between polls, once the
history holds ``options.continue_as_new_events`` events (or Temporal suggests it), the workflow
hands its successor the lifecycle snapshot, the ledger, the effect log and the drive's clocks
(:class:`~adapters.temporal._data.Carried`); the successor resumes the drive with
``Drive.resume``, which reads the run first. A call that started and never finished stays an
unknown effect across the handover; a recorded output is reused, never recomputed.

A create that fails for good (no run exists) fails the workflow with a non-retryable
``ApplicationError`` of type ``CreateFailed`` (``ThreadBusy`` for a busy thread).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from adapters.temporal._perform import Keeper, WorkflowIO

with workflow.unsafe.imports_passed_through():
    from adapters.temporal import _registry
    from adapters.temporal._data import (
        ASSISTANTS,
        KINDS,
        RESPONSES,
        WORKFLOW_NAME,
        Carried,
        DriveReport,
        StartDrive,
        config_from_json,
    )
    from adapters.temporal._results import entry, report, resume
    from lifecycle import Decision, ToolRegistry
    from lifecycle.kernel import (
        ApiCall,
        AskApproval,
        AssistantsBinding,
        CallFailed,
        ControllerConfig,
        Drive,
        DriveResult,
        Emit,
        Flow,
        Reply,
        Request,
        ResponsesBinding,
        RunTools,
        Sleep,
        ThreadBusy,
    )

__all__ = ["LifecycleWorkflow"]


class _CancelFlag:
    """The drive's cancel signal, set by the ``cancel`` signal handler."""

    def __init__(self, cancelled: bool = False) -> None:
        self.cancelled = cancelled


@workflow.defn(name=WORKFLOW_NAME)
class LifecycleWorkflow:
    """Drive one Assistants run or Responses chain to its end (see the module docstring)."""

    def __init__(self) -> None:
        self._flag = _CancelFlag()
        self._drive: Drive | None = None
        self._keeper = Keeper()
        self._report: DriveReport | None = None
        self._start: StartDrive | None = None
        self._continued = 0
        self._decisions: dict[str, Decision] = {}
        self._asking: list[dict[str, Any]] = []

    # -- handlers ------------------------------------------------------------------------------

    @workflow.signal
    def cancel(self) -> None:
        """Cancel the run: the drive sends one cancel and follows it to its end."""
        self._flag.cancelled = True

    @workflow.signal
    def decide(self, call_id: str, approved: bool, reason: str | None = None) -> None:
        """Approve (or reject, with a reason the model sees) a call the round waits for."""
        self._decisions.setdefault(call_id, Decision(approved, reason))

    @workflow.query
    def awaiting_approval(self) -> list[dict[str, Any]]:
        """The calls the current round waits for a decision about (id, name, kind, server)."""
        return list(self._asking)

    @workflow.query
    def state(self) -> dict[str, Any]:
        """Where the drive stands: run id, status, round, requests, cancel, ending."""
        d = self._drive
        start = self._start
        return {
            "op_id": start.op_id if start is not None else "",
            "kind": start.kind if start is not None else "",
            "run_id": d.run_id if d is not None else "",
            "status": d.status if d is not None else "",
            "round": d.round if d is not None else 0,
            "requests": d.requests if d is not None else 0,
            "cancel_requested": self._flag.cancelled or (d is not None and d.cancel_requested),
            "continued": self._continued,
            "done": self._report is not None,
            "ending": self._report.ending if self._report is not None else None,
        }

    @workflow.query
    def journal(self) -> list[dict[str, Any]]:
        """The applied transitions, oldest first (carried across continue-as-new)."""
        d = self._drive
        return [entry(e) for e in d.lc.history] if d is not None else []

    @workflow.query
    def events(self) -> list[dict[str, Any]]:
        """The events of this workflow run (status changes, rounds, warnings), oldest first."""
        return list(self._keeper.events)

    @workflow.query
    def outcome(self) -> DriveReport | None:
        """The report, once the drive ended."""
        return self._report

    # -- the run -------------------------------------------------------------------------------

    @workflow.run
    async def run(self, start: StartDrive) -> DriveReport:
        """Drive the run to its end; its report."""
        if start.kind not in KINDS:
            raise ApplicationError(f"unknown kind {start.kind!r}", non_retryable=True)
        self._start = start
        registry = _registry.lookup(workflow.info().task_queue)
        config = config_from_json(start.config)
        carried = start.carried
        if carried is not None:
            self._continued = carried.continued
            self._flag.cancelled = carried.user_cancelled
            self._keeper = Keeper(carried.started, carried.unfinished)
        drive, flow = self._begin(start, registry, config)
        self._drive = drive
        io = WorkflowIO(
            registry,
            start.options,
            config.request_timeout_s,
            start.allowed_tools,
            lambda: self._flag.cancelled,
        )
        try:
            result = await self._pump(drive, flow, io, start)
        except CallFailed as failed:
            failure = failed.failure
            raise ApplicationError(
                f"the create failed for good: {failure.reason} {failure.message}".strip(),
                failure.reason,
                type="CreateFailed",
                non_retryable=True,
            ) from None
        except ThreadBusy as busy:
            raise ApplicationError(str(busy), type="ThreadBusy", non_retryable=True) from None
        except asyncio.CancelledError:
            if not drive.run_id:
                raise
            workflow.logger.warning("workflow cancelled: interrupting the drive")
            result = await self._pump(drive, drive.interrupted(), io, None)
        self._report = report(start, drive, result, self._continued)
        return self._report

    def _begin(
        self, start: StartDrive, registry: ToolRegistry, config: ControllerConfig
    ) -> tuple[Drive, Flow]:
        """The drive and its flow: a create, an attach, or a resume after continue-as-new."""
        if start.kind == ASSISTANTS:
            binding: AssistantsBinding | ResponsesBinding = AssistantsBinding(
                on_active_run=start.on_active_run,  # type: ignore[arg-type]
                stream_timeout=config.stream_idle_timeout_s,
            )
            scope = start.thread_id
        else:
            binding = ResponsesBinding(stream_timeout=config.stream_idle_timeout_s)
            scope = start.op_id
        carried = start.carried
        now = workflow.time()
        drive = Drive(
            binding,
            config=config,
            scope=scope,
            run_id=carried.run_id if carried is not None else start.run_id,
            now=now,
            wall=now,
            tools=registry,
            allowed_tools=start.allowed_tools,
            rng=workflow.random(),
            stream=False,
            durable=True,
            cancel_signal=self._flag,
        )
        if carried is not None:
            return drive, resume(drive, carried, start.op_id)
        if start.run_id:
            drive.op_id = start.op_id
            return drive, drive.attach()
        args = dict(start.create_args)
        if start.kind == RESPONSES and len(registry):
            functions = registry.response_definitions(start.allowed_tools)
            args["tools"] = [*args.get("tools", []), *functions]
        return drive, drive.create(args, op_id=start.op_id)

    async def _pump(
        self, drive: Drive, flow: Flow, io: WorkflowIO, start: StartDrive | None
    ) -> DriveResult:
        """Perform the drive's requests until it returns its result (or continues as new)."""
        keeper = self._keeper
        try:
            request: Request = next(flow)
            while True:
                value: Any = None
                failure = None
                if isinstance(request, ApiCall):
                    value, failure = await io.api(request)
                elif isinstance(request, Sleep):
                    if start is not None and self._should_continue(drive, start):
                        flow.close()
                        task_timeout = timedelta(seconds=start.options.workflow_task_timeout_s)
                        successor = self._successor(drive, start)
                        workflow.continue_as_new(successor, task_timeout=task_timeout)
                    await io.sleep(request.seconds)
                elif isinstance(request, RunTools):
                    value = await io.tools(request)
                elif isinstance(request, AskApproval):
                    value = await self._approvals(request, start)
                elif isinstance(request, Emit):
                    keeper.emit(request, drive.scope)
                else:
                    keeper.store(request)
                now = workflow.time()
                try:
                    request = flow.send(Reply(value, failure, now, now))
                except StopIteration as stop:
                    result: DriveResult = stop.value
                    return result
        finally:
            flow.close()

    async def _approvals(
        self, request: AskApproval, start: StartDrive | None
    ) -> list[Decision | None]:
        """Wait (durably) for a ``decide`` signal per call, or the timeout, or a cancel."""
        ids = [r.call_id for r in request.requests]
        self._asking = [
            {"call_id": r.call_id, "name": r.name, "kind": r.kind, "server_label": r.server_label}
            for r in request.requests
        ]
        timeout = start.options.approval_timeout_s if start is not None else None
        with contextlib.suppress(TimeoutError):  # the undecided calls hold the drive
            await workflow.wait_condition(
                lambda: self._flag.cancelled or all(i in self._decisions for i in ids),
                timeout=timeout,
            )
        self._asking = []
        return [self._decisions.get(i) for i in ids]

    # -- continue-as-new -----------------------------------------------------------------------

    def _should_continue(self, drive: Drive, start: StartDrive) -> bool:
        if not drive.run_id:
            return False
        info = workflow.info()
        limit = start.options.continue_as_new_events
        return info.get_current_history_length() >= limit or info.is_continue_as_new_suggested()

    def _successor(self, drive: Drive, start: StartDrive) -> StartDrive:
        """The next run's input: the same start, with the drive's checkpoint."""
        point = drive.checkpoint()
        carried = Carried(
            run_id=point.run_id,
            snapshot=point.lifecycle,
            ledger=point.ledger,
            started=sorted(self._keeper.started),
            unfinished=sorted(self._keeper.unfinished),
            drive_started=point.started,
            state_since=point.state_since,
            requests=point.requests,
            object_ids=list(point.object_ids),
            cancel_requested=point.cancel_requested,
            cancel_started=point.cancel_started,
            user_cancel_seen=point.user_cancel_seen,
            user_cancelled=self._flag.cancelled,
            deadline=point.deadline,
            chain_args=dict(point.binding.get("carry", {})),
            continued=self._continued + 1,
        )
        workflow.logger.info(
            "continuing as new", extra={"run_id": drive.run_id, "continued": carried.continued}
        )
        return StartDrive(
            kind=start.kind,
            op_id=start.op_id,
            thread_id=start.thread_id,
            config=start.config,
            allowed_tools=start.allowed_tools,
            on_active_run=start.on_active_run,
            options=start.options,
            carried=carried,
        )
