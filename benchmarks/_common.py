"""Shared helpers for the benchmarks: environment description and JSON output."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("run-lifecycle", "transitions", "pydantic", "openai", "httpx2", "starlette", "uvicorn")


def _commit() -> str | None:
    """The commit measured: ``BENCH_COMMIT`` (a snapshot without ``.git``), else ``git``."""
    if os.environ.get("BENCH_COMMIT"):
        return os.environ["BENCH_COMMIT"]
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def environment() -> dict[str, Any]:
    """Machine, library versions and commit, so a result file says what was measured where."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        # other work on a shared machine moves the numbers: the load when the result was taken
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "packages": versions,
        "commit": _commit(),
    }


def write_result(path: Path, result: dict[str, Any], *, sort_keys: bool = True) -> None:
    """Write one result file (pretty JSON; keys sorted unless the result's order matters)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, sort_keys=sort_keys)
    path.write_text(text + "\n", encoding="utf-8")


def unknown_names(given: dict[str, tuple[list[str], Iterable[str]]]) -> str | None:
    """One line naming what is unknown in ``{kind: (given names, known names)}``, else ``None``
    (a command prints it and exits nonzero, before running anything)."""
    for kind, (names, known) in given.items():
        allowed = list(known)
        bad = [n for n in names if n not in allowed]
        if bad:
            return f"unknown {kind}: {', '.join(bad)} (known: {', '.join(allowed)})"
    return None
