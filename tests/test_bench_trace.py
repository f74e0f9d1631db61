"""benchmarks/bench_trace.py at smoke size: it writes its result, and the diagram of a trace with
many anomalies carries a short note (no timing is asserted here; the numbers are in
benchmarks/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import bench_trace


def test_bench_trace_quick_writes_its_result(tmp_path: Path) -> None:
    out = tmp_path / "trace.json"
    assert (
        bench_trace.main(["--no-cli", "--sizes", "300,3000", "--repeats", "1", "--out", str(out)])
        == 0
    )
    result = json.loads(out.read_text(encoding="utf-8"))
    assert [row["anomalies"] for row in result["sizes"]] == [300, 3000]
    for row in result["sizes"]:
        assert row["overlay"]["note_lines"] == 7  # the count per kind, 5 examples, "... more"
        assert row["overlay"]["mermaid_bytes"] < 5_000
    assert result["per_line_growth"] > 0
    assert result["overlay_per_line_growth"] > 0
