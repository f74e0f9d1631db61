"""One run of ``bench_e2e``, measured and checked: wall time, requests (by kind), detection
latencies, client CPU, tool round spans, stream fallbacks; and one cell's aggregate."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai

from adapters.simulator import (
    CallTools,
    Scenario,
    Simulator,
    SimulatorServer,
)
from benchmarks._e2e_sides import API_KEY, Driver, FallbackCounter, ms
from benchmarks._observe import (
    Observations,
    ObservingTransport,
    ToolLog,
    classify,
    detection_latencies,
    percentile,
    round_spans,
    summary,
    thread_cpu,
)
from lifecycle import RunStatus

__all__ = ["Bench", "Side", "aggregate", "drive_once"]

# -- one run --------------------------------------------------------------------------------------


@dataclass
class Bench:
    """A simulator served on loopback, and a client factory that observes the wire."""

    server: SimulatorServer
    obs: Observations = field(default_factory=Observations)

    @property
    def sim(self) -> Simulator:
        """The served simulator."""
        return self.server.sim

    def client(self) -> openai.OpenAI:
        """A real ``openai`` client over loopback HTTP, watched by :class:`ObservingTransport`."""
        transport = ObservingTransport(httpx2.HTTPTransport(), self.obs)
        return openai.OpenAI(
            base_url=self.server.base_url,
            api_key=API_KEY,
            max_retries=0,
            http_client=httpx2.Client(transport=transport, timeout=30.0),
        )


@dataclass
class Side:
    """One side on one profile: its client, its tool log and its driver."""

    name: str
    client: openai.OpenAI
    log: ToolLog
    driver: Driver


def drive_once(
    bench: Bench, side: Side, assistant_id: str, fallbacks: FallbackCounter, rounds: int
) -> dict[str, Any]:
    """Drive one run on a fresh thread; its numbers."""
    sim, client, log = bench.sim, side.client, side.log
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="go")
    first_request = len(sim.requests)
    spans_before = len(log.spans)
    executions_before = log.executions
    fallbacks_before = fallbacks.count
    server_cpu0 = thread_cpu("simulator-server")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    run_id = side.driver(client, thread.id, assistant_id)
    wall = time.perf_counter() - wall0
    cpu = (time.process_time() - cpu0) - (thread_cpu("simulator-server") - server_cpu0)
    kinds: dict[str, int] = {}
    for r in sim.requests[first_request:]:
        kind = classify(r.method, r.path)
        kinds[kind] = kinds.get(kind, 0) + 1
    history = sim.run_history(run_id)
    every, actionable, missed = detection_latencies(history, bench.obs.for_run(run_id))
    submitted = [o.output for rnd in sim.tool_outputs(run_id) for o in rnd]
    return {
        "final_status": str(history[-1][0]),
        "requests": sum(kinds.values()),
        "requests_by_kind": kinds,
        "wall_s": wall,
        "client_cpu_ms": cpu * 1000,
        "detection_s": every,
        "actionable_detection_s": actionable,
        "missed_changes": missed,
        "stream_fallbacks": fallbacks.count - fallbacks_before,
        "tool_executions": log.executions - executions_before,
        "tool_outputs_submitted": len(submitted),
        "tool_outputs_distinct": len(set(submitted)),
        "round_spans_s": round_spans(log.spans[spans_before:], rounds),
    }


def aggregate(per_run: list[dict[str, Any]], scenario: Scenario) -> dict[str, Any]:
    """One cell (profile x scenario x side): the checks, medians and ranges of its runs."""
    rounds = sum(isinstance(s, CallTools) for s in scenario.steps)
    calls = sum(len(s.calls) for s in scenario.steps if isinstance(s, CallTools))
    lat_all = [x for r in per_run for x in r["detection_s"]]
    lat_act = [x for r in per_run for x in r["actionable_detection_s"]]
    spans = [s for r in per_run for s in r["round_spans_s"]]
    return {
        "runs": len(per_run),
        "tool_calls_per_run": calls,
        "rounds": rounds,
        "all_completed": all(r["final_status"] == RunStatus.COMPLETED for r in per_run),
        "tools_exactly_once": all(
            r["tool_executions"]
            == r["tool_outputs_submitted"]
            == r["tool_outputs_distinct"]
            == calls
            for r in per_run
        ),
        "stream_fallbacks": sum(r["stream_fallbacks"] for r in per_run),
        "wall_s": summary([r["wall_s"] for r in per_run]),
        "requests_per_run": summary([r["requests"] for r in per_run]),
        "requests_by_kind": per_run[0]["requests_by_kind"] if per_run else {},
        "detection_ms": {
            "p50": ms(percentile(lat_all, 0.5)),
            "p99": ms(percentile(lat_all, 0.99)),
            "actionable_p50": ms(percentile(lat_act, 0.5)),
            "actionable_p99": ms(percentile(lat_act, 0.99)),
            "samples": len(lat_all),
            "missed_changes": sum(r["missed_changes"] for r in per_run),
        },
        "client_cpu_ms": summary([r["client_cpu_ms"] for r in per_run]),
        "tool_round_span_s": summary(spans),
        "per_run": [
            {k: v for k, v in r.items() if k not in ("detection_s", "actionable_detection_s")}
            for r in per_run
        ],
    }
