"""Matrix rows about tool calls: S09-S16 (tool doubles count real executions)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from adapters.files import PathRejected, confine
from adapters.simulator import Answer, CallTools, Queue, Scenario, ToolCallSpec
from lifecycle import CallState, ToolRegistry
from tests.faults.harness import Effects, World, wait_until


def _registry(effects: Effects) -> ToolRegistry:
    tools = ToolRegistry(max_output_chars=1024)

    @tools.tool
    def charge(order: str, cents: int) -> str:
        """Charge an order (not idempotent: every execution is a charge)."""
        effects.hit(f"charge:{order}")
        return f"charged {order} {cents}"

    @tools.tool
    def boom(order: str) -> str:
        """Always raises."""
        effects.hit(f"boom:{order}")
        raise ValueError(f"cannot handle {order}")

    @tools.tool
    def slow(order: str) -> str:
        """Blocks until the test releases it."""
        effects.hit(f"slow:{order}")
        effects.release.wait(10)
        return f"slow {order} done"

    @tools.tool
    def huge() -> str:
        """Returns 20 MB."""
        effects.hit("huge")
        return "x" * (20 * 1024 * 1024)

    @tools.tool
    def as_dict(order: str) -> dict[str, object]:
        """Returns a dict (not a string)."""
        effects.hit(f"dict:{order}")
        return {"order": order, "total": 12.5}

    return tools


def _call(name: str, **args: object) -> ToolCallSpec:
    return ToolCallSpec.of(name, args)


def test_s09_one_call_is_executed_once_and_submitted_once(world: World) -> None:
    """S09: requires_action(1 call) -> completed: 1 execution, 1 submission, delivered."""
    effects = Effects()
    meta = world.scenario(
        "s09",
        Scenario((Queue(), CallTools((_call("charge", order="A", cents=5),)), Answer("{output}"))),
    )
    out = world.controller(_registry(effects)).run(
        thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
    )
    assert out.status == "completed"
    assert effects.count == {"charge:A": 1}
    assert world.count("POST", "/v1/threads/*/runs/*/submit_tool_outputs") == 1
    assert [[o.output for o in r] for r in world.sim.tool_outputs(out.run_id)] == [["charged A 5"]]
    assert [t.state for t in out.tool_calls] == [CallState.DELIVERED]
    assert out.text == "charged A 5"


def test_s10_three_rounds_and_a_stale_replay_execute_each_id_once(world: World) -> None:
    """S10: 3 rounds; a stale poll replays round 1's call id: every id runs exactly once (I1)."""
    from tests.faults.harness import Rule

    effects = Effects()
    rounds = tuple(
        step
        for i in range(3)
        for step in (Queue(), CallTools((_call("charge", order=f"R{i}", cents=i),)))
    )
    meta = world.scenario("s10", Scenario((*rounds, Answer("{outputs}"))))
    thread = world.thread()
    # after round 1 was submitted, one poll shows round 1's requires_action again (stale)
    world.rewriter.add(thread, Rule(when="in_progress", payload=thread, times=1))
    out = world.controller(_registry(effects)).run(
        thread_id=thread, assistant_id=world.assistant_id, metadata=meta
    )
    assert out.status == "completed"
    assert world.rewriter.rules[thread][0].fired == 1  # the stale replay was on the wire
    assert effects.count == {"charge:R0": 1, "charge:R1": 1, "charge:R2": 1}
    accepted = world.sim.tool_outputs(out.run_id)
    assert [len(r) for r in accepted] == [1, 1, 1]
    assert len({o.tool_call_id for r in accepted for o in r}) == 3
    assert len(out.tool_calls) == 3
    assert all(t.state == CallState.DELIVERED for t in out.tool_calls)


def test_s11_parallel_calls_one_raises_one_times_out_all_ids_answered(world: World) -> None:
    """S11: 5 parallel calls, one raises, one times out: 5 outputs, 2 of them errors (I3)."""
    effects = Effects()
    calls = (
        _call("charge", order="P1", cents=1),
        _call("charge", order="P2", cents=2),
        _call("boom", order="P3"),
        _call("slow", order="P4"),
        _call("as_dict", order="P5"),
    )
    meta = world.scenario("s11", Scenario((Queue(), CallTools(calls), Answer("{outputs}"))))
    cfg = world.config(tool_timeout_s=0.3)
    try:
        out = world.controller(_registry(effects), config=cfg).run(
            thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
        )
    finally:
        effects.release.set()
    assert out.status == "completed"
    (submitted,) = world.sim.tool_outputs(out.run_id)
    required = [t.id for t in out.tool_calls]
    assert len(set(required)) == 5
    assert sorted(o.tool_call_id for o in submitted) == sorted(required)
    assert len(submitted) == 5
    errors = {t.name: t.error for t in out.tool_calls}
    assert errors == {
        "charge": None,
        "boom": "tool_error",
        "slow": "tool_timeout",
        "as_dict": None,
    }
    assert effects.total == 5  # every call ran exactly once
    by_name = {
        o.name: json.loads(o.output) if o.output.startswith("{") else o.output for o in submitted
    }
    assert by_name["boom"]["error"]["type"] == "tool_error"
    assert by_name["slow"]["error"]["type"] == "tool_timeout"
    slow_id = next(t.id for t in out.tool_calls if t.name == "slow")
    assert wait_until(lambda: out.ledger.state_of(slow_id) is CallState.EXECUTED_UNDELIVERED)


def test_s12_unknown_dunder_parallel_and_not_allowed_names_never_run(world: World) -> None:
    """S12: unknown, multi_tool_use.parallel, __class__, _handler, registered-but-not-allowed."""
    effects = Effects()
    tools = _registry(effects)
    names = ["no_such_tool", "multi_tool_use.parallel", "__class__", "_handler", "boom", "huge"]
    calls = tuple(ToolCallSpec(n, '{"order": "X"}') for n in names)
    meta = world.scenario("s12", Scenario((Queue(), CallTools(calls), Answer("{outputs}"))))
    out = world.controller(tools, allowed_tools=["charge", "as_dict"]).run(
        thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
    )
    assert out.status == "completed"
    assert effects.total == 0
    (submitted,) = world.sim.tool_outputs(out.run_id)
    assert len(submitted) == len(names)
    for o in submitted:
        err = json.loads(o.output)["error"]
        assert err["type"] == "unknown_tool"
        assert err["allowed"] == ["charge", "as_dict"]  # never reveals boom/huge/slow
    assert all(not e.executed for e in out.ledger.entries.values())


def test_s13_bad_arguments_are_answered_without_running(world: World) -> None:
    """S13: invalid JSON, non-object, schema violation, extra field: error output, 0 runs."""
    effects = Effects()
    bad = [
        ('{"order": "A", "cents": ', "invalid_json"),
        ('["A", 5]', "not_an_object"),
        ('{"order": "A", "cents": "5"}', "invalid_arguments"),
        ('{"order": "A", "cents": 5, "admin": true}', "invalid_arguments"),
        ("", "not_an_object"),
    ]
    calls = tuple(ToolCallSpec("charge", args) for args, _ in bad)
    meta = world.scenario("s13", Scenario((Queue(), CallTools(calls), Answer("{outputs}"))))
    out = world.controller(_registry(effects)).run(
        thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
    )
    assert out.status == "completed"
    assert effects.total == 0
    (submitted,) = world.sim.tool_outputs(out.run_id)
    got = {o.arguments: json.loads(o.output)["error"]["type"] for o in submitted}
    assert got == dict(bad)


def test_s14_path_arguments_are_confined(world: World, tmp_path: Path) -> None:
    """S14: ../../x, absolute, symlink-out, %2e%2e: refused; nothing outside the base touched."""
    base, outside = tmp_path / "base", tmp_path / "outside"
    base.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    os.symlink(outside, base / "out")
    effects = Effects()
    tools = ToolRegistry()

    @tools.tool
    def write_note(path: str, text: str) -> str:
        """Write a note under the base directory."""
        target = confine(base, path)  # raises PathRejected before any side effect
        effects.hit(path)
        target.write_text(text)
        return "written"

    attacks = ["../../x", "../outside/secret.txt", "/etc/passwd", "out/secret.txt", "%2e%2e/x"]
    calls = tuple(ToolCallSpec.of("write_note", {"path": a, "text": "pwned"}) for a in attacks)
    calls += (ToolCallSpec.of("write_note", {"path": "ok.txt", "text": "fine"}),)
    meta = world.scenario("s14", Scenario((Queue(), CallTools(calls), Answer("{outputs}"))))
    out = world.controller(tools).run(
        thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
    )
    assert out.status == "completed"
    assert effects.count == {"ok.txt": 1}
    assert (outside / "secret.txt").read_text() == "secret"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert not (tmp_path / "x").exists()
    assert (base / "ok.txt").read_text() == "fine"
    (submitted,) = world.sim.tool_outputs(out.run_id)
    refused = [o for o in submitted if o.output != "written"]
    assert len(refused) == len(attacks)
    for o in refused:
        err = json.loads(o.output)["error"]
        assert err["type"] == "tool_error"
        assert err["exception"] == PathRejected.__name__


def test_s15_huge_and_dict_outputs_are_capped_strings_with_the_full_text_kept(
    world: World,
) -> None:
    """S15: a 20 MB output is capped with a marker (full kept); a dict becomes JSON text."""
    effects = Effects()
    calls = (ToolCallSpec("huge", "{}"), _call("as_dict", order="D"))
    meta = world.scenario("s15", Scenario((Queue(), CallTools(calls), Answer("ok"))))
    out = world.controller(_registry(effects)).run(
        thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
    )
    assert out.status == "completed"
    (submitted,) = world.sim.tool_outputs(out.run_id)
    by_name = {o.name: o.output for o in submitted}
    assert len(by_name["huge"]) <= 1024
    assert "truncated" in by_name["huge"]
    assert json.loads(by_name["as_dict"]) == {"order": "D", "total": 12.5}
    huge = next(t for t in out.tool_calls if t.name == "huge")
    assert huge.truncated
    assert huge.full_output is not None
    assert len(huge.full_output) == 20 * 1024 * 1024


def test_s16_a_tool_past_the_expiry_budget_gets_an_error_output_in_time(world: World) -> None:
    """S16: a tool runs past expires_at - margin: error output submitted before expiry; late
    result recorded executed_undelivered."""
    effects = Effects()
    calls = (_call("slow", order="S"), _call("charge", order="C", cents=1))
    meta = world.scenario("s16", Scenario((Queue(), CallTools(calls), Answer("{outputs}"))))
    # expires_at = created + 600 s; leave a budget of ~0.3 s of the 600
    cfg = world.config(expiry_margin_s=599.7, tool_timeout_s=120.0)
    try:
        out = world.controller(_registry(effects), config=cfg).run(
            thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
        )
    finally:
        effects.release.set()
    assert out.status == "completed"  # the outputs went in before expiry
    run = world.sim.runs[out.run_id]
    assert run.expires_at is not None
    (submitted,) = world.sim.tool_outputs(out.run_id)
    slow = next(o for o in submitted if o.name == "slow")
    assert json.loads(slow.output)["error"]["type"] == "tool_timeout"
    slow_id = slow.tool_call_id
    assert wait_until(lambda: out.ledger.state_of(slow_id) is CallState.EXECUTED_UNDELIVERED)
    entry = out.ledger.entries[slow_id]
    assert entry.reason == "late"
    assert entry.late_output == "slow S done"
    assert effects.count == {"slow:S": 1, "charge:C": 1}
