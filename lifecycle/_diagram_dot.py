"""The Graphviz DOT renderer: a digraph of a lifecycle, optionally with a run over it.

Theory of operation
-------------------
DOT can style every element, so the kind of an edge is drawn rather than written: client edges
bold blue, tolerated edges dashed, awaiting-client states filled yellow, terminal states with a
double border; with a run, its edges orange with a count, inferred steps dotted, visited states
tinted and the rest of the table dimmed. Every element has a stable ``id`` and a ``class`` that
survive into SVG (tests and stylesheets select on them), and edges carry their evidence as a
tooltip. The legend is one HTML-table node listing only what this lifecycle has. The text is
pure: turning it into SVG or PNG is the adapter's job (``adapters.diagram_cli``).
"""

from __future__ import annotations

from typing import Any

from lifecycle._diagram_overlay import RunPath
from lifecycle._diagram_style import (
    AWAITING_FILL,
    CLIENT,
    DIM,
    DIM_TEXT,
    FONT,
    NOTE_FILL,
    PATH,
    SERVER,
    TERMINAL_FILL,
    VISITED_FILL,
    edge_id,
    path_suffix,
    safe_text,
)
from lifecycle._spec import Driver, Edge, EdgeKind, LifecycleSpec

__all__ = ["to_dot"]


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
        path: a run to overlay (see :func:`~lifecycle.diagram.run_path`).

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
        fontname=FONT,
        fontsize=18,
        nodesep=0.35,
        ranksep=0.9,
        pad=0.3,
    )
    node = _attrs(
        fontname=FONT,
        fontsize=13,
        shape="box",
        style="rounded,filled",
        fillcolor="#ffffff",
        color=SERVER,
        margin="0.15,0.08",
    )
    edge = _attrs(fontname=FONT, fontsize=11, color=SERVER, fontcolor=SERVER, arrowsize=0.8)
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
        label = _q("".join(safe_text(n) + "\n" for n in ("Anomalies", *path.notes)), left=True)
        attrs = _attrs(id="anomalies", shape="note", style="filled", fillcolor=NOTE_FILL)
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
            fillcolor=AWAITING_FILL,
            color=CLIENT,
            penwidth="2",
        )
    if status in spec.terminal:
        classes.append("terminal")
        attrs.update(peripheries="2", fillcolor=TERMINAL_FILL)
    if path is not None:
        if name == path.final:
            classes.append("final")
            attrs.update(fillcolor=PATH, fontcolor="#ffffff", color="#000000", penwidth="3")
        elif name in path.visited:
            classes.append("visited")
            attrs.update(fillcolor=VISITED_FILL, color=PATH, penwidth="2")
        else:
            attrs.update(color=DIM, fontcolor=DIM_TEXT)
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
        attrs.update(color=CLIENT, fontcolor=CLIENT, penwidth="2")
        style.append("bold")
    suffix = path_suffix(path, edge)
    if path is not None and suffix:
        classes.append("path")
        if path.inferred_count(edge) == path.count(edge):
            classes.append("inferred")
            style = ["dotted"]
        attrs.update(
            label=_lines(edge.trigger, edge.ref, suffix),
            color=PATH,
            fontcolor=PATH,
            penwidth="3.5",
        )
    elif path is not None:
        attrs.update(color=DIM, fontcolor=DIM_TEXT)
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
        lines.append((SERVER, "&#9472;&#9472;&#9472;&#9654;", "server-driven edge"))
    if Driver.CLIENT in drivers:
        lines.append(
            (CLIENT, "&#9473;&#9473;&#9473;&#9654;", "client-driven edge (submit, cancel)")
        )
    if any(e.kind is EdgeKind.TOLERATED for e in spec.edges):
        lines.append((SERVER, "- - - &#9654;", "tolerated edge (undocumented)"))
    if path is not None:
        lines += [
            (PATH, "&#9473;&#9473;&#9473;&#9654;", "taken by this run (xN: N times)"),
            (PATH, "<B>&#183; &#183; &#183; &#9654;</B>", "inferred (a poll skipped it)"),
        ]
    boxes = [("#ffffff", "state")]
    if spec.awaiting_client:
        boxes.append((AWAITING_FILL, "awaiting client"))
    boxes.append((TERMINAL_FILL, "terminal (double border)"))
    if path is not None:
        boxes += [(VISITED_FILL, "visited by this run"), (PATH, "final state of this run")]
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
