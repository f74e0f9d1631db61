"""One chain of ``bench_chains``, measured and checked: requests (by kind), wall time, client
CPU, polls that found nothing new, and what the server saw against what was expected."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

from adapters.simulator import CallTools, Scenario, Simulator
from benchmarks._chains_sides import Ended, Side
from benchmarks._chains_workload import RUNNER_SIDE, SERVER_THREAD
from benchmarks._observe import summary, thread_cpu

__all__ = ["aggregate", "check_chain", "classify", "drive_once", "polls_nothing_new"]

# -- one chain ------------------------------------------------------------------------------------


def classify(method: str, path: str) -> str:
    """The kind of a ``/v1/responses`` request, from its method and path."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] != ["v1", "responses"]:
        return "other"
    if len(parts) == 2:
        return "create" if method == "POST" else "other"
    if len(parts) == 3:
        return "retrieve" if method == "GET" else "delete" if method == "DELETE" else "other"
    return {"cancel": "cancel", "input_items": "input_items"}.get(parts[3], "other")


def check_chain(
    sim: Simulator, ended: Ended, scenario: Scenario, answer: str, background: bool
) -> list[str]:
    """What is wrong with one chain, as the server saw it (empty when nothing)."""
    rounds = [s for s in scenario.steps if isinstance(s, CallTools)]
    problems: list[str] = []
    if ended.status != "completed":
        problems.append(f"status {ended.status}")
    if ended.answer != answer:
        problems.append(f"answer {ended.answer!r}, expected {answer!r}")
    chain = sim.response_chain(ended.response_ids[-1])
    if [e.response_id for e in chain] != list(ended.response_ids):
        problems.append("the side's response ids are not the server's chain")
    expected_len = len(rounds) + 1 if background else 1
    if len(chain) != expected_len:
        problems.append(f"{len(chain)} responses, expected {expected_len}")
    if any(e.background != background for e in chain):
        problems.append(f"a response with background != {background}")
    if background:
        delivered = [len(e.outputs) for e in chain[1:]]
        if delivered != [len(r.calls) for r in rounds]:
            problems.append(f"outputs per response {delivered}")
        if any(len(e.answered_by) > 1 for e in chain):
            problems.append("a response answered twice")
    return problems


def _status_at(history: Sequence[tuple[str, float]], at: float) -> str:
    """The status a response had at server time ``at``."""
    status = history[0][0]
    for changed_to, changed_at in history:
        if changed_at <= at:
            status = changed_to
    return status


def polls_nothing_new(sim: Simulator, requests: Sequence[Any], ids: Sequence[str]) -> int:
    """GETs of a response that found the status its client already knew (from the create's
    answer or the previous GET): the polls that could have been skipped."""
    histories = {i: sim.response_history(i) for i in ids}
    known = {i: _status_at(h, h[0][1]) for i, h in histories.items()}
    count = 0
    for r in requests:
        response_id = r.path.rsplit("/", 1)[-1]
        if r.method != "GET" or response_id not in histories:
            continue
        seen = _status_at(histories[response_id], r.time)
        count += seen == known[response_id]
        known[response_id] = seen
    return count


def drive_once(
    sim: Simulator, side: Side, name: str, scenario: Scenario, answer: str
) -> dict[str, Any]:
    """Drive one chain; its numbers and checks."""
    first_request = len(sim.requests)
    executions = side.tools.executions
    server_cpu0 = thread_cpu(SERVER_THREAD)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    ended = side.drive(name)
    wall = time.perf_counter() - wall0
    cpu = (time.process_time() - cpu0) - (thread_cpu(SERVER_THREAD) - server_cpu0)
    requests = sim.requests[first_request:]
    kinds: dict[str, int] = {}
    for r in requests:
        kind = classify(r.method, r.path)
        kinds[kind] = kinds.get(kind, 0) + 1
    calls = sum(len(s.calls) for s in scenario.steps if isinstance(s, CallTools))
    background = side.name != RUNNER_SIDE
    problems = check_chain(sim, ended, scenario, answer, background)
    ran = side.tools.executions - executions
    if ran != calls:
        problems.append(f"{ran} tool executions, expected {calls}")
    t0 = requests[0].time if requests else 0.0
    return {
        "status": ended.status,
        "answer": ended.answer,
        "problems": problems,
        "responses": len(ended.response_ids),
        "requests": len(requests),
        "requests_by_kind": kinds,
        "wall_s": wall,
        "client_cpu_ms": cpu * 1000,
        "tool_executions": ran,
        "polls_nothing_new": polls_nothing_new(sim, requests, ended.response_ids),
        # when each request reached the server, from the chain's first request (server clock)
        "timeline": [[classify(r.method, r.path), round(r.time - t0, 4)] for r in requests],
    }


def aggregate(per_run: list[dict[str, Any]]) -> dict[str, Any]:
    """One cell (profile x scenario x side): checks, medians and ranges."""
    kinds = sorted({k for r in per_run for k in r["requests_by_kind"]})
    return {
        "runs": len(per_run),
        "ok": all(not r["problems"] for r in per_run),
        "problems": sorted({p for r in per_run for p in r["problems"]}),
        "answer": per_run[0]["answer"] if per_run else None,
        "responses_per_chain": per_run[0]["responses"] if per_run else None,
        "wall_s": summary([r["wall_s"] for r in per_run]),
        "requests_per_run": summary([r["requests"] for r in per_run]),
        "requests_by_kind": {
            k: statistics.median(r["requests_by_kind"].get(k, 0) for r in per_run) for k in kinds
        },
        "client_cpu_ms": summary([r["client_cpu_ms"] for r in per_run]),
        "polls_nothing_new": summary([r["polls_nothing_new"] for r in per_run]),
        "per_run": per_run,
    }
