"""Import-time benchmark: what ``import lifecycle`` costs against its own dependencies.

Each statement runs in a fresh interpreter (``python -c``, working directory = the repository, so
the checkout is what gets imported), which times the statement itself with
``time.perf_counter`` (interpreter start-up is not counted). Statements are interleaved run by
run; the result is the best and the median of ``--runs`` runs. One warm-up run per statement
first, without ``PYTHONDONTWRITEBYTECODE``, so every module has its bytecode cache, as in an
installed package.

* ``deps``: ``import transitions, pydantic`` (the core's two dependencies);
* ``lifecycle``: ``import lifecycle``. Target: <= 1.3x ``deps`` (best of runs);
* ``lifecycle_full``: ``import lifecycle`` plus the names it loads lazily (snapshots, tool
  registry, ledger, traces), for reference;
* ``kernel``: ``import lifecycle.kernel``, when that package exists (it must not get slower).

Usage: ``python -m benchmarks.bench_import [--quick] [--runs N] [--out PATH]`` (default
``benchmarks/results/import.json``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks._common import environment, write_result

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.3

STATEMENTS: dict[str, str] = {
    "deps": "import transitions, pydantic",
    "lifecycle": "import lifecycle",
    "lifecycle_full": (
        "import lifecycle; lifecycle.LifecycleSnapshot; lifecycle.ToolRegistry; "
        "lifecycle.ToolLedger; lifecycle.check_trace"
    ),
    "kernel": "import lifecycle.kernel",
}

_TIMER = "import time; t0 = time.perf_counter(); {stmt}; print(time.perf_counter() - t0)"


def _env(write_bytecode: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def time_statement(stmt: str, *, write_bytecode: bool = False) -> float | None:
    """Seconds the statement takes in a fresh interpreter, or ``None`` if it fails."""
    done = subprocess.run(
        [sys.executable, "-c", _TIMER.format(stmt=stmt)],
        cwd=ROOT,
        env=_env(write_bytecode),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    return float(done.stdout.strip().splitlines()[-1])


def measure(runs: int) -> dict[str, Any]:
    available = {
        name: stmt
        for name, stmt in STATEMENTS.items()
        if time_statement(stmt, write_bytecode=True) is not None  # warm-up, fills the caches
    }
    samples: dict[str, list[float]] = {name: [] for name in available}
    for _ in range(runs):
        for name, stmt in available.items():
            seconds = time_statement(stmt)
            if seconds is not None:
                samples[name].append(seconds)
    return {
        name: {"best_s": min(v), "median_s": statistics.median(v), "runs": len(v)}
        for name, v in samples.items()
        if v
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs (smoke run)")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/import.json"))
    args = parser.parse_args(argv)
    runs = args.runs or (5 if args.quick else 21)
    timings = measure(runs)
    deps = timings["deps"]
    ratios = {
        name: {
            "best": t["best_s"] / deps["best_s"],
            "median": t["median_s"] / deps["median_s"],
        }
        for name, t in timings.items()
        if name != "deps"
    }
    result = {
        "benchmark": "import",
        "environment": environment(),
        "statements": {name: STATEMENTS[name] for name in timings},
        "timings": timings,
        "ratio_vs_deps": ratios,
        "target_ratio": TARGET_RATIO,
        "runs": runs,
    }
    write_result(args.out, result)
    for name, t in timings.items():
        ratio = "" if name == "deps" else f"  x{ratios[name]['best']:.2f} of deps"
        target = f" (target <= {TARGET_RATIO})" if name == "lifecycle" else ""
        print(
            f"{name:<15} best {t['best_s'] * 1000:6.1f} ms  median {t['median_s'] * 1000:6.1f} ms"
            f"{ratio}{target}"
        )
    if "kernel" not in timings:
        print("kernel          not importable here (lifecycle.kernel missing or broken)")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
