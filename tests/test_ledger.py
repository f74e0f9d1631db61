"""The tool-call ledger: every move comes from its table, and nothing else writes an entry."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lifecycle import CallState, ToolCall, ToolLedger, ToolOutput
from lifecycle._ledger import LEDGER_MOVES, LedgerEvent

CALL = ToolCall("call_1", "charge", "{}")
ROOT = Path(__file__).resolve().parents[1]


def _ledger() -> ToolLedger:
    ledger = ToolLedger()
    ledger.intend(CALL)
    return ledger


def test_started_call_whose_output_was_lost_is_an_unknown_effect_never_claimed_again() -> None:
    """mark_unknown: the call is executed as far as anyone knows, and can never be claimed."""
    ledger = _ledger()
    assert ledger.claim("call_1")
    ledger.mark_unknown("call_1")
    assert ledger.state_of("call_1") is CallState.UNKNOWN_EFFECT
    assert ledger.entries["call_1"].executed
    assert not ledger.claim("call_1")
    assert ledger.unknown() == ("call_1",)
    ledger.undelivered(["call_1"], reason="expired")  # giving up leaves an unknown effect alone
    assert ledger.state_of("call_1") is CallState.UNKNOWN_EFFECT
    assert ledger.unsettled() == []


def test_a_claim_that_never_started_can_be_reopened_and_run() -> None:
    """reopen: claimed, but the effect log says it never started: it may run after all."""
    ledger = _ledger()
    assert ledger.claim("call_1")
    ledger.reopen("call_1")
    assert ledger.state_of("call_1") is CallState.INTENDED
    assert not ledger.entries["call_1"].executed
    assert ledger.claim("call_1")


def test_reopen_never_touches_a_call_with_an_output() -> None:
    """A finished call is not reopened (its output is reused, never recomputed)."""
    ledger = _ledger()
    ledger.claim("call_1")
    ledger.record(ToolOutput("call_1", "ok", "ok"), executed=True)
    ledger.reopen("call_1")
    assert ledger.state_of("call_1") is CallState.FINISHED


def test_a_legacy_unknown_effect_marked_by_reason_loads_as_the_state() -> None:
    """Ledgers saved before UNKNOWN_EFFECT was a state are upgraded on load."""
    old = (
        '{"entries": {"call_1": {"tool_call_id": "call_1", "name": "charge", "arguments": "{}",'
        ' "state": "started", "executed": true, "reason": "unknown_effect"}}}'
    )
    ledger = ToolLedger.model_validate_json(old)
    assert ledger.state_of("call_1") is CallState.UNKNOWN_EFFECT
    assert ledger.entries["call_1"].reason is None


@pytest.mark.parametrize(("state", "event"), sorted(LEDGER_MOVES, key=str))
def test_every_move_of_the_table_lands_in_a_known_state(
    state: CallState, event: LedgerEvent
) -> None:
    """The table is closed over CallState and every event is a LedgerEvent."""
    assert isinstance(LEDGER_MOVES[state, event], CallState)
    assert isinstance(event, LedgerEvent)


def test_no_module_outside_the_ledger_assigns_a_call_state() -> None:
    """Only lifecycle/_ledger.py writes ``.state`` / ``.executed`` on ledger entries."""
    offenders = []
    for path in [
        *ROOT.joinpath("lifecycle").rglob("*.py"),
        *ROOT.joinpath("adapters").rglob("*.py"),
    ]:
        if path.name == "_ledger.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr in ("executed",):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "state"
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "entry"
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def _unknown() -> ToolLedger:
    ledger = _ledger()
    ledger.claim("call_1")
    ledger.mark_unknown("call_1")
    return ledger


def test_a_person_settles_an_unknown_effect_as_done_with_its_output() -> None:
    ledger = _unknown()
    ledger.settle("call_1", "done", ToolOutput("call_1", "receipt 42", "receipt 42"))
    assert ledger.state_of("call_1") is CallState.FINISHED
    assert ledger.output_for("call_1") == ToolOutput("call_1", "receipt 42", "receipt 42")
    assert not ledger.claim("call_1")  # never run again
    ledger.delivered(["call_1"])
    assert ledger.state_of("call_1") is CallState.DELIVERED


def test_a_person_settles_an_unknown_effect_as_failed() -> None:
    ledger = _unknown()
    ledger.settle("call_1", "failed")
    entry = ledger.entries["call_1"]
    assert entry.state is CallState.FAILED
    assert entry.error == "tool_error"
    assert not ledger.claim("call_1")


def test_a_person_decides_the_effect_never_happened_so_it_may_run_again() -> None:
    ledger = _unknown()
    ledger.settle("call_1", "run_again")
    assert ledger.state_of("call_1") is CallState.INTENDED
    assert not ledger.entries["call_1"].executed
    assert ledger.claim("call_1")


def test_settle_refuses_calls_that_are_not_unknown_and_bad_decisions() -> None:
    ledger = _ledger()
    with pytest.raises(ValueError, match="not unknown_effect"):
        ledger.settle("call_1", "run_again")
    unknown = _unknown()
    with pytest.raises(ValueError, match="decision"):
        unknown.settle("call_1", "maybe")
    with pytest.raises(ValueError, match="output"):
        unknown.settle("call_1", "done")
    with pytest.raises(KeyError):
        unknown.settle("nope", "run_again")
