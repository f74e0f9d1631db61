"""Profile the controller's hot path once with pyinstrument: where does a steered run's CPU go?

Runs the scale workload (``bench_scale``: N concurrent runs, one round of parallel tool calls,
in-process simulator) under ``pyinstrument`` and attributes every sample's *self* time to the
component whose file it is in: our core (``lifecycle/``), our controller (``adapters/openai/``),
the simulator (``adapters/simulator/``, charged to the benchmark's server side), the SDK
(``openai``), ``httpx2``, ``pydantic``, ``starlette``, ``transitions``, asyncio and the rest.
Stdlib and C frames are charged to their caller's component.

Usage: ``python -m benchmarks.profile_hot_path [--n 500] [--out PATH] [--html PATH]``
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pyinstrument import Profiler
from pyinstrument.frame import Frame

from benchmarks import bench_scale
from benchmarks._common import environment, write_result

#: (component, path fragment), first match wins
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("lifecycle (core)", "/lifecycle/"),
    ("adapters/openai (controller)", "/adapters/openai/"),
    ("adapters/simulator (server side)", "/adapters/simulator/"),
    ("benchmarks (tools, harness)", "/benchmarks/"),
    ("openai SDK", "/openai/"),
    ("httpx2", "/httpx2/"),
    ("pydantic", "/pydantic"),
    ("starlette", "/starlette/"),
    ("transitions", "/transitions/"),
    ("anyio", "/anyio/"),
    ("asyncio", "/asyncio/"),
    ("json", "/json/"),
)


def component(path: str | None) -> str:
    """The component a source file belongs to."""
    for name, fragment in COMPONENTS:
        if path and fragment in path:
            return name
    return OTHER


OTHER = "other (stdlib, C, interpreter)"
#: components whose time is charged to the code that called them
_CHARGED_TO_CALLER = (OTHER, "json")


def _walk(frame: Frame, owner: str = OTHER) -> Iterator[tuple[Frame, str]]:
    """Every frame with its owner: its own component, or its caller's for stdlib/C frames."""
    own = component(frame.file_path)
    here = owner if own in _CHARGED_TO_CALLER and owner != OTHER else own
    yield frame, here
    for child in frame.children:
        yield from _walk(child, here)


def profile(n: int) -> tuple[Profiler, dict[str, Any]]:
    """Run the scale workload for ``n`` runs under pyinstrument; the profiler and the checks."""
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    try:
        checks = asyncio.run(bench_scale._one_size(n))
    finally:
        profiler.stop()
    return profiler, checks


def breakdown(profiler: Profiler, top: int = 20) -> dict[str, Any]:
    """Self time per component and the top functions by self time.

    Stdlib and C frames (``copy.deepcopy``, ``isinstance``, ``json``) are charged to the
    component that called them, so the table says whose code the time is spent for.
    """
    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    assert root is not None
    by_component: dict[str, float] = {}
    by_function: dict[tuple[str, str, int | None], float] = {}
    total = 0.0
    for frame, name in _walk(root):
        self_time = frame.total_self_time
        if self_time <= 0 or frame.is_synthetic:
            continue
        total += self_time
        by_component[name] = by_component.get(name, 0.0) + self_time
        key = (frame.function or "?", frame.file_path_short or "?", frame.line_no)
        by_function[key] = by_function.get(key, 0.0) + self_time
    components = {
        k: {"seconds": v, "share": v / total if total else 0.0}
        for k, v in sorted(by_component.items(), key=lambda kv: -kv[1])
    }
    functions = [
        {"function": f, "file": p, "line": ln, "seconds": t, "share": t / total if total else 0.0}
        for (f, p, ln), t in sorted(by_function.items(), key=lambda kv: -kv[1])[:top]
    ]
    return {"sampled_seconds": total, "components": components, "top_self": functions}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="concurrent runs to profile")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/profile.json"))
    parser.add_argument("--html", type=Path, default=None, help="also write pyinstrument HTML")
    args = parser.parse_args(argv)
    profiler, checks = profile(args.n)
    result = {
        "benchmark": "profile_hot_path",
        "environment": environment(),
        "n": args.n,
        "checks": {k: checks[k] for k in ("all_terminal", "tools_exactly_once", "wall_s")},
        **breakdown(profiler),
    }
    write_result(args.out, result)
    if args.html is not None:
        args.html.write_text(profiler.output_html(), encoding="utf-8")
    print(format_table(result))
    return 0


def format_table(result: dict[str, Any], top: int = 12) -> str:
    """Markdown: the components, then the top functions by self time."""
    lines = ["| component | self s | share |", "| --- | ---: | ---: |"]
    for name, c in result["components"].items():
        lines.append(f"| {name} | {c['seconds']:.2f} | {c['share']:.0%} |")
    lines += ["", "| function | file:line | self s | share |", "| --- | --- | ---: | ---: |"]
    for f in result["top_self"][:top]:
        lines.append(
            f"| `{f['function']}` | {f['file']}:{f['line']} | {f['seconds']:.2f} | "
            f"{f['share']:.1%} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
