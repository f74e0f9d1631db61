"""The Temporal benchmark runs (``--quick``: 20 runs) and writes the keys the README quotes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_temporal_quick_writes_its_result(tmp_path: Path) -> None:
    out = tmp_path / "temporal.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_temporal", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    for side in ("temporal", "inprocess"):
        assert result[side]["completed_with_one_delivered_call"] == result[side]["runs"] == 20
        assert result[side]["runs_per_s"] > 0
    assert set(result["added"]) == {
        "idle_latency_s",
        "cpu_ms_per_run_excluding_simulator",
        "throughput_ratio_temporal_over_inprocess",
    }
    assert "workflow_task_queue" in result["temporal"]["where_time_goes_loaded_s"]
