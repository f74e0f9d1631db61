"""Generate the sync twin of the async controller (the httpcore way), or check it is current.

The async code is the source. Each file listed in :data:`FILES` is rewritten token by token
(``async def`` -> ``def``, ``await x`` -> ``x``, ``AsyncRunController`` -> ``RunController``...)
into its sync counterpart, with a header saying so, then import-sorted and formatted with ruff (a
dev dependency) so the twin passes the project's lint as is. ``--check`` fails (exit 1) when a
generated file is missing or differs from what the source gives, so CI catches a hand edit or a
stale twin::

    python scripts/unasync.py            # regenerate
    python scripts/unasync.py --check    # CI
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: source (async) -> generated (sync), relative to the repository root
FILES = {
    "adapters/openai/_async/_pump.py": "adapters/openai/_sync/_pump.py",
    "adapters/openai/_async/_controller.py": "adapters/openai/_sync/_controller.py",
    "adapters/openai/_async/_responses.py": "adapters/openai/_sync/_responses.py",
}

#: whole-line removals, then token substitutions, applied in order
DROP_LINES = (re.compile(r"^import anyio\n", re.MULTILINE),)
SUBS = (
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    (r"\baclosing\b", "closing"),
    (r"\bAsyncGenerator\[(\w+), None\]", r"Generator[\1, None, None]"),
    (r"\bAsyncGenerator\b", "Generator"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\bAwaitable\[None\]", "None"),
    (r", Awaitable\b", ""),
    (r"\banyio\.sleep\b", "time.sleep"),
    (r"\bAsyncRunController\b", "RunController"),
    (r"\bAsyncBackend\b", "SyncBackend"),
    (r"\bAsyncPump\b", "SyncPump"),
    (r"\bAsyncResponseController\b", "ResponseController"),
    (r"\bAsyncOpenAI\b", "OpenAI"),
    (r"\bAsyncApprover\b", "Approver"),
    (r"\b_async/", "_sync/"),
    (r"\b_async\._", "_sync._"),
    (r"\bThe async controller\b", "The sync controller"),
)
_COMPILED = tuple((re.compile(pattern), repl) for pattern, repl in SUBS)


def header(source: str) -> str:
    """The banner of a generated file."""
    return (
        f"# Generated from {source} by scripts/unasync.py: do not edit;\n"
        "# change the async source and run `python scripts/unasync.py`.\n"
    )


def _ruff(args: list[str], text: str, target: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--stdin-filename", target, "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode not in (0, 1) or not done.stdout:
        raise SystemExit(f"ruff failed on the generated {target}: {done.stderr.strip()}")
    return done.stdout


def unasync(text: str, source: str, target: str) -> str:
    """The sync twin of an async source text, import-sorted and formatted like the project."""
    for pattern in DROP_LINES:
        text = pattern.sub("", text)
    for pattern, repl in _COMPILED:
        text = pattern.sub(repl, text)
    text = header(source) + text
    text = _ruff(["check", "--fix", "--select", "I,F401", "--quiet", "--exit-zero"], text, target)
    return _ruff(["format", "--quiet"], text, target)


def main(argv: list[str] | None = None) -> int:
    """Regenerate the sync twins, or (``--check``) report the stale ones."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a twin is not current")
    args = parser.parse_args(argv)
    stale = []
    for source, target in FILES.items():
        wanted = unasync((ROOT / source).read_text(encoding="utf-8"), source, target)
        path = ROOT / target
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == wanted:
            continue
        if args.check:
            stale.append(target)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(wanted, encoding="utf-8")
            print(f"wrote {target}")
    if stale:
        print(
            "stale sync twins (run `python scripts/unasync.py`): " + ", ".join(stale),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
