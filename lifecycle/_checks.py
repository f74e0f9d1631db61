"""Structural checks run when a lifecycle table is built (python-statemachine's ``_check_*`` set).

Each check raises :class:`lifecycle.DefinitionError` naming the offending states, so a bad edit to
the table fails at import time with a message that says what to fix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from lifecycle.errors import DefinitionError

__all__ = ["check_table"]


def check_table(
    name: str,
    *,
    states: Sequence[str],
    initial: str,
    terminal: Sequence[str],
    edges: Sequence[tuple[str, str, str]],
) -> None:
    """Check a table given as plain data; raise :class:`DefinitionError` on the first problem.

    Args:
        name: the lifecycle's name, for messages.
        states: every state.
        initial: the initial state (exactly one).
        terminal: the terminal states.
        edges: ``(source, trigger, dest)`` triples.
    """
    known = set(states)
    dupes = [s for s, n in Counter(states).items() if n > 1]
    if dupes:
        raise DefinitionError(name, "duplicate_state", dupes, "a state is listed twice")
    if initial not in known:
        raise DefinitionError(name, "initial", [initial], "the initial state is not a state")
    unknown = {s for s in terminal if s not in known}
    unknown |= {x for (src, _, dst) in edges for x in (src, dst) if x not in known}
    if unknown:
        raise DefinitionError(name, "unknown_state", unknown, "edges or terminals name unknowns")
    if initial in terminal:
        raise DefinitionError(name, "initial", [initial], "the initial state is terminal")
    out_of_terminal = {src for (src, _, _) in edges if src in terminal}
    if out_of_terminal:
        raise DefinitionError(
            name, "terminal_has_edges", out_of_terminal, "a terminal state has an outgoing edge"
        )
    pairs = Counter((src, trig) for (src, trig, _) in edges)
    dup_pairs = {src for (src, trig), n in pairs.items() if n > 1}
    if dup_pairs:
        triggers = sorted({trig for (src, trig), n in pairs.items() if n > 1})
        raise DefinitionError(
            name,
            "duplicate_trigger",
            dup_pairs,
            f"two edges share (source, trigger) for trigger(s) {', '.join(triggers)}",
        )
    succ: dict[str, set[str]] = {s: set() for s in states}
    for src, _, dst in edges:
        succ[src].add(dst)
    reachable = _closure(succ, {initial})
    unreachable = known - reachable
    if unreachable:
        raise DefinitionError(
            name, "unreachable", unreachable, "states not reachable from the initial state"
        )
    terminal_set = set(terminal)
    if not terminal_set:
        raise DefinitionError(name, "no_terminal", [initial], "no terminal state is declared")
    trapped = {s for s in known - terminal_set if not (_closure(succ, {s}) & terminal_set)}
    if trapped:
        raise DefinitionError(
            name, "trap", trapped, "no terminal state is reachable from these states"
        )


def _closure(succ: dict[str, set[str]], start: set[str]) -> set[str]:
    seen = set(start)
    stack = list(start)
    while stack:
        for nxt in succ[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen
