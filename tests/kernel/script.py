"""Pump the kernel with scripted replies: no HTTP, no threads, no clock but the script's.

A :class:`Script` is a fake driver. API calls are answered from a queue of scripted answers (a
:class:`~lifecycle.kernel.HttpResponse`, a :class:`~lifecycle.kernel.Failure`, or a callable
that sees the request), sleeps move the script's clock, tool batches run the prepared calls
inline (or are answered from ``tools``), and everything else is acknowledged. Every request is
logged, so a test asserts on what the kernel asked for, in order, h11-style.
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Self

from lifecycle import ApprovalRequest, Decision, ToolRegistry
from lifecycle.kernel import (
    END_OF_STREAM,
    ApiCall,
    AskApproval,
    AssistantsBinding,
    ControllerConfig,
    Drive,
    DriveResult,
    Emit,
    Failure,
    FailureKind,
    Flow,
    HttpResponse,
    NextEvent,
    Reply,
    Request,
    ResponsesBinding,
    RunTools,
    Sleep,
    SseEvent,
    StreamOpened,
    ToolResult,
)

Answer = HttpResponse | Failure | StreamOpened | Callable[[ApiCall], Any]

THREAD = "thread_1"
RUN = "run_1"
START = 1_700_000_000.0


def run_body(
    status: str,
    *,
    run_id: str = RUN,
    calls: Iterable[tuple[str, str, str]] | None = None,
    expires_at: float | None = None,
    metadata: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A run object as the API sends it; ``calls`` are (id, name, arguments) triples."""
    body: dict[str, Any] = {
        "id": run_id,
        "object": "thread.run",
        "thread_id": THREAD,
        "status": status,
        "expires_at": expires_at,
        "metadata": metadata or {},
        "required_action": None,
        **extra,
    }
    if calls is not None:
        body["required_action"] = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
                    for i, n, a in calls
                ]
            },
        }
    return body


def ok(body: Any, headers: dict[str, str] | None = None, status: int = 200) -> HttpResponse:
    """A 2xx answer carrying ``body`` (JSON-encoded unless it is bytes)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(status, headers or {}, raw)


def run(status: str, poll_after_ms: str | None = None, **kw: Any) -> HttpResponse:
    """A run answer, with an ``openai-poll-after-ms`` header when given."""
    headers = {"openai-poll-after-ms": poll_after_ms} if poll_after_ms is not None else {}
    return ok(run_body(status, **kw), headers)


def http_error(status: int, **headers: str) -> Failure:
    """An HTTP error status, as the driver converts it."""
    return Failure(
        FailureKind.STATUS, status=status, message=f"Error code: {status}", headers=headers
    )


def drive(
    *,
    run_id: str = RUN,
    tools: ToolRegistry | None = None,
    durable: bool = False,
    stream: bool = False,
    watch: bool = False,
    rng: random.Random | None = None,
    cancel_signal: Any = None,
    observe_only: bool = False,
    **config: Any,
) -> Drive:
    """An Assistants drive of ``run_id`` on ``THREAD`` at script time 0 (no message listing at
    the end unless ``fetch_messages=True``)."""
    config.setdefault("fetch_messages", False)
    return Drive(
        AssistantsBinding(),
        config=ControllerConfig(**config),
        scope=THREAD,
        run_id=run_id,
        now=0.0,
        wall=START,
        tools=tools,
        durable=durable,
        stream=stream,
        watch=watch,
        rng=rng,
        cancel_signal=cancel_signal,
        observe_only=observe_only,
    )


def chain_drive(
    tools: ToolRegistry | None = None,
    *,
    run_id: str = "",
    stream: bool = False,
    durable: bool = False,
    observe_only: bool = False,
    rng: random.Random | None = None,
    **config: Any,
) -> Drive:
    """A Responses chain drive of scope ``op_1`` at script time 0 (``run_id``: the response it
    attaches to or resumes)."""
    config.setdefault("fetch_messages", False)
    return Drive(
        ResponsesBinding(),
        config=ControllerConfig(**config),
        scope="op_1",
        run_id=run_id,
        now=0.0,
        wall=START,
        tools=tools,
        stream=stream,
        durable=durable,
        observe_only=observe_only,
        rng=rng,
    )


@dataclass
class Script:
    """A fake driver for one flow.

    Attributes:
        answers: what API calls get, in order.
        events: what stream reads get, in order (then ``END_OF_STREAM``).
        now: the script's monotonic clock.
        log: every request the flow made.
        late: late tool results to hand over with the next reply.
    """

    answers: deque[Answer] = field(default_factory=deque)
    events: deque[SseEvent | Failure] = field(default_factory=deque)
    now: float = 0.0
    log: list[Request] = field(default_factory=list)
    late: list[Any] = field(default_factory=list)
    tools: Callable[[RunTools], list[ToolResult]] | None = None
    max_requests: int = 10_000
    #: the approval hook (``None``: every request stays undecided)
    approver: Callable[[ApprovalRequest], Decision | None] | None = None

    def add(self, *answers: Answer) -> Self:
        self.answers.extend(answers)
        return self

    def reply(self, request: Request) -> Reply:
        value: Any = None
        failure: Failure | None = None
        if isinstance(request, ApiCall):
            if not self.answers:
                raise AssertionError(f"no scripted answer for {request.op} {request.http.path}")
            answer = self.answers.popleft()
            if callable(answer) and not isinstance(answer, HttpResponse | Failure | StreamOpened):
                answer = answer(request)
            if isinstance(answer, Failure):
                failure = answer
            else:
                value = answer
        elif isinstance(request, Sleep):
            self.now += request.seconds
        elif isinstance(request, RunTools):
            value = self.tools(request) if self.tools is not None else run_inline(request)
        elif isinstance(request, AskApproval):
            hook = self.approver
            value = [hook(r) if hook is not None else None for r in request.requests]
        elif isinstance(request, NextEvent):
            item = self.events.popleft() if self.events else END_OF_STREAM
            if isinstance(item, Failure):
                failure = item
            else:
                value = item
        late, self.late = tuple(self.late), []
        return Reply(value, failure, self.now, START + self.now, late)

    def play(self, flow: Flow) -> DriveResult:
        """Pump ``flow`` to its end; returns its result (exceptions propagate)."""
        return self.play_from(flow, next(flow))

    def play_until(self, flow: Flow, op: str) -> ApiCall:
        """Pump ``flow`` until it asks for the API call ``op``; returns that call, unanswered and
        not logged (the caller closes the flow: a process that died with it in flight)."""
        request = next(flow)
        while not (isinstance(request, ApiCall) and request.op == op):
            self.log.append(request)
            request = flow.send(self.reply(request))
        return request

    def play_from(self, flow: Flow, request: Request) -> DriveResult:
        """Pump ``flow`` on from ``request`` (already yielded, not yet answered) to its end."""
        for _ in range(self.max_requests):
            self.log.append(request)
            try:
                request = flow.send(self.reply(request))
            except StopIteration as stop:
                result: DriveResult = stop.value
                return result
        raise AssertionError("the flow never ended")

    # -- reading the log -----------------------------------------------------------------------

    def calls(self) -> list[ApiCall]:
        return [r for r in self.log if isinstance(r, ApiCall)]

    def ops(self) -> list[str]:
        return [c.op for c in self.calls()]

    def sleeps(self) -> list[float]:
        return [r.seconds for r in self.log if isinstance(r, Sleep)]

    def emitted(self, kind: type) -> list[Any]:
        return [r.event for r in self.log if isinstance(r, Emit) and isinstance(r.event, kind)]

    def kinds(self) -> list[str]:
        """Request kinds in order, API calls by their op (``retrieve``, ``Sleep``...)."""
        return [r.op if isinstance(r, ApiCall) else type(r).__name__ for r in self.log]


def run_inline(request: RunTools) -> list[ToolResult]:
    """Run prepared calls in this thread (no budget: the tests' tools are instant)."""
    registry = ToolRegistry()
    out = []
    for prepared in request.items:
        try:
            value = prepared.call_tool()
            out.append(ToolResult(registry.finish(prepared.call, value)))
        except Exception as exc:
            out.append(ToolResult(registry.finish(prepared.call, error=exc)))
    return out
