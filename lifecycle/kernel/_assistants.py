"""The Assistants binding: the run table, the ``/threads/{id}/runs`` requests, the run JSON.

Theory of operation
-------------------
Requests are data (:class:`~lifecycle.kernel.HttpRequest`), with the ``OpenAI-Beta:
assistants=v2`` header the API requires; the driver sends them with the SDK's client. Answers
are parsed here from their JSON, trusting nothing: a body that is not a run object (malformed
JSON, an HTML page, a list, an object with no ``id`` or ``status``, a tool call without an id)
is a ``MALFORMED`` failure, which the kernel treats as a lost observation (or, for our own
create, submit or cancel, as an answer that may have been applied).

Three steps need more than one request:

* **create**: the run is tagged ``metadata.op_id``. A create whose answer is lost is looked up on
  the thread by that tag before anything is sent again. A create refused because the thread has
  an active run follows ``on_active_run``: ``fail`` (``ThreadBusy``), ``adopt`` (drive that run
  instead) or ``cancel`` (cancel it, wait for its end, create again).
* **accepted outputs**: after a submit whose answer was lost, the run's ``tool_calls`` step says
  which outputs the server holds (``function.output`` is set once it accepted them).
* **watch / messages**: completed steps and assistant messages, for ``events()`` and the answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

from lifecycle._dispatch import ToolOutput
from lifecycle._records import Via
from lifecycle._table import ASSISTANTS_RUN
from lifecycle.kernel._assistants_json import (
    EMPTY,
    json_value,
    malformed,
    message_item,
    page,
    parse_run,
    step_item,
)
from lifecycle.kernel._binding import Capabilities, DriveApi, Flow, Observation, StreamItem
from lifecycle.kernel._calls import retryable
from lifecycle.kernel._errors import CallFailed, DeadlineReached, OutcomeUnknown, ThreadBusy
from lifecycle.kernel._messages import (
    Failure,
    FailureKind,
    HttpRequest,
    HttpResponse,
    SseEvent,
    StreamOpened,
)
from lifecycle.kernel._schedule import retry_delay

__all__ = ["ActiveRunPolicy", "AssistantsBinding", "parse_run"]

#: What ``run()`` does about a foreign active run on the thread: cancel it and wait for it to end,
#: adopt it (drive it to its end as this call's run), or fail with :class:`ThreadBusy`.
ActiveRunPolicy = Literal["cancel", "adopt", "fail"]
ACTIVE_RUN_POLICIES: frozenset[str] = frozenset({"cancel", "adopt", "fail"})

_BETA = {"OpenAI-Beta": "assistants=v2"}
#: the server's 400 texts for "a run is active on this thread" (create, and add-message)
_ACTIVE_RUN = re.compile(r"already has an active run|while a run .* is active", re.IGNORECASE)
_TERMINAL = ASSISTANTS_RUN.terminal_values


def _q(value: str) -> str:
    return quote(value, safe="")


class AssistantsBinding:
    """Assistants runs (``thread.run``) over ``/threads/{thread_id}/runs``.

    Args:
        on_active_run: what a create refused for a foreign active run does.
        stream_timeout: the idle timeout of a streaming request, in seconds.
    """

    spec = ASSISTANTS_RUN
    capabilities = Capabilities()

    def __init__(
        self, *, on_active_run: ActiveRunPolicy = "fail", stream_timeout: float | None = None
    ) -> None:
        if on_active_run not in ACTIVE_RUN_POLICIES:
            raise ValueError(f"on_active_run must be one of {sorted(ACTIVE_RUN_POLICIES)}")
        self.on_active_run = on_active_run
        self.stream_timeout = stream_timeout

    # -- requests ------------------------------------------------------------------------------

    def _runs(self, scope: str, run_id: str = "", tail: str = "") -> str:
        path = f"/threads/{_q(scope)}/runs"
        if run_id:
            path += f"/{_q(run_id)}"
        return path + tail

    def retrieve(self, scope: str, run_id: str) -> HttpRequest:
        """``GET /threads/{thread_id}/runs/{run_id}``."""
        return HttpRequest("GET", self._runs(scope, run_id), headers=_BETA)

    def cancel(self, scope: str, run_id: str) -> HttpRequest:
        """``POST /threads/{thread_id}/runs/{run_id}/cancel``."""
        return HttpRequest("POST", self._runs(scope, run_id, "/cancel"), body={}, headers=_BETA)

    def submit(
        self,
        scope: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        stream: bool,
        last: Observation | None = None,
    ) -> HttpRequest:
        """``POST .../submit_tool_outputs`` with every output of the round."""
        body: dict[str, Any] = {"tool_outputs": [o.to_param() for o in outputs]}
        if stream:
            body["stream"] = True
        return HttpRequest(
            "POST",
            self._runs(scope, run_id, "/submit_tool_outputs"),
            body=body,
            headers=_BETA,
            stream=stream,
            timeout=self.stream_timeout if stream else None,
        )

    def parse(self, body: bytes) -> Observation | Failure:
        """A run body as an :class:`Observation`, or a ``MALFORMED`` failure."""
        data = json_value(body)
        return data if isinstance(data, Failure) else parse_run(data)

    def parse_event(self, event: SseEvent) -> StreamItem:
        """``thread.run.*`` events observe the run; completed steps and messages are reported;
        an ``error`` event fails the stream; anything else is skipped."""
        name = event.event
        if name.startswith("thread.run.step."):
            return step_item(event.data)
        if name.startswith("thread.run."):
            parsed = parse_run(event.data)
            if isinstance(parsed, Failure):
                return StreamItem(failure=parsed)
            return StreamItem(observation=parsed)
        if name == "thread.message.completed":
            return message_item(event.data)
        if name == "error":
            return StreamItem(failure=Failure(FailureKind.STREAM, message="error event"))
        return EMPTY

    def state(self) -> dict[str, Any]:
        """Nothing beyond its settings: an Assistants drive keeps its state in the kernel."""
        return {}

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Nothing to take up."""

    def resume_stream(self, scope: str, run_id: str, after: int) -> HttpRequest | None:
        """Assistants streams cannot be resumed: polling takes over."""
        return None

    # -- create ---------------------------------------------------------------------------------

    def op_id_from(self, args: Mapping[str, Any]) -> str | None:
        """A caller's own ``metadata.op_id`` (a create they may retry)."""
        metadata = args.get("metadata")
        op_id = metadata.get("op_id") if isinstance(metadata, Mapping) else None
        return str(op_id) if op_id else None

    def create(self, api: DriveApi, args: Mapping[str, Any], op_id: str, *, stream: bool) -> Flow:
        """Create the run (tagged ``metadata.op_id``); returns a stream to consume, or ``None``.

        Raises:
            CallFailed: the create failed for good.
            ThreadBusy: a foreign active run the policy does not resolve.
        """
        body = dict(args)
        body["metadata"] = {**dict(args.get("metadata") or {}), "op_id": op_id}
        if stream:
            body["stream"] = True
        http = HttpRequest(
            "POST",
            self._runs(api.scope),
            body=body,
            headers=_BETA,
            stream=stream,
            timeout=self.stream_timeout if stream else None,
        )
        attempts = busy = 0
        while True:
            try:
                value = yield from api.call("create", http, mutating=True)
            except OutcomeUnknown as unknown:
                attempts += 1
                found = yield from self._after_lost_create(api, op_id, unknown, attempts)
                if found:
                    return None
                continue
            except CallFailed as failed:
                failure = failed.failure
                if failure.status != 400 or not _ACTIVE_RUN.search(failure.message) or busy >= 3:
                    raise
                busy += 1
                adopted = yield from self._resolve_active(api, op_id)
                if adopted:
                    return None
                continue
            if isinstance(value, StreamOpened):
                return value
            readable = yield from api.answered(value)
            if readable:
                return None
            # a 2xx we cannot read: the run exists (or not); look for it before anything else
            found = yield from self.find_created(api, op_id)
            if found:
                return None
            raise CallFailed("create", malformed("the create's answer is unreadable"))

    def _after_lost_create(
        self, api: DriveApi, op_id: str, unknown: OutcomeUnknown, attempts: int
    ) -> Flow:
        """A create whose outcome is unknown: find its run by ``op_id``; if none carries it, wait
        to send it again (``False``), or give up (raise) once out of attempts or of time (the
        intent then stays open for ``recover()``). Returns ``True`` when the run was found."""
        found = yield from self.find_created(api, op_id)
        if found:
            yield from api.stream_failed("the create's answer was lost")
            return True
        if attempts >= api.retry.max_attempts:
            raise CallFailed(unknown.op, unknown.failure) from None
        try:
            yield from api.sleep(retry_delay(None, attempts, api.retry, api.rng))
        except DeadlineReached:
            found = yield from self.find_created(api, op_id)  # out of time: one last look
            if found:
                return True
            raise
        return False

    def _list_runs(self, api: DriveApi) -> Flow:
        """The thread's most recent runs, as observations (garbage entries skipped).

        A list that keeps failing past its retries (5xx, 429, no answer) is waited out like a
        failed poll: looked at again after a backoff until a deadline passes (then its failure
        is raised). Whoever looks must not act before it knows (create again, or close the
        intent), so giving up early would only make the create fail within its deadlines.
        """
        while True:
            try:
                return (yield from self._list_runs_once(api))
            except CallFailed as failed:
                if not retryable(api.retry, failed.failure):
                    raise
                delay = retry_delay(None, api.retry.max_attempts, api.retry, api.rng)
                try:
                    yield from api.sleep(delay)
                except DeadlineReached:
                    raise failed from None

    def _list_runs_once(self, api: DriveApi) -> Flow:
        http = HttpRequest("GET", self._runs(api.scope), query={"limit": 20}, headers=_BETA)
        for attempt in range(api.retry.max_attempts):
            response = yield from api.call("list_runs", http)
            assert isinstance(response, HttpResponse)
            items = page(response.body)
            if not isinstance(items, Failure):
                runs = [parse_run(item) for item in items]
                return [r for r in runs if isinstance(r, Observation)]
            yield from api.note(logging.WARNING, "run list unreadable", error=items.message)
            yield from api.sleep(retry_delay(None, attempt + 1, api.retry, api.rng))
        raise CallFailed("list_runs", malformed("the run list stayed unreadable"))

    def find_created(self, api: DriveApi, op_id: str) -> Flow:
        """Find the run carrying ``op_id`` on the thread and observe it. Returns whether found."""
        runs = yield from self._list_runs(api)
        for run in runs:
            if run.metadata.get("op_id") == op_id:
                yield from api.note(
                    logging.INFO, "adopted the run of an unknown create", seen=run.id
                )
                yield from api.observe(run, Via.POLL)
                return True
        return False

    def _resolve_active(self, api: DriveApi, op_id: str) -> Flow:
        """A create was refused for an active run: adopt ours, or apply ``on_active_run``.

        Returns ``True`` when a run was adopted, ``False`` to create again.
        """
        runs = yield from self._list_runs(api)
        active = [r for r in runs if r.status not in _TERMINAL]
        mine = [r for r in active if r.metadata.get("op_id") == op_id]
        policy = self.on_active_run
        chosen = mine[0] if mine else (active[0] if active and policy == "adopt" else None)
        if chosen is not None:
            yield from api.note(
                logging.INFO, "adopted the active run of the thread", seen=chosen.id
            )
            yield from api.stream_failed("adopted a run")
            yield from api.observe(chosen, Via.POLL)
            return True
        if not active:
            return False  # it ended meanwhile: create again
        if policy != "cancel":
            raise ThreadBusy(api.scope, active[0].id, "active on the server")
        for orphan in active:
            yield from api.note(logging.WARNING, "cancelling an orphan active run", seen=orphan.id)
            ending = yield from api.cancel_other(orphan.id)
            if not ending.terminal:
                raise ThreadBusy(api.scope, orphan.id, "orphan cancel unconfirmed")
        return False

    # -- reconciling and watching --------------------------------------------------------------

    def _steps(self, api: DriveApi, order: str, limit: int) -> Flow:
        http = HttpRequest(
            "GET",
            self._runs(api.scope, api.run_id, "/steps"),
            query={"order": order, "limit": limit},
            headers=_BETA,
        )
        response = yield from api.call("list_steps", http)
        assert isinstance(response, HttpResponse)
        items = page(response.body)
        if isinstance(items, Failure):
            raise CallFailed("list_steps", items)
        return items

    def accepted_outputs(self, api: DriveApi, call_ids: Sequence[str]) -> Flow:
        """The ids whose output the run's ``tool_calls`` step holds, or ``None`` when no step
        lists any of them (a server without run steps)."""
        steps = yield from self._steps(api, "desc", 20)
        wanted = set(call_ids)
        listed: set[str] = set()
        accepted: set[str] = set()
        for step in steps:
            details = step.get("step_details") if isinstance(step, dict) else None
            calls = details.get("tool_calls") if isinstance(details, dict) else None
            for call in calls if isinstance(calls, list) else ():
                if not isinstance(call, dict) or call.get("type") != "function":
                    continue
                cid = call.get("id")
                if cid not in wanted:
                    continue
                listed.add(cid)
                fn = call.get("function")
                if isinstance(fn, dict) and fn.get("output") is not None:
                    accepted.add(cid)
        return accepted if listed else None

    def watch(self, api: DriveApi) -> Flow:
        """Completed steps so far, and the messages when a new message step completed."""
        steps = yield from self._steps(api, "asc", 100)
        items = [item for item in map(step_item, steps) if item.step is not None]
        fresh = [i for i in items if i.step_id not in api.seen_steps]
        if any(i.step is not None and i.step.get("type") == "message_creation" for i in fresh):
            items += yield from self.messages(api)
        return items

    def messages(self, api: DriveApi) -> Flow:
        """The run's completed assistant messages, oldest first."""
        http = HttpRequest(
            "GET",
            f"/threads/{_q(api.scope)}/messages",
            query={"run_id": api.run_id, "order": "asc", "limit": 100},
            headers=_BETA,
        )
        response = yield from api.call("list_messages", http)
        assert isinstance(response, HttpResponse)
        items = page(response.body)
        if isinstance(items, Failure):
            raise CallFailed("list_messages", items)
        return [item for item in map(message_item, items) if item.message is not None]
