"""Mutation testing of the core and the kernel's decision modules (mutmut 3; docs/mutation.md).

    pip install -e '.[mutation]'
    python scripts/mutation.py                      # every module (well over an hour here)
    python scripts/mutation.py kernel --jobs 1      # the kernel's decision modules (~15 min)
    python scripts/mutation.py lifecycle/_dispatch.py lifecycle/_ledger.py
    python scripts/mutation.py --survivors core     # also print each surviving mutant's diff
    python scripts/mutation.py --min-score 90 lifecycle/_dispatch.py   # fail below 90 %

What is mutated and which tests run is configured in pyproject.toml (``[tool.mutmut]``): the
fast suites (tests/kernel, the core's unit and property tests), and for each mutant only those of
them that reach the mutated function. mutmut works on a copy under ``mutants/`` (gitignored); the
working tree is never modified. The copy is made afresh on every run (``--keep`` reuses it).

The summary gives, per module: mutants, killed (a test failed, or the mutant hung and timed out),
survived (no test failed), no tests (no test of the selection reaches the code) and the score,
killed / (killed + survived + no tests). Exit status: 0, or 1 when a score is under
``--min-score``, or 2 when mutmut is missing or failed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"

#: the kernel's decision modules (the rest of lifecycle/kernel is data, wire shapes and glue)
KERNEL = [
    f"lifecycle/kernel/_{name}.py"
    for name in (
        "schedule",
        "deadlines",
        "finish",
        "ending",
        "rounds",
        "cancel",
        "poll",
        "loop",
        "calls",
        "durable",
        "stream",
    )
]
GROUPS = {
    "core": [
        *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "lifecycle").glob("_*.py")),
        "lifecycle/errors.py",
    ],
    "kernel": KERNEL,
}
GROUPS["all"] = GROUPS["core"] + GROUPS["kernel"]

KILLED = {1, 3, 36, 37, -24, 24, 152, 255}  # mutmut's exit codes: failed, error, timeout
SURVIVED = {0}
NO_TESTS = {5, 33}


@dataclass
class Score:
    """The results of one module."""

    module: str
    killed: int = 0
    survived: int = 0
    no_tests: int = 0
    other: int = 0

    @property
    def total(self) -> int:
        return self.killed + self.survived + self.no_tests + self.other

    @property
    def score(self) -> float:
        judged = self.killed + self.survived + self.no_tests
        return 100.0 * self.killed / judged if judged else 100.0


def module_globs(path: str) -> list[str]:
    """mutmut's mutant-name patterns for one source file."""
    dotted = path.removesuffix(".py").replace("/", ".")
    if dotted.endswith(".__init__"):
        package = dotted.removesuffix(".__init__")
        return [f"{package}.x_*", f"{package}.xǁ*"]
    return [f"{dotted}.*"]


def resolve(targets: list[str]) -> list[str]:
    """Source files for group names and paths; a bad name exits with one line."""
    files: list[str] = []
    for target in targets or ["all"]:
        if target in GROUPS:
            files += GROUPS[target]
            continue
        path = target.replace("\\", "/")
        if path.startswith("lifecycle.") and not path.endswith(".py"):
            path = path.replace(".", "/") + ".py"
        if path not in GROUPS["all"]:
            sys.exit(
                f"error: {target!r} is not a mutated module; use core, kernel, all or one of "
                f"{', '.join(GROUPS['all'])}"
            )
        files.append(path)
    return list(dict.fromkeys(files))


def read_results(files: list[str]) -> tuple[list[Score], dict[str, list[str]]]:
    """Per-module scores and the surviving mutants' names, from mutmut's ``.meta`` files."""
    scores, survivors = [], {}
    for path in files:
        meta = MUTANTS / f"{path}.meta"
        score = Score(path)
        names: list[str] = []
        if meta.exists():
            codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
            for name, code in sorted(codes.items()):
                if code in KILLED:
                    score.killed += 1
                elif code in SURVIVED:
                    score.survived += 1
                    names.append(name)
                elif code in NO_TESTS:
                    score.no_tests += 1
                    names.append(name)
                else:
                    score.other += 1
        scores.append(score)
        survivors[path] = names
    return scores, survivors


def table(scores: list[Score]) -> str:
    """The summary as a Markdown table (docs/mutation.md keeps the last one)."""
    lines = [
        "| module | mutants | killed | survived | no tests | score |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    total = Counter[str]()
    for s in scores:
        lines.append(
            f"| `{s.module}` | {s.total} | {s.killed} | {s.survived} | {s.no_tests} "
            f"| {s.score:.1f} % |"
        )
        total.update(killed=s.killed, survived=s.survived, no_tests=s.no_tests, other=s.other)
    overall = Score("all", total["killed"], total["survived"], total["no_tests"], total["other"])
    lines.append(
        f"| **all** | {overall.total} | {overall.killed} | {overall.survived} "
        f"| {overall.no_tests} | **{overall.score:.1f} %** |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help="core, kernel, all (default) or module paths")
    parser.add_argument(
        "--jobs", type=int, default=None, help="parallel mutants (default: CPUs; 1 on a shared box)"
    )
    parser.add_argument("--keep", action="store_true", help="reuse mutants/ from the last run")
    parser.add_argument("--survivors", action="store_true", help="print each survivor's diff")
    parser.add_argument("--min-score", type=float, default=None, help="fail under this score")
    parser.add_argument("--json", type=Path, default=None, help="also write the scores as JSON")
    args = parser.parse_args(argv)
    files = resolve(args.targets)
    mutmut = shutil.which("mutmut")
    if mutmut is None:
        print("error: mutmut is not installed; pip install -e '.[mutation]'", file=sys.stderr)
        return 2
    if not args.keep and MUTANTS.exists():
        shutil.rmtree(MUTANTS)
    MUTANTS.mkdir(exist_ok=True)
    log = MUTANTS / "mutation.log"
    command = [mutmut, "run", *[g for f in files for g in module_globs(f)]]
    if args.jobs:
        command[2:2] = ["--max-children", str(args.jobs)]
    started = time.monotonic()
    print(f"mutmut on {len(files)} module(s); log: {log.relative_to(ROOT)}", flush=True)
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=False)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
        print(f"error: mutmut failed ({done.returncode}): {' '.join(tail)[-300:]}", file=sys.stderr)
        return 2
    scores, survivors = read_results(files)
    print(table(scores))
    print(f"\n{elapsed / 60:.1f} min")
    for path, names in survivors.items():
        if names:
            print(f"\n{path}: {len(names)} survived or untested")
            for name in names:
                if args.survivors:
                    shown = subprocess.run(
                        [mutmut, "show", name], cwd=ROOT, capture_output=True, text=True
                    )
                    diff = [ln for ln in shown.stdout.splitlines() if ln[:1] in "+-"]
                    print(f"  {name}\n    " + "\n    ".join(diff[2:]))
                else:
                    print(f"  {name}")
    if args.json is not None:
        data = [{**vars(s), "score": round(s.score, 1)} for s in scores]
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    low = [s for s in scores if args.min_score is not None and s.score < args.min_score]
    for s in low:
        message = f"error: {s.module} scores {s.score:.1f} %, under {args.min_score} %"
        print(message, file=sys.stderr)
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
