"""The run overlay: one run's path through a lifecycle, folded from its journal.

Theory of operation
-------------------
The diagrams have two inputs. The table (a :class:`~lifecycle.LifecycleSpec`, the same edges the
engine runs) is already the data model of the picture: states in enum order, edges in table
order, each edge with its driver, kind, reference row and evidence; nothing is extracted from a
running machine. The second, optional input is a run, and this module is its data model:
:func:`run_path` folds a journal (engine entries, snapshot models or trace steps, anything
:class:`StepLike`) into a :class:`RunPath`: how many times each table edge was taken, how many
of those were inferred, the states visited, the final state and notes. A journal step the table
does not have is never drawn as an edge; it becomes a note, so an overlay marks exactly the table
edges the run took. The renderers only read a :class:`RunPath`.

Notes stay readable whatever the run: up to :data:`NOTE_LIMIT` anomalies are listed one per
line (:func:`anomaly_notes`); past it the note counts them per kind and shows the first
:data:`NOTE_EXAMPLES`, so a trace with 200,000 anomalies draws a note of a few lines, in time
linear in the anomalies. Journal steps the table does not have are summarised the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lifecycle._spec import Edge, LifecycleSpec

__all__ = [
    "NOTE_EXAMPLES",
    "NOTE_LIMIT",
    "AnomalyLike",
    "RunPath",
    "StepLike",
    "anomaly_note",
    "anomaly_notes",
    "run_path",
]

#: up to this many anomalies are listed one per line; more are summarised
NOTE_LIMIT = 12
#: how many examples a summary shows
NOTE_EXAMPLES = 5


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


def anomaly_notes(
    anomalies: Sequence[AnomalyLike], *, lines: Sequence[int] | None = None
) -> list[str]:
    """The note lines for a run's anomalies: one per anomaly, or a summary past
    :data:`NOTE_LIMIT` (the count per kind, most frequent first, then the first
    :data:`NOTE_EXAMPLES` and how many more there are).

    Args:
        anomalies: the anomalies, oldest first.
        lines: the trace line of each anomaly, if they come from a trace.
    """

    def line_of(i: int) -> int | None:
        return lines[i] if lines is not None else None

    if len(anomalies) <= NOTE_LIMIT:
        return [anomaly_note(a, line=line_of(i)) for i, a in enumerate(anomalies)]
    counts = Counter(a.kind for a in anomalies)
    by_kind = ", ".join(f"{kind} x{n:,}" for kind, n in counts.most_common())
    out = [f"{len(anomalies):,} anomalies: {by_kind}"]
    out += [f"e.g. {anomaly_note(anomalies[i], line=line_of(i))}" for i in range(NOTE_EXAMPLES)]
    out.append(f"... {len(anomalies) - NOTE_EXAMPLES:,} more not listed")
    return out


def _summarised(extra: list[str]) -> list[str]:
    """The notes for journal steps the table does not have (summarised past the limit)."""
    if len(extra) <= NOTE_LIMIT:
        return extra
    head = f"{len(extra):,} journal steps not in the table, e.g."
    return [head, *extra[:NOTE_EXAMPLES], f"... {len(extra) - NOTE_EXAMPLES:,} more not listed"]


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
        notes: extra lines to list, typically anomalies (see :func:`anomaly_notes`).

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
        notes=(*notes, *_summarised(extra)),
    )
