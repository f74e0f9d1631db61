"""The Mermaid renderer: a ``stateDiagram-v2`` of a lifecycle, optionally with a run over it.

Theory of operation
-------------------
Mermaid state diagrams cannot style single edges, so everything an edge is (its row, whether the
client drives it, whether it is tolerated, how often a run took it) is written in its label.
States carry classes (``awaiting``, ``terminal``, and with a run ``visited``, ``final``); the
initial state is entered from ``[*]`` and terminal states lead to ``[*]``. A legend note names
only what this lifecycle has; a run's anomalies go into a second note. States are written in
enum order and edges in table order, so the same input gives the same bytes.
"""

from __future__ import annotations

from typing import Any

from lifecycle._diagram_overlay import RunPath
from lifecycle._diagram_style import (
    AWAITING_FILL,
    CLIENT,
    PATH,
    TERMINAL_FILL,
    VISITED_FILL,
    path_suffix,
    safe_text,
    tags,
)
from lifecycle._spec import Driver, EdgeKind, LifecycleSpec

__all__ = ["to_mermaid"]


def to_mermaid(spec: LifecycleSpec[Any], path: RunPath | None = None) -> str:
    """Render ``spec`` as a Mermaid ``stateDiagram-v2``, optionally with a run drawn over it.

    Mermaid state diagrams cannot style single edges, so the edge kind is written in the label:
    ``submit_tool_outputs (R4, client)``, ``cancel (R12, client, tolerated)``; a taken edge gets
    ``taken x2``. States carry classes (``awaiting``, ``terminal``, ``visited``, ``final``).

    Args:
        spec: the lifecycle.
        path: a run to overlay (see :func:`~lifecycle.diagram.run_path`).

    Returns:
        The diagram text, ending with a newline. Same input, same bytes.
    """
    title = spec.title or spec.name
    if path is not None:
        title += " - run path"
    out = ["---", f'title: "{title}"', "---", "stateDiagram-v2"]
    out.append(f"    classDef awaiting fill:{AWAITING_FILL},stroke:{CLIENT},stroke-width:2px")
    out.append(f"    classDef terminal fill:{TERMINAL_FILL},stroke:#555555")
    if path is not None:
        out.append(f"    classDef visited fill:{VISITED_FILL},stroke:{PATH}")
        out.append(f"    classDef final fill:{PATH},color:#ffffff,stroke:#000000,stroke-width:3px")
    for s in spec.states:
        label = s.value
        if s in spec.awaiting_client:
            label += " (awaiting client)"
        out.append(f'    state "{label}" as {s.value}')
    out.append(f"    [*] --> {spec.initial.value}")
    for e in spec.edges:
        label = f"{e.trigger} ({', '.join(tags(e))})"
        suffix = path_suffix(path, e)
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
        out += [f"        {safe_text(n)}" for n in path.notes]
        out.append("    end note")
    return out
