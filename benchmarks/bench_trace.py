"""Trace-checking benchmark: ``lifecycle check`` must stay linear in the number of anomalies.

A trace whose every line is an anomaly is the worst case for the checker: each observation adds
one finding. The benchmark builds such traces (one legal line that ends the run, then N lines
cycling through a status after the end, an unknown status and a different terminal status, as
plain lines and JSON Lines), and measures:

* ``core``: ``read_trace`` + ``check_trace`` + ``report.lines()`` in this process;
* ``overlay``: what ``lifecycle diagram --journal FILE`` does in this process: the trace replayed
  into a run overlay (``load_run``) and drawn as Mermaid, with the size of the picture (its note
  counts the anomalies per kind instead of listing them);
* ``cli``: ``lifecycle check FILE`` and ``lifecycle diagram --journal FILE`` in a fresh
  interpreter each (exit codes 1 and 0 expected), stdout discarded (skip with ``--no-cli``).

Target: 200,000 anomalies checked in under 5 s (``core``, and the ``check`` command), the
diagram of such a trace drawn in under 5 s with a note of a few lines, and the time per line at
the largest size within 2x of the smallest (linear, not quadratic). Best of ``--repeats`` runs
per size.

Usage: ``python -m benchmarks.bench_trace [--quick] [--no-cli] [--sizes N,...] [--out PATH]``
(default ``benchmarks/results/trace.json``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from adapters.diagram_cli import load_run
from benchmarks._common import environment, write_result
from lifecycle import ASSISTANTS_RUN, check_trace, read_trace
from lifecycle.diagram import to_mermaid

TARGET_S = 5.0
TARGET_SIZE = 200_000
#: what follows ``completed``: after_terminal, unknown_status, terminal_flip (plain and JSON)
CYCLE = (
    "in_progress",
    "paused_for_review",
    '{"status": "failed", "via": "stream", "at": 12.5}',
    '{"status": "queued", "via": "poll"}',
)


def make_trace(anomalies: int) -> str:
    """One legal line (queued -> completed, inferred), then ``anomalies`` rejected lines."""
    lines = ["completed"]
    lines += [CYCLE[i % len(CYCLE)] for i in range(anomalies)]
    return "\n".join(lines) + "\n"


def time_core(text: str, anomalies: int) -> dict[str, float]:
    """Seconds to read, check and format one trace (the work ``lifecycle check`` does)."""
    t0 = time.perf_counter()
    observations = read_trace(text)
    t1 = time.perf_counter()
    report = check_trace(observations, ASSISTANTS_RUN)
    t2 = time.perf_counter()
    lines = report.lines()
    t3 = time.perf_counter()
    assert len(report.anomalies) == anomalies, len(report.anomalies)
    assert len(lines) == anomalies + 1
    assert report.final_state == "completed"
    return {"read_s": t1 - t0, "check_s": t2 - t1, "lines_s": t3 - t2, "total_s": t3 - t0}


def time_overlay(text: str, anomalies: int) -> dict[str, float]:
    """Seconds to replay a trace into a run overlay and draw it (``diagram --journal``)."""
    t0 = time.perf_counter()
    loaded = load_run(text, ASSISTANTS_RUN)
    t1 = time.perf_counter()
    mermaid = to_mermaid(ASSISTANTS_RUN, loaded.path)
    t2 = time.perf_counter()
    assert loaded.path.notes[0].startswith(f"{anomalies:,} anomalies: "), loaded.path.notes[0]
    return {
        "load_s": t1 - t0,
        "draw_s": t2 - t1,
        "total_s": t2 - t0,
        "note_lines": len(loaded.path.notes),
        "mermaid_bytes": len(mermaid.encode("utf-8")),
    }


def time_cli(path: Path, *args: str, expect: int) -> float:
    """Wall seconds of ``lifecycle ARGS FILE`` in a fresh interpreter."""
    cmd = [sys.executable, "-c", "from adapters.cli import main; main()", *args, str(path)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - t0
    if done.returncode != expect:
        raise RuntimeError(f"lifecycle {args} exited {done.returncode}: {done.stderr[-500:]!r}")
    return elapsed


def measure(sizes: list[int], repeats: int, cli: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            text = make_trace(n)
            runs = [time_core(text, n) for _ in range(repeats)]
            best = min(runs, key=lambda r: r["total_s"])
            overlay = min(
                (time_overlay(text, n) for _ in range(repeats)), key=lambda r: r["total_s"]
            )
            row: dict[str, Any] = {
                "anomalies": n,
                "lines": n + 1,
                "core": best,
                "core_us_per_line": best["total_s"] / (n + 1) * 1e6,
                "overlay": overlay,
                "overlay_us_per_line": overlay["total_s"] / (n + 1) * 1e6,
            }
            if cli:
                path = Path(tmp) / f"trace-{n}.txt"
                path.write_text(text, encoding="utf-8")
                again = range(max(1, repeats - 1))
                row["cli_s"] = min(time_cli(path, "check", expect=1) for _ in again)
                row["cli_diagram_s"] = min(
                    time_cli(path, "diagram", "--journal", expect=0) for _ in again
                )
            out.append(row)
            print(
                f"{n:>8,} anomalies: core {best['total_s']:.2f} s "
                f"(read {best['read_s']:.2f}, check {best['check_s']:.2f}, "
                f"lines {best['lines_s']:.2f}; {row['core_us_per_line']:.1f} us/line); "
                f"overlay {overlay['total_s']:.2f} s ({overlay['mermaid_bytes']:,} bytes, "
                f"{overlay['note_lines']} note lines)"
                + (
                    f"; cli check {row['cli_s']:.2f} s, diagram {row['cli_diagram_s']:.2f} s"
                    if cli
                    else ""
                ),
                flush=True,
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--no-cli", action="store_true", help="skip the `lifecycle check` runs")
    parser.add_argument("--sizes", type=str, default=None, help="comma-separated anomaly counts")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/trace.json"))
    args = parser.parse_args(argv)
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    else:
        sizes = [1_000, 10_000] if args.quick else [10_000, 50_000, TARGET_SIZE]
    repeats = args.repeats or (2 if args.quick else 3)
    rows = measure(sizes, repeats, cli=not args.no_cli)
    small, large = rows[0], rows[-1]
    at_target = next((r for r in rows if r["anomalies"] == TARGET_SIZE), None)
    result = {
        "benchmark": "trace",
        "environment": environment(),
        "sizes": rows,
        "per_line_growth": large["core_us_per_line"] / small["core_us_per_line"],
        "target_s_at_200k": TARGET_S,
        "core_s_at_200k": at_target["core"]["total_s"] if at_target else None,
        "cli_s_at_200k": at_target.get("cli_s") if at_target else None,
        "overlay_s_at_200k": at_target["overlay"]["total_s"] if at_target else None,
        "cli_diagram_s_at_200k": at_target.get("cli_diagram_s") if at_target else None,
        "overlay_per_line_growth": large["overlay_us_per_line"] / small["overlay_us_per_line"],
        "repeats": repeats,
    }
    write_result(args.out, result)
    print(
        f"per-line time grows x{result['per_line_growth']:.2f} from {small['anomalies']:,} to "
        f"{large['anomalies']:,} anomalies (linear: about 1)"
        + (
            f"; 200k: {result['core_s_at_200k']:.2f} s (target < {TARGET_S:.0f} s)"
            if at_target
            else ""
        )
        + f"\n-> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
