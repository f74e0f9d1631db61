"""Smoke test of the benchmark entry points: each runs in its tiniest mode and writes its JSON.

No timing is asserted: only that each benchmark runs, writes the keys the README table and the
comparison read, and that its own correctness checks (runs terminal, tools run once) hold.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import bench_e2e, profile_hot_path, run_all

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


def _load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_e2e_quick_writes_both_sides_and_comparison(tmp_path: Path) -> None:
    """bench_e2e --quick: every side measured, runs completed, tools run once, ratios present."""
    out = tmp_path / "e2e.json"
    assert bench_e2e.main(["--quick", "--scenarios", "text,parallel-3", "--out", str(out)]) == 0
    result = _load(out)
    assert {"environment", "settings", "sides", "comparison"} <= result.keys()
    sides = result["sides"]
    assert isinstance(sides, dict)
    assert {"sdk", "controller-poll", "controller-stream"} <= sides.keys()
    for by_scenario in sides.values():
        assert set(by_scenario) == {"text", "parallel-3"}
        for r in by_scenario.values():
            assert r["all_completed"] is True
            assert r["tools_exactly_once"] is True
            assert r["requests_per_run"]["median"] >= 2  # at least a create and a read
            assert {"p50", "p99", "actionable_p50", "missed_changes"} <= r["detection_ms"].keys()
            assert {"wall_s", "client_cpu_ms", "tool_round_span_s"} <= r.keys()
    comparison = result["comparison"]
    assert isinstance(comparison, dict)
    assert {"parallel_ratio", "vs_sdk", "targets"} <= comparison.keys()
    assert set(comparison["vs_sdk"]) == {"controller-poll", "controller-stream"}


def test_scale_quick_runs_every_run_to_the_end(tmp_path: Path) -> None:
    """bench_scale --quick (N = 20, in a subprocess): all terminal, each tool call run once."""
    out = tmp_path / "scale.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_scale", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (size,) = _load(out)["sizes"]
    assert size["n"] == 20
    assert size["all_terminal"] is True
    assert size["tools_exactly_once"] is True
    assert size["tool_executions"] == 20 * 3
    assert {"wall_s", "runs_per_s", "cpu_ms_per_run", "peak_rss_mib"} <= size.keys()


def test_profile_attributes_time_to_components(tmp_path: Path) -> None:
    """profile_hot_path on 10 runs: component shares sum to 1 and our packages appear."""
    out = tmp_path / "profile.json"
    assert profile_hot_path.main(["--n", "10", "--out", str(out)]) == 0
    result = _load(out)
    components = result["components"]
    assert isinstance(components, dict)
    assert abs(sum(c["share"] for c in components.values()) - 1.0) < 1e-6
    assert "adapters/openai (controller)" in components
    assert result["checks"]["all_terminal"] is True


def test_run_all_knows_every_benchmark_and_mode(tmp_path: Path) -> None:
    """run_all builds one command per benchmark and mode, each writing into the results dir."""
    for name in run_all.BENCHMARKS:
        for mode in ("quick", "default", "full"):
            cmd = run_all.command(name, mode, tmp_path)
            assert cmd[-1] == str(tmp_path / f"{name}.json")
            assert run_all.BENCHMARKS[name][0] in cmd


def test_detection_latency_matches_each_change_to_its_first_sighting() -> None:
    """A sighting belongs to the latest change into that status; unseen changes are missed."""
    history = [("queued", 0.0), ("in_progress", 1.0), ("requires_action", 2.0), ("queued", 3.0)]
    sightings = [("queued", 0.5), ("requires_action", 2.25), ("queued", 3.5), ("queued", 4.0)]
    every, actionable, missed = bench_e2e.detection_latencies(history, sightings)
    assert every == [0.5, 0.25, 0.5]
    assert actionable == [0.25]
    assert missed == 1
