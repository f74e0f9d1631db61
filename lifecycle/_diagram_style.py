"""How the diagrams look: colours, edge tags and labels shared by the Mermaid and DOT renderers.

Theory of operation
-------------------
Both renderers describe an edge with the same words: its reference row and tags
(``R4, client, tolerated``), and, with a run drawn over the table, how often the run took it
(``taken x2 (1 inferred)``). Those words and every colour live here, once, so the two formats
cannot drift apart. Text that comes from a journal (anomaly notes) is reduced to a safe
character set and a bounded length before any renderer quotes it.
"""

from __future__ import annotations

import re

from lifecycle._diagram_overlay import RunPath
from lifecycle._spec import Driver, Edge, EdgeKind

__all__ = [
    "AWAITING_FILL",
    "CLIENT",
    "DIM",
    "DIM_TEXT",
    "FONT",
    "NOTE_FILL",
    "PATH",
    "SERVER",
    "TERMINAL_FILL",
    "VISITED_FILL",
    "edge_id",
    "path_suffix",
    "safe_text",
    "tags",
]

CLIENT = "#1f5fbf"  # client-driven edges: blue, bold
SERVER = "#333333"  # server-driven edges
AWAITING_FILL = "#fff3c4"  # awaiting-client states
TERMINAL_FILL = "#eeeeee"
PATH = "#e8590c"  # the run's path
VISITED_FILL = "#ffe8cc"
DIM = "#b0b0b0"  # the rest of the table, when a run is drawn over it
DIM_TEXT = "#8a8a8a"
NOTE_FILL = "#fff5f5"
FONT = "Helvetica"

_SAFE_TEXT = re.compile(r"[^A-Za-z0-9_ .,:=+'()/>-]")
_MAX_NOTE = 60


def edge_id(edge: Edge) -> str:
    """A stable identifier for an edge, used as the DOT/SVG ``id``: ``edge_<source>__<trigger>``."""
    return f"edge_{edge.source}__{edge.trigger}"


def tags(edge: Edge) -> list[str]:
    """What an edge label says about the edge: its row, then ``client`` and ``tolerated``."""
    out = [edge.ref]
    if edge.driver is Driver.CLIENT:
        out.append("client")
    if edge.kind is EdgeKind.TOLERATED:
        out.append("tolerated")
    return out


def path_suffix(path: RunPath | None, edge: Edge) -> str:
    """How often the run took ``edge`` (``taken x2 (1 inferred)``, ``inferred``), or ``""``."""
    if path is None:
        return ""
    n = path.count(edge)
    if not n:
        return ""
    k = path.inferred_count(edge)
    times = f" x{n}" if n > 1 else ""
    if k == n:
        return f"inferred{times}"
    return f"taken{times}" + (f" ({k} inferred)" if k else "")


def safe_text(text: str) -> str:
    """Text from a journal, made harmless for any format (and short)."""
    cleaned = _SAFE_TEXT.sub("?", text)
    return cleaned if len(cleaned) <= _MAX_NOTE else cleaned[: _MAX_NOTE - 3] + "..."
