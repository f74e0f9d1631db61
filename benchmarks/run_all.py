"""Run every benchmark with one command; each writes its JSON to ``benchmarks/results/``.

* ``engine.json``  - ``bench_engine``: ``observe()`` vs bare ``transitions``, attach, memory;
* ``e2e.json``     - ``bench_e2e``: the poll schedule on several server profiles, our controller
  (polling and streaming) vs the SDK's own loop, side by side (the headline);
* ``e2e-slow.json`` - ``bench_e2e`` again with 0.5 s server steps (phases of 0.5-1.5 s) on the two
  targeted profiles: how the schedule's request count grows with longer runs;
* ``scale.json``   - ``bench_scale``: N concurrent runs on one event loop, ``AsyncRunController``
  vs a bare ``AsyncOpenAI`` loop;
* ``profile.json`` - ``profile_hot_path``: where the CPU of a steered run goes, controller vs bare;
* ``chains.json``  - ``bench_chains``: Responses background chains, ``ResponseController`` (sync,
  async, streaming) vs a hand-written SDK loop (2 s, 1 s and 0.25 s sleeps) and the SDK's
  foreground tool runner, side by side per server profile (about 7 minutes; ``--quick`` one
  profile);
* ``chains-slow.json`` - ``bench_chains`` again with 0.5 s server steps (responses of 1-1.5 s) on
  the two profiles without a header on create (about 5.5 minutes).

Each benchmark runs in its own interpreter, so one's memory does not colour another's numbers.
Default sizes finish in about 21 minutes on 2 cores (e2e about 3.5, e2e-slow about 2.5, chains
about 7, chains-slow about 5.5, scale about 1, profile under 1); ``--full`` adds N = 10,000 and
more repeats (about 45 minutes);
``--quick`` is the smoke-test size (seconds).

Usage: ``python -m benchmarks.run_all [--quick | --full] [--results DIR] [--only NAME,...]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

_SLOW = [
    "--step",
    "0.5",
    "--profiles",
    "get-only-poll-after,no-poll-after",
    "--scenarios",
    "text,one-tool,two-rounds",
    "--what-if",
]
_CHAINS_SLOW = ["--step", "0.5", "--profiles", "get-only-poll-after,no-poll-after"]
#: name -> (module, arguments for quick, default, full)
BENCHMARKS: dict[str, tuple[str, list[str], list[str], list[str]]] = {
    "engine": ("benchmarks.bench_engine", ["--quick"], [], []),
    "e2e": (
        "benchmarks.bench_e2e",
        ["--quick", "--scenarios", "text,parallel-3"],
        ["--repeats", "5", "--what-if"],
        ["--repeats", "9", "--what-if"],
    ),
    "e2e-slow": (
        "benchmarks.bench_e2e",
        ["--quick", "--profiles", "no-poll-after", "--scenarios", "text"],
        [*_SLOW, "--repeats", "3"],
        [*_SLOW, "--repeats", "5"],
    ),
    "scale": ("benchmarks.bench_scale", ["--quick"], [], ["--full"]),
    "profile": ("benchmarks.profile_hot_path", ["--n", "20"], ["--n", "1000"], ["--n", "3000"]),
    "chains": (
        "benchmarks.bench_chains",
        ["--quick", "--profiles", "no-poll-after"],
        [],
        ["--repeats", "9"],
    ),
    "chains-slow": (
        "benchmarks.bench_chains",
        ["--quick", "--profiles", "get-only-poll-after", "--sides", "controller-sync,loop-1s"],
        [*_CHAINS_SLOW, "--repeats", "3"],
        [*_CHAINS_SLOW, "--repeats", "5"],
    ),
}


def command(name: str, mode: str, results: Path) -> list[str]:
    """The command line that runs benchmark ``name`` in ``mode`` (quick, default or full)."""
    module, quick, default, full = BENCHMARKS[name]
    args = {"quick": quick, "default": default, "full": full}[mode]
    return [
        sys.executable,
        "-W",
        "ignore::DeprecationWarning",
        "-m",
        module,
        *args,
        "--out",
        str(results / f"{name}.json"),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks in turn; exit 1 if any failed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smallest sizes (smoke run)")
    mode.add_argument("--full", action="store_true", help="N = 10,000 and more repeats")
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--only", type=str, default=",".join(BENCHMARKS), help="names to run")
    args = parser.parse_args(argv)
    chosen = "quick" if args.quick else "full" if args.full else "default"
    failed = []
    for name in [n for n in args.only.split(",") if n]:
        if name not in BENCHMARKS:
            parser.error(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
        started = time.perf_counter()
        print(f"== {name} ({chosen})", flush=True)
        done = subprocess.run(command(name, chosen, args.results), check=False)
        print(
            f"== {name}: exit {done.returncode} in {time.perf_counter() - started:.1f} s\n",
            flush=True,
        )
        if done.returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
