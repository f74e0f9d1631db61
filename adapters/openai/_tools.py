"""Running a round's tools: in threads (sync driver) or in a task group (async driver).

Theory of operation
-------------------
The kernel hands over prepared calls (validated, claimed in the ledger, their ``started``
effect recorded) in one :class:`lifecycle.kernel.RunTools` with a budget for the whole round.
A :class:`ToolRunner` runs them, at most ``max_concurrency`` at a time, and formats each result
into the output to submit (``ToolRegistry.finish``, then the controller's own redaction).

Under asyncio, the calls of a round run as plain tasks awaited with ``asyncio.gather`` inside
the round's one cancel scope: an anyio task group costs a cancel scope, a task state, an event
and a wrapper coroutine per call, about twice the CPU of the round and many more objects alive
while the tools run (see ``benchmarks/README.md``). Other event loops use a task group.

A call still running when the budget ends gets a ``tool_timeout`` output. An async tool is
cancelled then; a sync tool cannot be, so its thread runs on and its real result, when it
comes, is kept as a *late* result: the driver hands it to the kernel with the next reply (the
ledger records it ``executed_undelivered``), or, once the drive is over, straight to the ledger.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import anyio
import anyio.to_thread

from lifecycle import ToolOutput, ToolRegistry
from lifecycle._dispatch import Prepared, cap_output
from lifecycle.kernel import RunTools, ToolResult

__all__ = ["ToolRunner", "run_tools_async", "run_tools_sync"]


class ToolRunner:
    """Formats tool results and keeps the late ones for the kernel (one per drive).

    Args:
        registry: the tool registry (formats results and errors).
        redact: applied to every output (the controller's own API key), or ``None``.
    """

    def __init__(self, registry: ToolRegistry | None, redact: Callable[[str], str] | None) -> None:
        self._registry = registry if registry is not None else ToolRegistry()
        self._redact = redact
        self._lock = threading.Lock()
        self._late: list[ToolOutput] = []
        self._sink: Callable[[ToolOutput], None] | None = None

    def output(
        self,
        prepared: Prepared,
        value: Any = None,
        error: BaseException | None = None,
        *,
        timed_out: bool = False,
    ) -> ToolOutput:
        """The output for a call's result, exception or timeout (redacted)."""
        out = self._registry.finish(prepared.call, value, error=error, timed_out=timed_out)
        redact = self._redact
        if redact is None:
            return out
        full = redact(out.full_output)
        if full == out.full_output:
            return out
        # redact the whole text, then cap it again: a key cut by the cap leaves nothing behind
        text, truncated = cap_output(full, self._registry.max_output_chars)
        return ToolOutput(out.tool_call_id, text, full, error=out.error, truncated=truncated)

    def late(self, prepared: Prepared, value: Any, error: BaseException | None) -> None:
        """A timed-out call finished after all: keep its result for the kernel (or the ledger)."""
        out = self.output(prepared, value, error)
        with self._lock:
            sink = self._sink
            if sink is None:
                self._late.append(out)
                return
        sink(out)

    def drain(self) -> tuple[ToolOutput, ...]:
        """The late results since the last call (for the next reply)."""
        if not self._late:
            return ()
        with self._lock:
            out, self._late = tuple(self._late), []
        return out

    def hand_over(self, sink: Callable[[ToolOutput], None]) -> None:
        """The drive is over: send late results, now and from now on, to ``sink``."""
        with self._lock:
            self._sink = sink
            pending, self._late = self._late, []
        for out in pending:
            sink(out)


class _Abandonable:
    """Runs a sync tool in a thread; reports its result as late if the round gave up on it."""

    def __init__(self, runner: ToolRunner, prepared: Prepared) -> None:
        self.runner = runner
        self.prepared = prepared
        self.lock = threading.Lock()
        self.abandoned = False
        self.finished = False
        self.value: Any = None
        self.error: BaseException | None = None

    def __call__(self) -> Any:
        value: Any = None
        error: BaseException | None = None
        try:
            value = self.prepared.call_tool()
        except Exception as exc:
            error = exc
        with self.lock:
            late = self.abandoned
            self.finished, self.value, self.error = True, value, error
        if late:
            self.runner.late(self.prepared, value, error)
        if error is not None:
            raise error
        return value

    def abandon(self) -> bool:
        """Give up on the call; ``True`` if it had finished already (its result stands)."""
        with self.lock:
            self.abandoned = not self.finished
            return self.finished


async def run_tools_async(req: RunTools, runner: ToolRunner) -> list[ToolResult]:
    """Run the calls concurrently within the round's budget (async tools awaited, sync tools
    in worker threads). One result per call, in order."""
    items = req.items
    results: list[ToolResult | None] = [None] * len(items)
    workers: list[_Abandonable | None] = [None] * len(items)
    limiter = (
        anyio.CapacityLimiter(req.max_concurrency) if len(items) > req.max_concurrency else None
    )

    async def one(i: int, prepared: Prepared) -> None:
        try:
            if limiter is not None:
                await limiter.acquire()
            try:
                if prepared.is_async:
                    value = await prepared.call_tool()
                else:
                    worker = workers[i] = _Abandonable(runner, prepared)
                    value = await anyio.to_thread.run_sync(worker, abandon_on_cancel=True)
                results[i] = ToolResult(runner.output(prepared, value))
            finally:
                if limiter is not None:
                    limiter.release()
        except Exception as exc:
            results[i] = ToolResult(runner.output(prepared, error=exc))

    with anyio.move_on_after(req.timeout):
        if len(items) == 1:
            await one(0, items[0])
        else:
            await _all([one(i, prepared) for i, prepared in enumerate(items)])
    out: list[ToolResult] = []
    for i, prepared in enumerate(items):
        result = results[i]
        if result is None:
            worker = workers[i]
            if worker is not None and worker.abandon():  # it finished as the budget ran out
                result = ToolResult(runner.output(prepared, worker.value, worker.error))
            else:
                result = ToolResult(runner.output(prepared, timed_out=True), timed_out=True)
        out.append(result)
    return out


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _all(calls: list[Awaitable[None]]) -> None:
    """Await ``calls`` concurrently; none outlives this call (a cancellation reaches them all).

    Under asyncio: tasks and ``gather``, whose cancellation cancels every task and completes
    only once all of them are done. Elsewhere: an anyio task group.
    """
    if not _on_asyncio():
        async with anyio.create_task_group() as tg:
            for call in calls:
                tg.start_soon(_awaiting, call)
        return
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        await asyncio.gather(*tasks)
    finally:  # a task raised a BaseException: stop the others before it propagates
        pending = [task for task in tasks if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


async def _awaiting(call: Awaitable[None]) -> None:
    await call


def _call_tool(prepared: Prepared) -> Any:
    if prepared.is_async:

        async def _await() -> Any:
            return await prepared.call_tool()

        return anyio.run(_await)
    return prepared.call_tool()


def run_tools_sync(req: RunTools, runner: ToolRunner) -> list[ToolResult]:
    """Run the calls in threads within the round's budget. One result per call, in order; a
    call still running at the budget's end reports its real result later (``runner.late``)."""
    workers = max(1, min(req.max_concurrency, len(req.items)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lifecycle-tool")
    try:
        futures = [pool.submit(_call_tool, p) for p in req.items]
        wait(futures, timeout=req.timeout)
        results: list[ToolResult] = []
        for prepared, fut in zip(req.items, futures, strict=True):
            if fut.done() and not fut.cancelled():
                exc = fut.exception()
                value = fut.result() if exc is None else None
                results.append(ToolResult(runner.output(prepared, value, exc)))
            else:
                fut.add_done_callback(_late(runner, prepared))
                results.append(ToolResult(runner.output(prepared, timed_out=True), timed_out=True))
        return results
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _late(runner: ToolRunner, prepared: Prepared) -> Callable[[Future[Any]], None]:
    def done(fut: Future[Any]) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        runner.late(prepared, None if exc is not None else fut.result(), exc)

    return done
