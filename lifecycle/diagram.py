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

The pipeline is python-statemachine's extract -> data model -> renderers, with the table as the
model (nothing to extract: the ``Edge`` tuple already is the data). This module is the public
face; the parts live in private modules:

* ``_diagram_overlay.py``: a run's data model, :class:`RunPath`, folded from a journal by
  :func:`run_path` (and :func:`anomaly_note` for its notes);
* ``_diagram_style.py``: colours, edge tags and labels, :func:`edge_id`, shared by both formats;
* ``_diagram_mermaid.py``: :func:`to_mermaid`;
* ``_diagram_dot.py``: :func:`to_dot`.
"""

from __future__ import annotations

from lifecycle._diagram_dot import to_dot
from lifecycle._diagram_mermaid import to_mermaid
from lifecycle._diagram_overlay import AnomalyLike, RunPath, StepLike, anomaly_note, run_path
from lifecycle._diagram_style import edge_id

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
