"""Regenerate the committed diagrams in this folder from the transition tables.

Usage::

    python diagrams/generate.py          # rewrite what changed (SVG too when `dot` is installed)
    python diagrams/generate.py --check  # exit 1 when a committed file is stale, write nothing

The Mermaid and DOT files are pure Python output; the SVGs come from Graphviz's ``dot``, whose
version is recorded in ``graphviz-version.txt`` (layouts can differ between Graphviz versions, so
the stale-diagram test compares SVG bytes only under the same version).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapters.diagram_cli import committed_diagrams, graphviz_version, write_committed

HERE = Path(__file__).resolve().parent
VERSION_FILE = HERE / "graphviz-version.txt"


def main(argv: list[str] | None = None) -> int:
    """Regenerate (or ``--check``) the diagrams; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a file is stale")
    args = parser.parse_args(argv)
    version = graphviz_version()
    if version is None:
        print("note: Graphviz `dot` not found; SVGs are left as they are", file=sys.stderr)
    if args.check:
        stale = [
            name
            for name, content in committed_diagrams(with_svg=version is not None).items()
            if not (HERE / name).exists() or (HERE / name).read_bytes() != content
        ]
        for name in stale:
            print(f"stale: diagrams/{name}", file=sys.stderr)
        return 1 if stale else 0
    changed = write_committed(HERE, with_svg=version is not None)
    if version is not None:
        VERSION_FILE.write_text(version + "\n", encoding="utf-8")
    for path in changed:
        print(f"wrote {path.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
