"""Reading the Python blocks of a Markdown page, and the claims their comments make.

A block runs unless the line right above its fence is ``<!-- guide: no-run (why) -->``. A line
``print(...)  # -> text`` claims that the call prints ``text``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_FENCE = re.compile(
    r"^(?:<!-- guide: (?P<mark>[^\n]*?) -->\n)?```python\n(?P<code>.*?)^```$", re.S | re.M
)
_NO_RUN = re.compile(r"no-run \((?P<why>[^)]+)\)")
_CLAIM = re.compile(r"^\s*print\(.*\)\s+# -> (?P<text>.*)$")


@dataclass(frozen=True)
class Block:
    """One ```python block of a page."""

    path: Path
    line: int  #: the line of its first code line, 1-based
    code: str
    no_run: str | None  #: why it does not run, when marked

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def claims(self) -> list[str]:
        """What the block's ``print(...)  # -> text`` lines say they print, in order."""
        return [m["text"] for m in map(_CLAIM.match, self.code.splitlines()) if m]

    def compiled(self) -> object:
        """The block compiled with its page's line numbers, so a traceback points into it."""
        padded = "\n" * (self.line - 1) + self.code
        return compile(padded, str(self.path.relative_to(ROOT)), "exec")


def python_blocks(path: Path) -> list[Block]:
    """Every ```python block of ``path``, in order."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        mark = match["mark"]
        no_run = None
        if mark is not None:
            found = _NO_RUN.fullmatch(mark)
            if found is None:
                raise ValueError(f"{path}: unknown block mark {mark!r}")
            no_run = found["why"]
        line = text.count("\n", 0, match.start("code")) + 1
        blocks.append(Block(path, line, match["code"], no_run))
    return blocks
