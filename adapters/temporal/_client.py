"""The client side: start, await, query and cancel runs driven by the workflow.

Theory of operation
-------------------
A run's workflow id is derived from its op id (:func:`~adapters.temporal._data.workflow_id`), and
a start refuses an id that is running or was ever used (``REJECT_DUPLICATE`` and ``FAIL``): a
caller that retries a start with the same ``op_id`` gets
``temporalio.exceptions.WorkflowAlreadyStartedError`` and can take the running run's handle with
:meth:`LifecycleClient.get` instead; a run is never created twice. The op id also tags the run
(``metadata.op_id``), so a create whose answer was lost is found again.

A :class:`RunHandle` awaits the :class:`~adapters.temporal.DriveReport`, sends the ``cancel``
signal and reads the queries. The client never needs the tool registry: the workers have it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from adapters.temporal._data import (
    ASSISTANTS,
    RESPONSES,
    WORKFLOW_NAME,
    DriveReport,
    StartDrive,
    TemporalOptions,
    config_to_json,
    workflow_id,
)
from lifecycle.kernel import ActiveRunPolicy, ControllerConfig

__all__ = ["LifecycleClient", "RunHandle"]


class RunHandle:
    """One run's workflow.

    Attributes:
        op_id: the run's op id.
        workflow_id: its workflow id.
        handle: the Temporal handle (for anything else Temporal offers).
    """

    def __init__(self, op_id: str, handle: WorkflowHandle[Any, Any]) -> None:
        self.op_id = op_id
        self.workflow_id = handle.id
        self.handle = handle

    async def result(self) -> DriveReport:
        """Wait for the drive to end; its report.

        Raises:
            temporalio.client.WorkflowFailureError: the create failed for good (the cause is an
                ``ApplicationError`` of type ``CreateFailed`` or ``ThreadBusy``).
        """
        report: DriveReport = await self.handle.result()
        return report

    async def cancel(self) -> None:
        """Ask for the run to be cancelled (the drive sends one cancel and follows it)."""
        await self.handle.signal("cancel")

    async def decide(self, call_id: str, *, approved: bool, reason: str | None = None) -> None:
        """Approve or reject a call the run waits for (see :meth:`awaiting_approval`); a
        rejection's reason is shown to the model. The first decision about a call stands."""
        await self.handle.signal("decide", args=[call_id, approved, reason])

    async def awaiting_approval(self) -> list[dict[str, Any]]:
        """The calls the run's current round waits for a decision about."""
        asking: list[dict[str, Any]] = await self.handle.query("awaiting_approval")
        return asking

    async def state(self) -> dict[str, Any]:
        """Where the drive stands (run id, status, round, requests, cancel, ending)."""
        state: dict[str, Any] = await self.handle.query("state")
        return state

    async def journal(self) -> list[dict[str, Any]]:
        """The applied transitions so far."""
        journal: list[dict[str, Any]] = await self.handle.query("journal")
        return journal

    async def events(self) -> list[dict[str, Any]]:
        """The events of the current workflow run."""
        events: list[dict[str, Any]] = await self.handle.query("events")
        return events

    async def outcome(self) -> DriveReport | None:
        """The report once the drive ended, else ``None``."""
        report: DriveReport | None = await self.handle.query("outcome", result_type=DriveReport)
        return report

    def __repr__(self) -> str:
        return f"<RunHandle op_id={self.op_id!r} workflow_id={self.workflow_id!r}>"


class LifecycleClient:
    """Start runs on the workers of a task queue.

    Args:
        client: a connected Temporal client.
        task_queue: the workers' queue.
        config: the kernel settings for the runs started here (defaults otherwise).
        options: how the workflow uses Temporal (timeouts, continue-as-new).

    Example::

        runs = await LifecycleClient.connect("127.0.0.1:7233", task_queue="runs")
        handle = await runs.start_run(thread_id=thread.id, assistant_id=assistant.id)
        report = await handle.result()
        print(report.status, report.text)
    """

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str,
        config: ControllerConfig | None = None,
        options: TemporalOptions | None = None,
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self.config = config
        self.options = options if options is not None else TemporalOptions()

    @classmethod
    async def connect(
        cls, target: str, *, task_queue: str, namespace: str = "default", **settings: Any
    ) -> LifecycleClient:
        """Connect to Temporal at ``target`` (``HOST:PORT``); ``settings`` as for the class."""
        client = await Client.connect(target, namespace=namespace)
        return cls(client, task_queue=task_queue, **settings)

    def get(self, op_id: str) -> RunHandle:
        """The handle of a run started earlier (by anyone) with ``op_id``."""
        handle = self.client.get_workflow_handle(workflow_id(op_id), result_type=DriveReport)
        return RunHandle(op_id, handle)

    async def start_run(
        self,
        *,
        thread_id: str,
        assistant_id: str,
        op_id: str | None = None,
        allowed_tools: Collection[str] | None = None,
        on_active_run: ActiveRunPolicy = "fail",
        config: ControllerConfig | None = None,
        **create_args: Any,
    ) -> RunHandle:
        """Start an Assistants run on ``thread_id`` (``create_args`` go to the create)."""
        _check(thread_id=thread_id, assistant_id=assistant_id)
        start = self._start(ASSISTANTS, op_id, allowed_tools, config)
        start.thread_id = thread_id
        start.on_active_run = on_active_run
        start.create_args = {"assistant_id": assistant_id, **create_args}
        return await self._launch(start)

    async def attach_run(
        self,
        *,
        thread_id: str,
        run_id: str,
        op_id: str | None = None,
        allowed_tools: Collection[str] | None = None,
        config: ControllerConfig | None = None,
    ) -> RunHandle:
        """Drive an existing Assistants run (tool rounds included) in a workflow."""
        _check(thread_id=thread_id, run_id=run_id)
        start = self._start(ASSISTANTS, op_id or f"attach-{run_id}", allowed_tools, config)
        start.thread_id = thread_id
        start.run_id = run_id
        return await self._launch(start)

    async def start_chain(
        self,
        *,
        model: str,
        input: Any,
        instructions: str | None = None,
        op_id: str | None = None,
        allowed_tools: Collection[str] | None = None,
        config: ControllerConfig | None = None,
        **create_args: Any,
    ) -> RunHandle:
        """Start a Responses API background chain (the workers add their registry's tools)."""
        if not isinstance(model, str) or not model:
            raise ValueError(f"model must be a non-empty string, not {model!r}")
        if create_args.pop("background", True) is not True:
            raise ValueError("a chain is driven in background mode: background must be True")
        if "previous_response_id" in create_args or "conversation" in create_args:
            raise ValueError("previous_response_id and conversation are the workflow's")
        start = self._start(RESPONSES, op_id, allowed_tools, config)
        args: dict[str, Any] = {**create_args, "model": model, "input": input}
        if instructions is not None:
            args["instructions"] = instructions
        start.create_args = args
        return await self._launch(start)

    def _start(
        self,
        kind: str,
        op_id: str | None,
        allowed_tools: Collection[str] | None,
        config: ControllerConfig | None,
    ) -> StartDrive:
        op = op_id if op_id is not None else uuid.uuid4().hex
        _check(op_id=op)
        chosen = config if config is not None else self.config
        return StartDrive(
            kind=kind,
            op_id=op,
            config=config_to_json(chosen) if chosen is not None else None,
            allowed_tools=sorted(allowed_tools) if allowed_tools is not None else None,
            options=self.options,
        )

    async def _launch(self, start: StartDrive) -> RunHandle:
        handle = await self.client.start_workflow(
            WORKFLOW_NAME,
            start,
            id=workflow_id(start.op_id),
            task_queue=self.task_queue,
            result_type=DriveReport,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            task_timeout=timedelta(seconds=start.options.workflow_task_timeout_s),
        )
        return RunHandle(start.op_id, handle)

    def __repr__(self) -> str:
        return f"<LifecycleClient task_queue={self.task_queue!r}>"


def _check(**ids: Any) -> None:
    for name, value in ids.items():
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string, not {value!r}")
