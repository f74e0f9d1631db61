"""Gaps found by mutation testing in the core (issue 14; docs/mutation.md): each test here fails
on a mutant that the rest of the suite let through.

* the output cap at its exact boundary, its flag and its count;
* journal fidelity: every field of an entry, on the hot path and the general path alike;
* restore fidelity: hooks, clock and strictness survive ``RunLifecycle.restore``;
* a rejected ``trigger()`` changes nothing at all.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from lifecycle import (
    ASSISTANTS_RUN,
    LIFECYCLES,
    AnomalyKind,
    GuardRejected,
    Hooks,
    IllegalTransition,
    JournalEntry,
    RunLifecycle,
    ToolCall,
    ToolRegistry,
)
from lifecycle._dispatch import ToolErrorKind, cap_output, error_output
from lifecycle._spec import LifecycleSpec

# -- the output cap ----------------------------------------------------------------------------

_MARKER = re.compile(r"\n\[\.\.\. truncated (\d+) of (\d+) chars \.\.\.\]\n")


@pytest.mark.parametrize("cap", [64, 100, 1000])
def test_an_output_of_exactly_the_cap_is_kept_whole(cap: int) -> None:
    """``len(text) == max_chars`` is not truncated; one character more is."""
    text = "x" * cap
    assert cap_output(text, cap) == (text, False)
    capped, truncated = cap_output(text + "y", cap)
    assert truncated
    assert len(capped) <= cap
    assert _MARKER.search(capped)


def test_a_short_output_is_returned_as_is_and_not_flagged() -> None:
    """Under the cap: the same text, ``truncated`` False, through the registry too."""
    assert cap_output("short", 64) == ("short", False)
    registry = ToolRegistry(max_output_chars=256)
    out = registry.finish(ToolCall("c1", "f", "{}"), "y" * 256)
    assert (out.output, out.full_output, out.truncated) == ("y" * 256, "y" * 256, False)
    over = registry.finish(ToolCall("c1", "f", "{}"), "y" * 257)
    assert over.truncated
    assert over.full_output == "y" * 257


@pytest.mark.parametrize(("size", "cap"), [(101, 100), (6000, 1000), (200, 64), (10_000, 64)])
def test_the_marker_counts_exactly_the_dropped_characters(size: int, cap: int) -> None:
    """Head + tail + the number the marker reports add up to the text; head and tail are the
    text's own first and last characters, the head being three quarters of the room."""
    text = "".join(chr(ord("a") + i % 26) for i in range(size))
    capped, truncated = cap_output(text, cap)
    assert truncated
    match = _MARKER.search(capped)
    assert match is not None
    dropped, total = int(match[1]), int(match[2])
    head, tail = capped[: match.start()], capped[match.end() :]
    assert total == size
    assert len(head) + len(tail) + dropped == size
    assert text.startswith(head)
    assert text.endswith(tail)
    room = len(head) + len(tail)
    assert len(head) == room * 3 // 4
    assert len(capped) <= cap


def test_an_error_output_under_the_cap_is_whole_json_and_not_flagged() -> None:
    """error_output: not truncated when it fits; the bulky parts go before anything is cut."""
    fits = error_output("c1", ToolErrorKind.TOOL_ERROR, "boom", 1000, schema={"a": 1})
    assert not fits.truncated
    assert fits.output == fits.full_output
    assert '"schema"' in fits.output
    # too big with its schema, small enough without: the schema is dropped, nothing is cut
    big = error_output("c1", ToolErrorKind.INVALID_ARGUMENTS, "bad", 120, schema={"x": "y" * 200})
    assert not big.truncated
    assert '"schema"' not in big.output
    assert big.output.startswith('{"error":')
    assert len(big.output) <= 120


def test_an_error_output_keeps_its_parts_when_exactly_at_the_cap() -> None:
    """The optional parts are only dropped when the object is *over* the cap."""
    full = error_output("c1", ToolErrorKind.TOOL_ERROR, "m", 10_000, schema={"k": "v"}).output
    exact = error_output("c1", ToolErrorKind.TOOL_ERROR, "m", len(full), schema={"k": "v"})
    assert exact.output == full
    assert not exact.truncated


def test_an_error_output_over_the_cap_even_without_its_extras_is_flagged() -> None:
    """A message too long for the cap: cut, flagged, the full text kept."""
    out = error_output("c1", ToolErrorKind.TOOL_ERROR, "m" * 500, 100)
    assert out.truncated
    assert len(out.output) <= 100
    assert out.full_output.endswith('"}}')
    assert out.error == "tool_error"


# -- journal fidelity --------------------------------------------------------------------------


def _calls(spec_status: str, spec_awaiting: frozenset[str]) -> list[ToolCall] | None:
    return [ToolCall("call_1", "f", "{}")] if spec_status in spec_awaiting else None


@pytest.mark.parametrize("spec", list(LIFECYCLES.values()), ids=lambda s: s.name)
@pytest.mark.parametrize("assume_client", [False, True])
def test_the_hot_path_journals_exactly_what_the_general_path_does(
    spec: LifecycleSpec[Any], assume_client: bool
) -> None:
    """For every (status, status) pair of every table: a run without hooks (precomputed routes)
    and a run with hooks (planned from the guards) end with the same state, the same journal,
    field by field (kind, inferred, external, via, time), and the same anomaly kinds."""
    values = sorted(spec.state_values)
    awaiting = spec.awaiting_client_values
    for first, second in itertools.product(values, values):
        runs = [RunLifecycle(spec), RunLifecycle(spec, hooks=Hooks())]
        for run in runs:
            run.observe(
                first, via="stream", at=1.0, tool_calls=_calls(first, awaiting), assume_client=True
            )
            run.observe(
                second,
                via="poll",
                at=2.0,
                tool_calls=_calls(second, awaiting),
                assume_client=assume_client,
            )
        plain, hooked = runs
        where = f"{spec.name}: {first} -> {second}"
        assert str(plain.state) == str(hooked.state), where
        assert plain.history == hooked.history, where
        assert [a.kind for a in plain.anomalies] == [a.kind for a in hooked.anomalies], where


def test_a_skipped_step_is_journaled_inferred_and_the_seen_one_not() -> None:
    """queued -> completed by one poll: the in_progress step is inferred, the last is not; both
    carry the observation's via and time, neither is external, both documented."""
    run = RunLifecycle()
    entries = run.observe("completed", via="stream", at=5.0)
    assert entries == [
        JournalEntry("queued", "in_progress", "start", "stream", 5.0, True, False, "documented"),
        JournalEntry("in_progress", "completed", "complete", "stream", 5.0, False, False),
    ]
    assert list(run.history) == entries


@pytest.mark.parametrize("hooks", [False, True], ids=["hot path", "general path"])
def test_a_tolerated_edge_is_journaled_as_tolerated(hooks: bool) -> None:
    """R14 (queued -> expired) and R16 (cancelling -> completed) are tolerated edges: their
    entries say so, whichever path of observe() applied them; a documented one says documented."""
    run = RunLifecycle(hooks=Hooks() if hooks else None)
    (entry,) = run.observe("expired", at=1.0)
    assert (entry.source, entry.dest, entry.kind) == ("queued", "expired", "tolerated")
    other = RunLifecycle(hooks=Hooks() if hooks else None)
    other.observe("in_progress", at=1.0)
    other.trigger("cancel", at=2.0)
    (won,) = other.observe("completed", at=3.0)
    assert (won.source, won.dest, won.kind, won.via) == (
        "cancelling",
        "completed",
        "tolerated",
        "poll",
    )
    assert other.history[0].kind == "documented"


def test_a_tolerated_client_edge_fired_by_trigger_is_journaled_as_tolerated() -> None:
    """trigger('cancel') from queued takes R12, a tolerated edge: the entry says so, and that the
    client moved it (via client, not inferred, not external)."""
    run = RunLifecycle()
    entry = run.trigger("cancel", at=3.0)
    assert entry == JournalEntry(
        "queued", "cancelling", "cancel", "client", 3.0, False, False, "tolerated"
    )


@pytest.mark.parametrize("hooks", [False, True], ids=["hot path", "general path"])
def test_a_foreign_cancel_is_journaled_external_and_ours_is_not(hooks: bool) -> None:
    """A cancel we never asked for is applied and flagged external; after request_cancel() the
    same observation is ours."""
    foreign = RunLifecycle(hooks=Hooks() if hooks else None)
    foreign.observe("in_progress", at=1.0)
    (entry,) = foreign.observe("cancelling", at=2.0)
    assert entry.external
    assert not entry.inferred
    assert foreign.anomalies[-1].kind == AnomalyKind.EXTERNAL_CANCEL.value
    ours = RunLifecycle(hooks=Hooks() if hooks else None)
    ours.observe("in_progress", at=1.0)
    ours.request_cancel()
    (mine,) = ours.observe("cancelling", at=2.0)
    assert not mine.external
    assert ours.anomalies == ()


# -- restore fidelity --------------------------------------------------------------------------


def test_hooks_fire_after_a_restore() -> None:
    """The hooks given to restore() are the run's hooks: transition, enter, requires-action and
    anomaly hooks all fire for what happens after it."""
    run = RunLifecycle()
    run.observe("in_progress", at=1.0)
    seen: list[str] = []
    hooks = Hooks()
    hooks.on_transition(lambda r, e: seen.append(f"transition {e.source}->{e.dest}"))
    hooks.on_enter("requires_action")(lambda r, e: seen.append("enter requires_action"))
    hooks.on_requires_action(lambda r, calls: seen.append(f"calls {[c.id for c in calls]}"))
    hooks.on_anomaly(lambda r, a: seen.append(f"anomaly {a.kind}"))
    restored = RunLifecycle.restore(run.snapshot().model_dump_json(), hooks=hooks)
    restored.observe("requires_action", at=2.0, tool_calls=[ToolCall("c1", "f", "{}")])
    restored.observe("queued", at=3.0)  # a stale read without our submission
    assert seen == [
        "transition in_progress->requires_action",
        "enter requires_action",
        "calls ['c1']",
        f"anomaly {AnomalyKind.REGRESSION.value}",
    ]


def test_the_clock_given_to_restore_times_later_entries() -> None:
    """Without ``at=``, entries after a restore are timed by the clock given to it."""
    run = RunLifecycle()
    run.observe("in_progress", at=1.0)
    restored = RunLifecycle.restore(run.snapshot(), clock=lambda: 42.5)
    (entry,) = restored.observe("completed")
    assert entry.at == 42.5
    assert restored.history[0].at == 1.0  # the restored journal keeps its own times


def test_strictness_given_to_restore_holds() -> None:
    """restore(strict=True): an observation that would be an anomaly raises instead."""
    run = RunLifecycle()
    run.observe("in_progress", at=1.0)
    strict = RunLifecycle.restore(run.snapshot(), strict=True)
    with pytest.raises(IllegalTransition):
        strict.observe("queued")
    lenient = RunLifecycle.restore(run.snapshot())
    assert lenient.observe("queued") == []
    assert lenient.anomalies[-1].kind == AnomalyKind.REGRESSION.value


def test_a_restored_run_equals_the_original_in_every_part() -> None:
    """State, journal, anomalies, pending calls, submissions and the cancel request survive."""
    run = RunLifecycle(spec=ASSISTANTS_RUN)
    run.observe("requires_action", at=1.0, tool_calls=[ToolCall("c1", "f", '{"a":1}')])
    run.observe("bogus", at=2.0)
    run.trigger("submit_tool_outputs", at=3.0, tool_call_ids=["c1"])
    run.request_cancel()
    back = RunLifecycle.restore(run.snapshot().model_dump_json())
    assert back.snapshot() == run.snapshot()
    assert back.cancel_requested
    assert str(back.state) == "queued"


# -- a rejected trigger changes nothing ----------------------------------------------------------


def test_a_trigger_rejected_by_its_guard_changes_nothing() -> None:
    """A submit whose ids do not answer the round is refused: the snapshot (journal, context,
    submissions) is the same before and after, and no command was emitted."""
    run = RunLifecycle()
    run.observe("requires_action", at=1.0, tool_calls=[ToolCall("c1", "f", "{}")])
    run.take_commands()
    before = run.snapshot()
    with pytest.raises(GuardRejected):
        run.trigger("submit_tool_outputs", at=2.0, tool_call_ids=["other"])
    assert run.snapshot() == before
    assert run.take_commands() == []
    with pytest.raises(GuardRejected):
        run.trigger("submit_tool_outputs", at=2.0, tool_call_ids=[])
    assert run.snapshot() == before


def test_a_trigger_with_no_edge_changes_nothing() -> None:
    """No edge (state, trigger): IllegalTransition, and the run is exactly as before."""
    run = RunLifecycle()
    run.observe("in_progress", at=1.0)
    before = run.snapshot()
    with pytest.raises(IllegalTransition):
        run.trigger("submit_tool_outputs", tool_call_ids=["c1"])
    with pytest.raises(IllegalTransition):
        run.trigger("no_such_trigger")
    assert run.snapshot() == before
