"""``lifecycle runs`` over a store after a crash between a tool's effect and its record: list and
show the held run, settle the unknown effect, resume. A run settled *delivered* gets the given
output submitted and its tool never runs again; one settled *run-again* runs its tool exactly
once more. The tool is the user's own, named ``module:attr`` on the command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import openai
import pytest

from adapters.openai import CrashPoint, RunController
from adapters.openai._wire import assistants_quiet
from adapters.simulator import Answer, CallTools, Queue, Scenario, Simulator, SimulatorServer
from adapters.simulator.scenarios import ToolCallSpec
from adapters.store import RunStore, StoreError
from lifecycle import CallState
from tests.cli.conftest import lifecycle, one_error_line

#: the user's tools module: one non-idempotent tool that appends to a file each time it runs
TOOLS_MODULE = '''
from pathlib import Path
from lifecycle import ToolRegistry

TOOLS = ToolRegistry()
EFFECTS = Path(__file__).with_name("effects.log")


@TOOLS.tool
def charge(order: str) -> str:
    """Charge an order (not idempotent)."""
    with EFFECTS.open("a", encoding="utf-8") as f:
        f.write(order + "\\n")
    return f"charged {order}"
'''


@dataclass
class Setup:
    """A served simulator on the real clock, a store file and the user's tools module."""

    server: SimulatorServer
    client: openai.OpenAI
    assistant_id: str
    folder: Path
    store_path: Path
    tools: ModuleType

    def effects(self) -> list[str]:
        path = self.folder / "effects.log"
        return path.read_text(encoding="utf-8").split() if path.exists() else []

    def crashed_run(self, order: str) -> tuple[str, str]:
        """A run whose tool ran and whose process died before recording it: (run id, call id)."""
        with assistants_quiet():
            thread = self.client.beta.threads.create()
        with RunStore(self.store_path) as store:
            controller = RunController(
                self.client, tools=self.tools.TOOLS, store=store, crash_at="after_tool_effect"
            )
            with pytest.raises(CrashPoint):
                controller.run(
                    thread_id=thread.id,
                    assistant_id=self.assistant_id,
                    metadata={"scenario": order},
                )
            (stored,) = [r for r in store.pending() if r.thread_id == thread.id]
            (call_id,) = store.unknown_effects(stored.run_id)
        return stored.run_id, call_id

    def runs(self, *args: str) -> tuple[int, str, str]:
        done = lifecycle(
            "runs",
            *args,
            env={"LIFECYCLE_STORE": str(self.store_path), "OPENAI_BASE_URL": self.server.base_url},
            cwd=self.folder,
        )
        assert "Traceback" not in done.stderr
        return done.returncode, done.stdout, done.stderr


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    (tmp_path / "charge_tools.py").write_text(TOOLS_MODULE, encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        import charge_tools  # type: ignore[import-not-found]

        scenarios = {
            order: Scenario(
                (
                    Queue(),
                    CallTools((ToolCallSpec.of("charge", {"order": order}),)),
                    Answer("{output}"),
                )
            )
            for order in ("o-1", "o-2", "o-3", "o-4")
        }
        with SimulatorServer(Simulator(scenarios=scenarios)) as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="sk-sim", max_retries=0)
            with assistants_quiet():
                assistant = client.beta.assistants.create(model="m")
            yield Setup(server, client, assistant.id, tmp_path, tmp_path / "runs.db", charge_tools)
            client.close()
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("charge_tools", None)


def test_list_and_show_a_held_run(setup: Setup) -> None:
    run_id, call_id = setup.crashed_run("o-1")
    code, out, _ = setup.runs("list")
    assert code == 0
    (line,) = [row for row in out.splitlines() if run_id in row]
    assert line.startswith("held")
    assert f"unknown effect: {call_id} (charge)" in line
    code, out, _ = setup.runs("list", "--json")
    (row,) = [r for r in json.loads(out) if r["run_id"] == run_id]
    assert (row["group"], row["state"]) == ("held", "requires_action")
    code, out, _ = setup.runs("show", run_id)
    assert code == 0
    assert f"run {run_id}" in out
    assert "in_progress -> requires_action" in out
    assert f"{call_id} charge, round 1: started" in out
    assert f"{call_id} started" in out  # the effect log


def test_settled_delivered_submits_the_given_output_and_never_runs_the_tool(
    setup: Setup,
) -> None:
    run_id, call_id = setup.crashed_run("o-1")
    assert setup.effects() == ["o-1"]
    code, out, _ = setup.runs(
        "settle", run_id, call_id, "--as", "delivered", "--output", "paid by hand"
    )
    assert code == 0, out
    assert f"settled {call_id} of run {run_id} as delivered" in out
    with RunStore(setup.store_path) as store:
        (outcome,) = RunController(setup.client, tools=setup.tools.TOOLS, store=store).recover()
    assert outcome.status == "completed"
    assert outcome.text == "paid by hand"
    assert [o.output for o in setup.server.sim.tool_outputs(run_id)[0]] == ["paid by hand"]
    assert setup.effects() == ["o-1"]  # the tool never ran again
    assert [t.state for t in outcome.tool_calls] == [CallState.DELIVERED]


def test_settled_run_again_runs_the_tool_exactly_once_through_resume(setup: Setup) -> None:
    run_id, call_id = setup.crashed_run("o-2")
    with RunStore(setup.store_path) as store:  # a first recovery holds it: the effect is unknown
        (held,) = RunController(setup.client, tools=setup.tools.TOOLS, store=store).recover()
    assert held.ending.kind.value == "held"
    assert held.unknown_effects == (call_id,)
    code, out, _ = setup.runs("settle", run_id, call_id, "--as", "run-again")
    assert code == 0, out
    code, out, err = setup.runs("resume", "--tools", "charge_tools:TOOLS")
    assert code == 0, out + err
    assert f"{run_id}: completed" in out
    assert f"{call_id} delivered" in out
    assert setup.effects() == ["o-2", "o-2"]  # once before the crash, once after the decision
    assert [o.output for o in setup.server.sim.tool_outputs(run_id)[0]] == ["charged o-2"]
    code, out, _ = setup.runs("resume", "--tools", "charge_tools:TOOLS")
    assert (code, out.strip()) == (0, f"{setup.store_path}: nothing to resume")
    assert setup.effects() == ["o-2", "o-2"]


def test_settled_failed_submits_an_error_output(setup: Setup) -> None:
    run_id, call_id = setup.crashed_run("o-3")
    code, _, _ = setup.runs("settle", run_id, call_id, "--as", "failed")
    assert code == 0
    with RunStore(setup.store_path) as store:
        (outcome,) = RunController(setup.client, tools=setup.tools.TOOLS, store=store).recover()
        decisions = store.settlements(run_id)
    (submitted,) = setup.server.sim.tool_outputs(run_id)[0]
    assert "the tool's effect was lost" in submitted.output
    assert outcome.status == "completed"
    assert setup.effects() == ["o-3"]
    assert [(d.tool_call_id, d.decision) for d in decisions] == [(call_id, "failed")]


def test_what_cannot_be_settled(setup: Setup) -> None:
    run_id, call_id = setup.crashed_run("o-4")
    cases = [
        (("settle", "run_nope", call_id, "--as", "failed"), "no run 'run_nope'"),
        (("settle", run_id, "call_nope", "--as", "failed"), "has no tool call 'call_nope'"),
        (("settle", run_id, call_id, "--as", "delivered"), "needs --output"),
        (("settle", run_id, call_id, "--as", "run-again", "--output", "x"), "takes no --output"),
        (("show", "run_nope"), "no run 'run_nope'"),
    ]
    for args, message in cases:
        done = lifecycle("runs", *args, "--store", str(setup.store_path))
        assert done.returncode == 2, args
        assert message in one_error_line(done), args
    assert setup.runs("settle", run_id, call_id, "--as", "delivered", "--output", "ok")[0] == 0
    done = lifecycle(
        "runs", "settle", run_id, call_id, "--as", "failed", "--store", str(setup.store_path)
    )
    assert done.returncode == 2
    assert f"call {call_id} is finished: its effect is not unknown" in one_error_line(done)


def test_a_finished_run_cannot_be_settled(setup: Setup) -> None:
    run_id, call_id = setup.crashed_run("o-1")
    with RunStore(setup.store_path) as store:
        store.settle(run_id, call_id, "done", "ok")
        RunController(setup.client, tools=setup.tools.TOOLS, store=store).recover()
        with pytest.raises(StoreError, match="is finished"):
            store.settle(run_id, call_id, "failed")
        with pytest.raises(ValueError, match="needs the output"):
            store.settle(run_id, call_id, "done")
        with pytest.raises(ValueError, match="decision must be one of"):
            store.settle(run_id, call_id, "maybe")  # type: ignore[arg-type]
    _, out, _ = setup.runs("list")
    (line,) = [row for row in out.splitlines() if run_id in row]
    assert line.startswith("finished")
