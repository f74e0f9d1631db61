"""State diagrams drawn from the transition table: Mermaid and Graphviz DOT, as pure strings.

Theory of operation
-------------------
The renderers read a :class:`~lifecycle.LifecycleSpec` (the same edges the engine runs) and return
text; they never do I/O, never call Graphviz and never read a clock. Turning DOT into SVG or PNG is
the adapter's job (``adapters.diagram_cli``).

What a picture shows: every state and every edge of the table, each edge labelled with its trigger
and its reference row (``R4``); the initial state (``[*]`` in Mermaid, a dot in DOT); terminal
states (``--> [*]`` in Mermaid, a double border in DOT); client-driven edges (submit, cancel) in
bold blue; tolerated (undocumented) edges dashed; awaiting-client states (``requires_action``)
filled yellow; and a legend. Given a :class:`RunPath`, the same renderers overlay one run: the
edges it took in orange with a count (``x2`` for two tool rounds), inferred steps dotted, the
states it visited tinted, its final state filled, and its anomalies listed in a note.

Why our own renderer rather than ``transitions.extensions.GraphMachine``: we evaluated it
(transitions 0.9.3). Its ``graph_engine="mermaid"`` output styles the *model's current state*
as active (so the picture depends on a running instance), cannot draw terminal states as
``--> [*]``, has no per-edge style (driver, tolerated), no legend, and groups edges by trigger
rather than table order. Its ``graph_engine="graphviz"`` needs the ``graphviz`` Python package (a
dependency we would add only for this) and styles edges only through machine-wide
``style_attributes`` keyed by state/transition *status* (active, previous), not by our edge data.
Its run highlighting (``show_roi``) follows the live model, not a recorded journal. Writing the two
formats directly from the ``Edge`` tuple is about as long as configuring it, and gives us a
byte-stable result we fully control: states in enum order, edges in table order, no timestamps.
Graphviz itself is still used for what it does best: layout and SVG/PNG rendering.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from lifecycle._spec import Driver, Edge, EdgeKind, LifecycleSpec

__all__ = [
    "AnomalyLike",
    "RunPath",
    "StepLike",
    "anomaly_note",
    "edge_id",
    "run_path",
    "to_dot",
    "to_mermaid",
]

# -- colours and styles (one place, shared by both formats) ----------------------------------

_CLIENT = "#1f5fbf"  # client-driven edges: blue, bold
_SERVER = "#333333"  # server-driven edges
_AWAITING_FILL = "#fff3c4"  # awaiting-client states
_TERMINAL_FILL = "#eeeeee"
_PATH = "#e8590c"  # the run's path
_VISITED_FILL = "#ffe8cc"
_DIM = "#b0b0b0"  # the rest of the table, when a run is drawn over it
_DIM_TEXT = "#8a8a8a"
_NOTE_FILL = "#fff5f5"
_FONT = "Helvetica"

_SAFE_TEXT = re.compile(r"[^A-Za-z0-9_ .,:=+'()/>-]")
_MAX_NOTE = 60


# -- the run overlay ---------------------------------------------------------------------------


class StepLike(Protocol):
    """A journal step: :class:`lifecycle.JournalEntry` or its snapshot model."""

    @property
    def source(self) -> str: ...  # pragma: no cover - protocol
    @property
    def dest(self) -> str: ...  # pragma: no cover - protocol
    @property
    def trigger(self) -> str: ...  # pragma: no cover - protocol
    @property
    def inferred(self) -> bool: ...  # pragma: no cover - protocol


class AnomalyLike(Protocol):
    """An anomaly: :class:`lifecycle.Anomaly`, its snapshot model, or a trace finding."""

    @property
    def kind(self) -> str: ...  # pragma: no cover - protocol
    @property
    def observed(self) -> str: ...  # pragma: no cover - protocol
    @property
    def state(self) -> str: ...  # pragma: no cover - protocol


@dataclass(frozen=True)
class RunPath:
    """One run's path through a lifecycle, ready to draw over its table.

    Build it with :func:`run_path`; the renderers only read it.

    Attributes:
        taken: times each edge was traversed, keyed by ``(source, trigger)``.
        inferred: how many of those traversals were inferred (a poll skipped the step).
        visited: every state the run was in.
        final: the state the run ended in (emphasised).
        notes: anomalies and journal steps the table does not know, one line each.
    """

    taken: Mapping[tuple[str, str], int]
    inferred: Mapping[tuple[str, str], int]
    visited: frozenset[str]
    final: str
    notes: tuple[str, ...] = field(default=())

    def count(self, edge: Edge) -> int:
        """How many times the run took ``edge``."""
        return self.taken.get((edge.source, edge.trigger), 0)

    def inferred_count(self, edge: Edge) -> int:
        """How many of the traversals of ``edge`` were inferred."""
        return self.inferred.get((edge.source, edge.trigger), 0)


def anomaly_note(anomaly: AnomalyLike, *, line: int | None = None) -> str:
    """One line describing an anomaly, e.g. ``"regression: observed 'queued' in in_progress"``.

    Args:
        anomaly: the anomaly (engine record, snapshot model or trace finding).
        line: the trace line it came from, if any.
    """
    where = f"line {line}: " if line is not None else ""
    return f"{where}{anomaly.kind}: observed {anomaly.observed!r} in {anomaly.state}"


def run_path(
    spec: LifecycleSpec[Any],
    steps: Iterable[StepLike],
    *,
    final: str | None = None,
    notes: Iterable[str] = (),
) -> RunPath:
    """Fold a journal into a :class:`RunPath` over ``spec``.

    Each step is matched to the table edge ``(source, trigger)`` with the same destination. A step
    the table does not have (a journal from another table, or a hand-edited one) is not drawn as
    an edge; it becomes a note instead, so the overlay marks exactly the table edges the run took.

    Args:
        spec: the lifecycle the journal belongs to.
        steps: the journal entries, oldest first.
        final: the run's final state; defaults to the last step's destination (or the initial
            state for an empty journal).
        notes: extra lines to list, typically anomalies (see :func:`anomaly_note`).

    Returns:
        The path, with counts per edge.
    """
    taken: dict[tuple[str, str], int] = {}
    inferred: dict[tuple[str, str], int] = {}
    visited = {spec.initial.value}
    extra: list[str] = []
    last = spec.initial.value
    for step in steps:
        edge = spec.edge(step.source, step.trigger)
        if edge is None or edge.dest != step.dest:
            extra.append(f"not in the table: {step.source} -> {step.dest} ({step.trigger})")
            continue
        key = (edge.source, edge.trigger)
        taken[key] = taken.get(key, 0) + 1
        if step.inferred:
            inferred[key] = inferred.get(key, 0) + 1
        visited.update((edge.source, edge.dest))
        last = edge.dest
    end = last if final is None else str(final)
    if end in spec.state_values:
        visited.add(end)
    return RunPath(
        taken=taken,
        inferred=inferred,
        visited=frozenset(visited),
        final=end,
        notes=(*notes, *extra),
    )


# -- shared helpers ----------------------------------------------------------------------------


def edge_id(edge: Edge) -> str:
    """A stable identifier for an edge, used as the DOT/SVG ``id``: ``edge_<source>__<trigger>``."""
    return f"edge_{edge.source}__{edge.trigger}"


def _tags(edge: Edge) -> list[str]:
    tags = [edge.ref]
    if edge.driver is Driver.CLIENT:
        tags.append("client")
    if edge.kind is EdgeKind.TOLERATED:
        tags.append("tolerated")
    return tags


def _path_suffix(path: RunPath | None, edge: Edge) -> str:
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


def _safe(text: str) -> str:
    """Text from a journal, made harmless for any format (and short)."""
    cleaned = _SAFE_TEXT.sub("?", text)
    return cleaned if len(cleaned) <= _MAX_NOTE else cleaned[: _MAX_NOTE - 3] + "..."


# -- Mermaid -----------------------------------------------------------------------------------


def to_mermaid(spec: LifecycleSpec[Any], path: RunPath | None = None) -> str:
    """Render ``spec`` as a Mermaid ``stateDiagram-v2``, optionally with a run drawn over it.

    Mermaid state diagrams cannot style single edges, so the edge kind is written in the label:
    ``submit_tool_outputs (R4, client)``, ``cancel (R12, client, tolerated)``; a taken edge gets
    ``taken x2``. States carry classes (``awaiting``, ``terminal``, ``visited``, ``final``).

    Args:
        spec: the lifecycle.
        path: a run to overlay (see :func:`run_path`).

    Returns:
        The diagram text, ending with a newline. Same input, same bytes.
    """
    title = spec.title or spec.name
    if path is not None:
        title += " - run path"
    out = ["---", f'title: "{title}"', "---", "stateDiagram-v2"]
    out.append(f"    classDef awaiting fill:{_AWAITING_FILL},stroke:{_CLIENT},stroke-width:2px")
    out.append(f"    classDef terminal fill:{_TERMINAL_FILL},stroke:#555555")
    if path is not None:
        out.append(f"    classDef visited fill:{_VISITED_FILL},stroke:{_PATH}")
        out.append(f"    classDef final fill:{_PATH},color:#ffffff,stroke:#000000,stroke-width:3px")
    for s in spec.states:
        label = s.value
        if s in spec.awaiting_client:
            label += " (awaiting client)"
        out.append(f'    state "{label}" as {s.value}')
    out.append(f"    [*] --> {spec.initial.value}")
    for e in spec.edges:
        label = f"{e.trigger} ({', '.join(_tags(e))})"
        suffix = _path_suffix(path, e)
        if suffix:
            label += f" - {suffix}"
        out.append(f"    {e.source} --> {e.dest}: {label}")
    for s in spec.states:
        if s in spec.terminal:
            out.append(f"    {s.value} --> [*]")
    out += _mermaid_classes(spec, path)
    out += _mermaid_notes(spec, path)
    return "\n".join(out) + "\n"


def _mermaid_classes(spec: LifecycleSpec[Any], path: RunPath | None) -> list[str]:
    groups: dict[str, list[str]] = {"awaiting": [], "terminal": [], "visited": [], "final": []}
    for s in spec.states:
        if path is not None and s.value == path.final:
            groups["final"].append(s.value)
        elif path is not None and s.value in path.visited:
            groups["visited"].append(s.value)
        elif s in spec.awaiting_client:
            groups["awaiting"].append(s.value)
        elif s in spec.terminal:
            groups["terminal"].append(s.value)
    return [f"    class {','.join(names)} {cls}" for cls, names in groups.items() if names]


def _mermaid_notes(spec: LifecycleSpec[Any], path: RunPath | None) -> list[str]:
    legend = ["Legend"]
    if any(e.driver is Driver.CLIENT for e in spec.edges):
        legend.append("client: the client causes the edge (submit, cancel)")
    legend.append("untagged edges: the server moves the run")
    if any(e.kind is EdgeKind.TOLERATED for e in spec.edges):
        legend.append("tolerated: plausible but undocumented")
    legend += ["Rn: row of the ground-truth table", "[*]: start; terminal states lead to the end"]
    if path is not None:
        legend.append("taken xN: this run took the edge N times")
        legend.append("inferred: a poll skipped the step")
    out = [f"    note left of {spec.initial.value}"]
    out += [f"        {line}" for line in legend]
    out.append("    end note")
    if path is not None and path.notes and path.final in spec.state_values:
        out.append(f"    note right of {path.final}")
        out.append("        Anomalies")
        out += [f"        {_safe(n)}" for n in path.notes]
        out.append("    end note")
    return out


# -- Graphviz DOT ------------------------------------------------------------------------------


def _q(text: str, *, left: bool = False) -> str:
    """A DOT double-quoted string; newlines become centred (or ``left``-justified) line breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\l" if left else "\\n") + '"'


def _attrs(**attrs: str | int | float) -> str:
    return "[" + ", ".join(f"{k}={_q(str(v))}" for k, v in attrs.items()) + "]"


def _lines(*parts: str) -> str:
    """A multi-line label (``_q`` turns the newlines into DOT line breaks)."""
    return "\n".join(parts)


def to_dot(spec: LifecycleSpec[Any], path: RunPath | None = None) -> str:
    """Render ``spec`` as a Graphviz DOT digraph, optionally with a run drawn over it.

    Every element has a stable ``id`` (``state_<name>``, ``edge_<source>__<trigger>``) and a
    ``class`` that survives into SVG: ``client``/``server``, ``documented``/``tolerated``,
    ``terminal``, ``awaiting``, ``initial``, and with a run ``path``, ``inferred``, ``visited``,
    ``final``. Edges carry their evidence as an SVG tooltip.

    Args:
        spec: the lifecycle.
        path: a run to overlay (see :func:`run_path`).

    Returns:
        The DOT text, ending with a newline. Same input, same bytes.
    """
    title = spec.title or spec.name
    if path is not None:
        title += " - run path"
    graph = _attrs(
        rankdir="LR",
        label=title,
        labelloc="t",
        fontname=_FONT,
        fontsize=18,
        nodesep=0.35,
        ranksep=0.9,
        pad=0.3,
    )
    node = _attrs(
        fontname=_FONT,
        fontsize=13,
        shape="box",
        style="rounded,filled",
        fillcolor="#ffffff",
        color=_SERVER,
        margin="0.15,0.08",
    )
    edge = _attrs(fontname=_FONT, fontsize=11, color=_SERVER, fontcolor=_SERVER, arrowsize=0.8)
    start = _attrs(
        id="initial",
        shape="point",
        width=0.22,
        label="",
        color="#000000",
        fillcolor="#000000",
        tooltip=spec.initial_evidence or "initial state",
    )
    out = [
        f"digraph {_q(spec.name)} {{",
        f"    graph {graph};",
        f"    node {node};",
        f"    edge {edge};",
        f"    __start__ {start};",
        f"    __start__ -> {_q(spec.initial.value)} {_attrs(id='edge_start', penwidth=1.5)};",
    ]
    out += [f"    {_q(s.value)} {_attrs(**_dot_state(spec, s.value, path))};" for s in spec.states]
    for e in spec.edges:
        out.append(f"    {_q(e.source)} -> {_q(e.dest)} {_attrs(**_dot_edge(e, path))};")
    out += _dot_legend(spec, path)
    if path is not None and path.notes:
        label = _q("".join(_safe(n) + "\n" for n in ("Anomalies", *path.notes)), left=True)
        attrs = _attrs(id="anomalies", shape="note", style="filled", fillcolor=_NOTE_FILL)
        out.append(f'    anomalies {attrs[:-1]}, color="#c92a2a", fontsize=11, label={label}];')
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_state(spec: LifecycleSpec[Any], name: str, path: RunPath | None) -> dict[str, str]:
    status = spec.status_type(name)
    attrs: dict[str, str] = {"id": f"state_{name}", "label": name}
    classes = ["state"]
    if status == spec.initial:
        classes.append("initial")
    if status in spec.awaiting_client:
        classes.append("awaiting")
        attrs.update(
            label=_lines(name, "(awaiting client)"),
            fillcolor=_AWAITING_FILL,
            color=_CLIENT,
            penwidth="2",
        )
    if status in spec.terminal:
        classes.append("terminal")
        attrs.update(peripheries="2", fillcolor=_TERMINAL_FILL)
    if path is not None:
        if name == path.final:
            classes.append("final")
            attrs.update(fillcolor=_PATH, fontcolor="#ffffff", color="#000000", penwidth="3")
        elif name in path.visited:
            classes.append("visited")
            attrs.update(fillcolor=_VISITED_FILL, color=_PATH, penwidth="2")
        else:
            attrs.update(color=_DIM, fontcolor=_DIM_TEXT)
    attrs["class"] = " ".join(classes)
    return attrs


def _dot_edge(edge: Edge, path: RunPath | None) -> dict[str, str]:
    client = edge.driver is Driver.CLIENT
    attrs: dict[str, str] = {
        "id": edge_id(edge),
        "label": _lines(edge.trigger, edge.ref),
        "tooltip": f"{edge.ref} {edge.source} -> {edge.dest}: {edge.evidence}",
    }
    classes = [edge.driver.value, edge.kind.value]
    style = ["dashed"] if edge.kind is EdgeKind.TOLERATED else []
    if client:
        attrs.update(color=_CLIENT, fontcolor=_CLIENT, penwidth="2")
        style.append("bold")
    suffix = _path_suffix(path, edge)
    if path is not None and suffix:
        classes.append("path")
        if path.inferred_count(edge) == path.count(edge):
            classes.append("inferred")
            style = ["dotted"]
        attrs.update(
            label=_lines(edge.trigger, edge.ref, suffix),
            color=_PATH,
            fontcolor=_PATH,
            penwidth="3.5",
        )
    elif path is not None:
        attrs.update(color=_DIM, fontcolor=_DIM_TEXT)
    if style:
        attrs["style"] = ",".join(style)
    attrs["class"] = " ".join(classes)
    return attrs


def _dot_legend(spec: LifecycleSpec[Any], path: RunPath | None) -> list[str]:
    """The legend: one HTML-table node, so it stays compact wherever Graphviz puts it.

    It lists only what this lifecycle has (no "awaiting client" row for a table without one).
    """
    drivers = {e.driver for e in spec.edges}
    lines = []
    if Driver.SERVER in drivers:
        lines.append((_SERVER, "&#9472;&#9472;&#9472;&#9654;", "server-driven edge"))
    if Driver.CLIENT in drivers:
        lines.append(
            (_CLIENT, "&#9473;&#9473;&#9473;&#9654;", "client-driven edge (submit, cancel)")
        )
    if any(e.kind is EdgeKind.TOLERATED for e in spec.edges):
        lines.append((_SERVER, "- - - &#9654;", "tolerated edge (undocumented)"))
    if path is not None:
        lines += [
            (_PATH, "&#9473;&#9473;&#9473;&#9654;", "taken by this run (xN: N times)"),
            (_PATH, "<B>&#183; &#183; &#183; &#9654;</B>", "inferred (a poll skipped it)"),
        ]
    boxes = [("#ffffff", "state")]
    if spec.awaiting_client:
        boxes.append((_AWAITING_FILL, "awaiting client"))
    boxes.append((_TERMINAL_FILL, "terminal (double border)"))
    if path is not None:
        boxes += [(_VISITED_FILL, "visited by this run"), (_PATH, "final state of this run")]
    rows = ['<TR><TD COLSPAN="2"><B>Legend</B></TD></TR>']
    rows += [
        f'<TR><TD ALIGN="LEFT"><FONT COLOR="{color}">{sample}</FONT></TD>'
        f'<TD ALIGN="LEFT">{text}</TD></TR>'
        for color, sample, text in lines
    ]
    rows += [
        f'<TR><TD BGCOLOR="{fill}" BORDER="1"> </TD><TD ALIGN="LEFT">{text}</TD></TR>'
        for fill, text in boxes
    ]
    table = (
        '<TABLE BORDER="1" COLOR="#999999" CELLBORDER="0" CELLSPACING="2" CELLPADDING="3" '
        'STYLE="ROUNDED">' + "".join(rows) + "</TABLE>"
    )
    return [f'    legend [id="legend", shape="plaintext", fontsize="11", label=<{table}>];']
