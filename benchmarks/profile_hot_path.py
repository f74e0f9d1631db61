"""Where does a steered run's CPU go, and what does the controller add over a bare loop?

Runs the scale workload (``bench_scale``: N concurrent runs, one round of parallel tool calls,
in-process simulator) once per side, ``controller`` and ``bare``, and for each:

1. unprofiled, for the CPU per run and the part of it spent in the cyclic garbage collector
   (``gc.callbacks``);
2. under ``pyinstrument`` with the collector off (its time would be charged to whichever frame
   allocated when a collection started), timed runs only (not the setup), attributing every
   sample's *self* time to the component whose file it is in. Stdlib and C frames (``json``,
   ``logging``, ``copy``, builtins) are charged to the component that called them, so the table
   says whose code the time is spent for.

Each component's *ms per run* is its share of the profiled samples times the side's unprofiled
CPU per run outside the collector. The difference per group, controller minus bare, is where the
controller's extra CPU goes: kernel decisions (``lifecycle/kernel``), the engine
(``lifecycle/_machine.py`` and ``transitions``), the rest of the core (ledger, tools, table), the
pump and backends (``adapters/openai``), the SDK and ``httpx2`` (with ``pydantic``), the
simulator (``adapters/simulator``, ``starlette``), the event loop (``asyncio``, ``anyio``), the
garbage collector, and the benchmark's own tools.

Usage: ``python -m benchmarks.profile_hot_path [--n 1000] [--out PATH] [--html DIR]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pyinstrument import Profiler
from pyinstrument.frame import Frame

from benchmarks import bench_scale
from benchmarks._common import environment, write_result

#: (component, path fragment), first match wins
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("lifecycle/kernel", "/lifecycle/kernel/"),
    ("lifecycle/_machine.py", "/lifecycle/_machine.py"),
    ("lifecycle (other)", "/lifecycle/"),
    ("adapters/openai", "/adapters/openai/"),
    ("adapters/simulator", "/adapters/simulator/"),
    ("benchmarks", "/benchmarks/"),
    ("openai", "/openai/"),
    ("httpx2", "/httpx2/"),
    ("pydantic", "/pydantic"),
    ("starlette", "/starlette/"),
    ("transitions", "/transitions/"),
    ("anyio", "/anyio/"),
    ("asyncio", "/asyncio/"),
    ("json", "/json/"),
    ("logging", "/logging/"),
)
OTHER = "other (stdlib, C, interpreter)"
#: components whose time is charged to the code that called them
_CHARGED_TO_CALLER = (OTHER, "json", "logging")

#: the groups the report is read by, in order
GROUPS: dict[str, tuple[str, ...]] = {
    "kernel decisions (lifecycle/kernel)": ("lifecycle/kernel",),
    "engine (lifecycle/_machine.py, transitions)": ("lifecycle/_machine.py", "transitions"),
    "core, other (ledger, tools, table)": ("lifecycle (other)",),
    "pump and backends (adapters/openai)": ("adapters/openai",),
    "SDK and httpx2 (openai, httpx2, pydantic)": ("openai", "httpx2", "pydantic"),
    "simulator (adapters/simulator, starlette)": ("adapters/simulator", "starlette"),
    "event loop (asyncio, anyio)": ("asyncio", "anyio"),
    "benchmark tools": ("benchmarks",),
    "other": (OTHER, "json", "logging"),
}
GC_GROUP = "garbage collector"
#: files whose self time is listed one by one
OUR_FILES = ("/lifecycle/", "/adapters/openai/")


def component(path: str | None) -> str:
    """The component a source file belongs to."""
    for name, fragment in COMPONENTS:
        if path and fragment in path:
            return name
    return OTHER


def _walk(frame: Frame, owner: str = OTHER) -> Iterator[tuple[Frame, str]]:
    """Every frame with its owner: its own component, or its caller's for stdlib/C frames."""
    own = component(frame.file_path)
    here = owner if own in _CHARGED_TO_CALLER and owner != OTHER else own
    yield frame, here
    for child in frame.children:
        yield from _walk(child, here)


def _short(path: str) -> str:
    for fragment in OUR_FILES:
        if fragment in path:
            return fragment.strip("/") + "/" + path.split(fragment, 1)[1]
    return path


def breakdown(profiler: Profiler, top: int = 20) -> dict[str, Any]:
    """Self time per component, per file of ours, and the top functions by self time."""
    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    assert root is not None
    by_component: dict[str, float] = {}
    by_file: dict[str, float] = {}
    by_function: dict[tuple[str, str, int | None], float] = {}
    total = 0.0
    for frame, name in _walk(root):
        self_time = frame.total_self_time
        if self_time <= 0 or frame.is_synthetic:
            continue
        total += self_time
        by_component[name] = by_component.get(name, 0.0) + self_time
        path = frame.file_path or ""
        if any(f in path for f in OUR_FILES):
            by_file[_short(path)] = by_file.get(_short(path), 0.0) + self_time
        key = (frame.function or "?", frame.file_path_short or "?", frame.line_no)
        by_function[key] = by_function.get(key, 0.0) + self_time
    components = {
        k: {"seconds": v, "share": v / total if total else 0.0}
        for k, v in sorted(by_component.items(), key=lambda kv: -kv[1])
    }
    files = {
        k: {"seconds": v, "share": v / total if total else 0.0}
        for k, v in sorted(by_file.items(), key=lambda kv: -kv[1])
    }
    functions = [
        {"function": f, "file": p, "line": ln, "seconds": t, "share": t / total if total else 0.0}
        for (f, p, ln), t in sorted(by_function.items(), key=lambda kv: -kv[1])[:top]
    ]
    return {
        "sampled_seconds": total,
        "components": components,
        "our_files": files,
        "top_self": functions,
    }


def profile_side(n: int, side: str, warmup: int) -> tuple[Profiler, dict[str, Any]]:
    """The scale workload's timed runs for one side under pyinstrument, collector off."""
    profiler = Profiler(interval=0.0005, async_mode="disabled")

    @contextlib.contextmanager
    def window() -> Iterator[None]:
        gc.disable()
        profiler.start()
        try:
            yield
        finally:
            profiler.stop()
            gc.enable()

    checks = asyncio.run(bench_scale._one_size(n, side, warmup, window))
    return profiler, checks


def measure_side(n: int, side: str, warmup: int, html: Path | None = None) -> dict[str, Any]:
    """One side, in this process: unprofiled numbers (CPU, GC), then the profile scaled to ms
    per run (and its HTML in ``html`` when given)."""
    gc.collect()
    plain = asyncio.run(bench_scale._one_size(n, side, warmup))
    gc.collect()
    profiler, profiled = profile_side(n, side, warmup)
    result = breakdown(profiler)
    mutator_ms = plain["cpu_ms_per_run"] - plain["gc_ms_per_run"]
    for entry in (*result["components"].values(), *result["our_files"].values()):
        entry["ms_per_run"] = entry["share"] * mutator_ms
    groups = {
        group: sum(result["components"].get(c, {}).get("ms_per_run", 0.0) for c in members)
        for group, members in GROUPS.items()
    }
    groups[GC_GROUP] = plain["gc_ms_per_run"]
    checks = {k: plain[k] and profiled[k] for k in ("all_completed", "tools_exactly_once")}
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(profiler.output_html(), encoding="utf-8")
    return {
        "cpu_ms_per_run": plain["cpu_ms_per_run"],
        "gc_ms_per_run": plain["gc_ms_per_run"],
        "requests_per_run": plain["requests_per_run"],
        "checks": checks,
        "groups_ms_per_run": groups,
        **result,
    }


def measure_in_subprocess(n: int, side: str, warmup: int, html: Path | None) -> dict[str, Any]:
    """:func:`measure_side` in a fresh interpreter (one side's heap never slows the other's
    collector)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "side.json"
        command = [
            sys.executable,
            "-W",
            "ignore",
            "-m",
            "benchmarks.profile_hot_path",
            "--n",
            str(n),
            "--warmup",
            str(warmup),
            "--side",
            side,
            "--side-out",
            str(out),
        ]
        if html is not None:
            command += ["--html", str(html)]
        subprocess.run(command, check=True)
        loaded: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return loaded


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="concurrent runs to profile")
    parser.add_argument("--warmup", type=int, default=bench_scale.WARMUP, help="warm-up runs")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/profile.json"))
    parser.add_argument("--html", type=Path, default=None, help="also write pyinstrument HTML")
    parser.add_argument("--side", choices=bench_scale.SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--side-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side is not None:
        measured = measure_side(args.n, args.side, args.warmup, args.html)
        if args.side_out is not None:
            args.side_out.write_text(json.dumps(measured), encoding="utf-8")
        return 0
    sides: dict[str, Any] = {}
    for side in ("bare", "controller"):
        html = None if args.html is None else args.html / f"{side}.html"
        sides[side] = measure_in_subprocess(args.n, side, args.warmup, html)
    ctl, bare = sides["controller"], sides["bare"]
    extra = {
        group: ctl["groups_ms_per_run"][group] - bare["groups_ms_per_run"][group]
        for group in ctl["groups_ms_per_run"]
    }
    result = {
        "benchmark": "profile_hot_path",
        "n": args.n,
        "cpu_ms_per_run": {"controller": ctl["cpu_ms_per_run"], "bare": bare["cpu_ms_per_run"]},
        "extra_ms_per_run": {
            "total": ctl["cpu_ms_per_run"] - bare["cpu_ms_per_run"],
            "by_group": extra,
        },
        "checks": {side: s["checks"] for side, s in sides.items()},
        "sides": sides,
        "environment": environment(),
    }
    write_result(args.out, result, sort_keys=False)
    print(format_table(result))
    return 0


def format_table(result: dict[str, Any], top: int = 12) -> str:
    """Markdown: ms per run by group for both sides and the difference; then our files and the
    controller's top functions by self time."""
    sides = result["sides"]
    ctl, bare = sides["controller"], sides["bare"]
    lines = [
        f"N = {result['n']:,}: CPU ms/run controller {ctl['cpu_ms_per_run']:.2f}, "
        f"bare {bare['cpu_ms_per_run']:.2f}, "
        f"extra {result['extra_ms_per_run']['total']:+.2f}",
        "",
        "| group | controller ms/run | bare ms/run | controller - bare |",
        "| --- | ---: | ---: | ---: |",
    ]
    for group, diff in result["extra_ms_per_run"]["by_group"].items():
        lines.append(
            f"| {group} | {ctl['groups_ms_per_run'][group]:.2f} | "
            f"{bare['groups_ms_per_run'][group]:.2f} | {diff:+.2f} |"
        )
    lines += ["", "| file (controller side) | ms/run | share |", "| --- | ---: | ---: |"]
    for name, f in list(ctl["our_files"].items())[:top]:
        lines.append(f"| {name} | {f['ms_per_run']:.3f} | {f['share']:.1%} |")
    lines += [
        "",
        "| function (controller side) | file:line | share |",
        "| --- | --- | ---: |",
    ]
    for f in ctl["top_self"][:top]:
        lines.append(f"| `{f['function']}` | {f['file']}:{f['line']} | {f['share']:.1%} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
