"""S36: N concurrent scripted runs with ~5 % random faults from the matrix; every invariant holds.

``SOAK_RUNS`` sets N (default 100; ``SOAK_RUNS=1000`` for the full size). One async controller
drives every run at once over loopback HTTP on the wall clock; the fault for each unlucky run is
drawn (seeded, ``SOAK_SEED``) from: 500 on a read, 429 with retry-after-ms, a submit applied but
lost, a submit 500, a create applied but lost, a stale read, an unknown status, a missing
required_action, a raising tool, an unknown tool, and a run stuck in ``queued`` (deadline).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections import Counter
from typing import Any

import pytest

from adapters.openai import RunOutcome
from adapters.simulator import Answer, CallTools, Fault, Queue, Scenario, ToolCallSpec
from lifecycle import ASSISTANTS_RUN, CallState, ToolRegistry
from tests.faults.harness import SECRET_KEY, Rule, World, journal_is_continuous

N = int(os.environ.get("SOAK_RUNS", "100"))
SEED = int(os.environ.get("SOAK_SEED", "36"))
FAULT_RATE = 0.05
FAULTS = [
    "get_500",
    "get_429",
    "submit_lost",
    "submit_500",
    "create_lost",
    "stale_read",
    "unknown_status",
    "missing_action",
    "tool_raises",
    "unknown_tool",
    "stuck_queued",
]
#: deadlines grow with N: under 1,000 concurrent runs the simulator itself answers slowly
QUEUED_DEADLINE = 1.0 + N * 0.01
CANCEL_DEADLINE = 1.0 + N * 0.01


def _arm(world: World, fault: str, thread: str) -> tuple[str, str]:
    """Arm ``fault`` for ``thread``; return the (tool name, arguments suffix) the run will call."""
    runs = f"/v1/threads/{thread}/runs"
    faults = world.sim.faults
    if fault == "get_500":
        faults.add(Fault(method="GET", path=runs + "/*", status=500))
    elif fault == "get_429":
        faults.add(
            Fault(method="GET", path=runs + "/*", status=429, headers={"retry-after-ms": "30"})
        )
    elif fault == "submit_lost":
        faults.add(
            Fault(method="POST", path=runs + "/*/submit_tool_outputs", applied_then_fail="drop")
        )
    elif fault == "submit_500":
        faults.add(Fault(method="POST", path=runs + "/*/submit_tool_outputs", status=500))
    elif fault == "create_lost":
        faults.add(Fault(method="POST", path=runs, applied_then_fail="drop"))
    elif fault == "stale_read":
        world.rewriter.add(thread, Rule(when="in_progress", status="queued"))
    elif fault == "unknown_status":
        world.rewriter.add(thread, Rule(when="in_progress", status="paused_for_review"))
    elif fault == "missing_action":
        world.rewriter.add(thread, Rule(when="requires_action", drop_required_action=True))
    elif fault == "tool_raises":
        return "boom", ""
    elif fault == "unknown_tool":
        return "multi_tool_use.parallel", ""
    return "charge", ""


def _violations(
    world: World, out: RunOutcome, took: float, fault: str | None, executed: int, thread: str
) -> list[str]:
    """The invariant violations of one run (empty when it is fine)."""
    found: list[str] = []
    tag = f"run {out.run_id} ({fault})"
    # I4: terminal, or a reported deadline within deadline + cancel deadline + slack
    if out.status not in ASSISTANTS_RUN.terminal_values and out.deadline is None:
        found.append(f"{tag}: ended {out.status} without a deadline")
    if out.deadline is not None and took > QUEUED_DEADLINE + CANCEL_DEADLINE + 5.0 + N * 0.01:
        found.append(f"{tag}: deadline reported after {took:.1f}s")
    # I1: at most one execution per call; exactly one for a completed tool run
    if executed > 1:
        found.append(f"{tag}: executed {executed} times")
    completed = out.status == "completed"
    if completed and fault != "unknown_tool" and executed != 1:
        found.append(f"{tag}: completed with {executed} executions")
    # I2/I3: one accepted submission with exactly the required id; every output delivered
    rounds = world.sim.tool_outputs(out.run_id)
    if completed and [len(r) for r in rounds] != [1]:
        found.append(f"{tag}: submissions {rounds}")
    if completed:
        found += [
            f"{tag}: call {t.state}" for t in out.tool_calls if t.state != CallState.DELIVERED
        ]
    # I5: the journal is a chain of table edges
    if not journal_is_continuous(out.history):
        found.append(f"{tag}: journal gap")
    # I6: one run per thread
    if len(world.runs_on(thread)) != 1:
        found.append(f"{tag}: {len(world.runs_on(thread))} runs on the thread")
    return found


@pytest.mark.slow
def test_s36_soak_concurrent_runs_with_random_faults(caplog: pytest.LogCaptureFixture) -> None:
    """S36: every run ends terminal or reported within its deadline; I1-I6 and I8 hold."""
    caplog.set_level(logging.INFO, logger="adapters.openai")
    rng = random.Random(SEED)
    plan = [rng.choice(FAULTS) if rng.random() < FAULT_RATE else None for _ in range(N)]
    if not any(plan):
        plan[0] = "submit_lost"
    executions: Counter[str] = Counter()
    tools = ToolRegistry()

    @tools.tool
    async def charge(order: str) -> str:
        """Charge an order (counts executions per order)."""
        executions[order] += 1
        await asyncio.sleep(0)
        return f"charged {order}"

    @tools.tool
    def boom(order: str) -> str:
        """Raises."""
        executions[order] += 1
        raise RuntimeError("boom")

    with World(poll_after_ms=20) as world:
        world.sim.clock = time.time  # the soak runs on the wall clock
        world.sim.engine.clock = time.time
        threads: list[str] = [world.thread() for _ in range(N)]
        metas: list[dict[str, str]] = []
        for i, (thread, fault) in enumerate(zip(threads, plan, strict=True)):
            name, _ = _arm(world, fault, thread) if fault else ("charge", "")
            order = f"order-{i}"
            first: Any = Queue(3600.0) if fault == "stuck_queued" else Queue()
            steps = (
                first,
                CallTools((ToolCallSpec.of(name, {"order": order}),)),
                Answer("{output}"),
            )
            metas.append(world.scenario(f"soak-{i}", Scenario(steps)))

        async def drive_all() -> list[tuple[RunOutcome, float]]:
            async with world.async_client() as client:
                from adapters.openai import AsyncRunController, ControllerConfig, RetryPolicy

                controller = AsyncRunController(
                    client,
                    tools=tools,
                    config=ControllerConfig(
                        poll_interval_s=0.02,
                        deadlines={"queued": QUEUED_DEADLINE, "cancelling": CANCEL_DEADLINE},
                        overall_timeout_s=60.0,
                        request_timeout_s=10.0,
                        retry=RetryPolicy(max_attempts=5, base_s=0.02, cap_s=0.2),
                        fetch_messages=False,
                    ),
                )

                async def one(i: int) -> tuple[RunOutcome, float]:
                    start = time.monotonic()
                    out = await controller.run(
                        thread_id=threads[i], assistant_id=world.assistant_id, metadata=metas[i]
                    )
                    return out, time.monotonic() - start

                return await asyncio.gather(*(one(i) for i in range(N)))

        started = time.monotonic()
        results = asyncio.run(drive_all())
        wall = time.monotonic() - started
        violations = [
            v
            for i, (out, took) in enumerate(results)
            for v in _violations(world, out, took, plan[i], executions[f"order-{i}"], threads[i])
        ]
        # I8: no key in the controller's logs
        if any(SECRET_KEY in r.getMessage() for r in caplog.records):
            violations.append("key in logs")
    statuses = Counter(out.status for out, _ in results)
    print(
        f"\nsoak: N={N} faults={Counter(f for f in plan if f)} statuses={dict(statuses)} "
        f"wall={wall:.1f}s"
    )
    assert violations == []
    assert statuses["completed"] >= N - sum(1 for f in plan if f)
