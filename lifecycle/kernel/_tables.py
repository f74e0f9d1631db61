"""The status sets a drive decides with, derived once per table (never typed out by hand)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lifecycle._spec import EdgeKind, LifecycleSpec
from lifecycle._table import CANCEL_GUARD, SUBMIT_GUARD
from lifecycle.kernel._config import ControllerConfig

__all__ = ["TableFacts"]

_FACTS: dict[int, tuple[LifecycleSpec[Any], TableFacts]] = {}


@dataclass(frozen=True, slots=True)
class TableFacts:
    """What the kernel needs to know about a table, derived from its edges.

    Attributes:
        terminal: the terminal statuses.
        cancellable: statuses a cancel edge leaves (a cancel may be sent there).
        cancel_targets: statuses a cancel edge enters (``cancelling``; ``cancelled`` for
            Responses).
        cancel_success: the terminal statuses that mean the cancel took effect.
        submit_triggers: the triggers of the guarded submit edges (our tool outputs).
        cancel_trigger: the cancel edge's trigger, by the status it leaves.
        submit_trigger: the submit edge's trigger, by the status it leaves.
    """

    terminal: frozenset[str]
    cancellable: frozenset[str]
    cancel_targets: frozenset[str]
    cancel_success: frozenset[str]
    submit_triggers: frozenset[tuple[str, str]]
    cancel_trigger: Mapping[str, str]
    submit_trigger: Mapping[str, str]

    @classmethod
    def of(cls, spec: LifecycleSpec[Any]) -> TableFacts:
        """The facts of ``spec`` (computed once per table)."""
        cached = _FACTS.get(id(spec))
        if cached is not None and cached[0] is spec:
            return cached[1]
        cancel_edges = [e for e in spec.edges if e.guard == CANCEL_GUARD]
        targets = frozenset(e.dest for e in cancel_edges)
        terminal = spec.terminal_values
        success = frozenset(t for t in targets if t in terminal) | frozenset(
            e.dest
            for e in spec.edges
            if e.source in targets and e.kind is EdgeKind.DOCUMENTED and e.dest in terminal
        )
        facts = cls(
            terminal=terminal,
            cancellable=frozenset(e.source for e in cancel_edges),
            cancel_targets=targets,
            cancel_success=success,
            submit_triggers=frozenset(
                (e.source, e.trigger) for e in spec.edges if e.guard == SUBMIT_GUARD
            ),
            cancel_trigger={e.source: e.trigger for e in cancel_edges},
            submit_trigger={e.source: e.trigger for e in spec.edges if e.guard == SUBMIT_GUARD},
        )
        _FACTS[id(spec)] = (spec, facts)
        return facts

    def cancel_limit(self, config: ControllerConfig) -> float:
        """Seconds a cancel may take to be confirmed: the deadline of the status a cancel
        enters (``cancelling``), else the overall deadline."""
        return min(
            (config.deadlines.get(s, config.overall_timeout_s) for s in self.cancel_targets),
            default=config.overall_timeout_s,
        )
