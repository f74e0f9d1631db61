"""The command line as a user runs it: the installed ``lifecycle`` console script, in a
subprocess, with its real exit status, stdout and stderr.

:func:`lifecycle` runs one command to its end; :func:`serve` starts ``lifecycle simulate`` and
reads the base URL from its banner (``--port 0`` picks a free port).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: the console script installed with the package (next to this interpreter)
SCRIPT = str(Path(sys.executable).with_name("lifecycle"))
if not Path(SCRIPT).exists():  # pragma: no cover - an unusual install
    SCRIPT = shutil.which("lifecycle") or SCRIPT


def lifecycle(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``lifecycle ARGS...`` and wait for it (the environment is this one, plus ``env``,
    without any OPENAI_* variable unless ``env`` sets it)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(
        [SCRIPT, *args],
        env={**base, "COLUMNS": "200", **(env or {})},
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The command's stderr, checked to be exactly one ``Error: ...`` line (no traceback)."""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


@contextmanager
def serve(*args: str, cwd: Path | None = None) -> Iterator[str]:
    """``lifecycle simulate --port 0 ARGS...`` in the background; yields its base URL."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    proc = subprocess.Popen(
        [SCRIPT, "simulate", "--port", "0", *args],
        env=base,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        found = re.search(r"(http://\S+/v1)\b", first)
        if found is None:
            proc.kill()
            raise AssertionError(f"no banner: {first!r} {proc.communicate()[1]!r}")
        yield found.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()
