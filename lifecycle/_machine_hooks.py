"""User hooks: what they are (:class:`Hooks`) and how the engine calls them.

Theory of operation
-------------------
Hooks are called after a machine step has completed, never from inside a ``transitions``
callback: before a step the engine notes where the journal and the outbox stand (:func:`marks`);
after it, :func:`after_step` calls the transition and enter hooks for every journal entry the
step added, and the requires-action hooks for every :class:`~lifecycle.DispatchTools` it emitted.
Anomaly hooks are called as each anomaly is recorded.

A hook that raises does not stop the engine: :func:`call_hook` records the exception as a
``hook_failed`` anomaly (its type name only, no message, so no secret leaks through it). A run
without hooks pays nothing for them: the engine checks ``hooks is None`` once per call, and
``observe()``'s precomputed routes are only taken without hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lifecycle._records import Anomaly, AnomalyKind, DispatchTools, JournalEntry, ToolCall, Via
from lifecycle._table import LIFECYCLES

if TYPE_CHECKING:
    from lifecycle._machine import RunLifecycle
    from lifecycle._spec import LifecycleSpec

__all__ = [
    "AnomalyHook",
    "Hooks",
    "ToolCallsHook",
    "TransitionHook",
    "after_step",
    "call_hook",
    "marks",
]

TransitionHook = Callable[["RunLifecycle", JournalEntry], None]
ToolCallsHook = Callable[["RunLifecycle", tuple[ToolCall, ...]], None]
AnomalyHook = Callable[["RunLifecycle", Anomaly], None]


class Hooks:
    """Typed user hooks, called after a machine step completes (never inside a callback).

    A hook that raises does not stop the engine: the exception is recorded as a
    ``hook_failed`` anomaly (type name only, no message, so no secret leaks through it).

    Args:
        spec: the lifecycle the hooks are for, when it is not one of :data:`lifecycle.LIFECYCLES`
            (``on_enter`` checks its state names against it; by default against every state of
            those lifecycles).

    Example::

        hooks = Hooks()

        @hooks.on_requires_action
        def queue_tools(run, calls): ...

        @hooks.on_enter("completed")
        def done(run, entry): ...
    """

    __slots__ = ("_anomaly", "_enter", "_requires_action", "_states", "_transition")

    def __init__(self, spec: LifecycleSpec[Any] | None = None) -> None:
        self._states: frozenset[str] = (
            spec.state_values
            if spec is not None
            else frozenset().union(*(s.state_values for s in LIFECYCLES.values()))
        )
        self._transition: list[TransitionHook] = []
        self._enter: dict[str, list[TransitionHook]] = {}
        self._requires_action: list[ToolCallsHook] = []
        self._anomaly: list[AnomalyHook] = []

    def on_transition(self, fn: TransitionHook) -> TransitionHook:
        """Call ``fn(run, entry)`` after every applied transition."""
        self._transition.append(fn)
        return fn

    def on_enter(self, state: str) -> Callable[[TransitionHook], TransitionHook]:
        """Call ``fn(run, entry)`` after every transition into ``state``.

        Raises:
            ValueError: ``state`` is not a state of the lifecycle (a hook that could never be
                called); the message lists the valid states.
        """
        if str(state) not in self._states:
            raise ValueError(
                f"on_enter({str(state)[:100]!r}): not a lifecycle state; "
                f"one of: {', '.join(sorted(self._states))}"
            )

        def register(fn: TransitionHook) -> TransitionHook:
            self._enter.setdefault(str(state), []).append(fn)
            return fn

        return register

    def on_requires_action(self, fn: ToolCallsHook) -> ToolCallsHook:
        """Call ``fn(run, tool_calls)`` when the run starts waiting for tool outputs."""
        self._requires_action.append(fn)
        return fn

    def on_anomaly(self, fn: AnomalyHook) -> AnomalyHook:
        """Call ``fn(run, anomaly)`` for every recorded anomaly."""
        self._anomaly.append(fn)
        return fn


def marks(run: RunLifecycle) -> tuple[int, int]:
    """Where the journal and the outbox stand before a step (for the hooks after it)."""
    return len(run._journal), len(run._outbox) if run._outbox is not None else 0


def after_step(run: RunLifecycle, journal_mark: int, outbox_mark: int) -> None:
    """Call the hooks for what the step added (only when there are hooks)."""
    hooks = run._hooks
    if hooks is None:  # pragma: no cover - callers check
        return
    for entry in run._journal[journal_mark:]:
        for fn in hooks._transition:
            call_hook(run, fn, entry)
        for fn in hooks._enter.get(entry.dest, ()):
            call_hook(run, fn, entry)
    if hooks._requires_action and run._outbox:
        for command in run._outbox[outbox_mark:]:
            if isinstance(command, DispatchTools):
                for tools_fn in hooks._requires_action:
                    call_hook(run, tools_fn, command.tool_calls)


def call_hook(run: RunLifecycle, fn: Callable[..., None], arg: Any) -> None:
    """Call one hook; an exception becomes a ``hook_failed`` anomaly."""
    try:
        fn(run, arg)
    except Exception as exc:  # a user hook must never crash the engine
        name = getattr(fn, "__qualname__", type(fn).__name__)
        run._anomaly(
            AnomalyKind.HOOK_FAILED,
            name,
            Via.CLIENT,
            run._now(None),
            f"hook raised {type(exc).__name__}",
        )
