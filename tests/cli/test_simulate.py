"""``lifecycle simulate --scenarios FILE`` serves the user's own tool calls over HTTP; the same
file works in process (``Simulator(scenarios=..., default_scenario=...)``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import openai
import pytest

from adapters.openai import ResponseController, RunController
from adapters.openai._wire import assistants_quiet
from adapters.simulator import Answer, Queue, Scenario, Simulator
from adapters.simulator.scenario_file import ScenarioFileError, load_scenarios, parse_scenarios
from lifecycle import ToolRegistry
from tests.cli.conftest import lifecycle, serve

REFUNDS = """\
default = "refund"

[scenarios.refund]
description = "one refund call, then the answer"
steps = [
  { kind = "queue" },
  { kind = "call_tools", calls = [
      { name = "refund_order", arguments = { order_id = "A-1", amount = 12.5 } },
  ] },
  { kind = "answer", text = "Refunded: {output}" },
]

[scenarios.two-refunds]
steps = [
  { kind = "call_tools", calls = [
      { name = "refund_order", arguments = { order_id = "A-2", amount = 1 } },
      { name = "refund_order", arguments = { order_id = "A-3", amount = 2 } },
  ] },
  { kind = "answer", text = "Both: {outputs}" },
]
"""


def refund_tools() -> tuple[ToolRegistry, list[str]]:
    """The user's own tool, counting its calls."""
    tools = ToolRegistry()
    done: list[str] = []

    @tools.tool
    def refund_order(order_id: str, amount: float) -> str:
        """Refund an order.

        Args:
            order_id: the order.
            amount: how much to refund.
        """
        done.append(order_id)
        return f"{order_id} refunded {amount:.2f}"

    return tools, done


def test_the_users_scenarios_are_served_over_http(tmp_path: Path) -> None:
    """The file's default scenario calls the user's tool; the controller answers it."""
    path = tmp_path / "scenarios.toml"
    path.write_text(REFUNDS, encoding="utf-8")
    tools, done = refund_tools()
    with serve("--scenarios", str(path)) as base_url:
        assert base_url.endswith("/v1")
        client = openai.OpenAI(base_url=base_url, api_key="sk-sim")
        with assistants_quiet():
            assistant = client.beta.assistants.create(model="m", tools=tools.definitions())  # type: ignore[arg-type]
            first = client.beta.threads.create(messages=[{"role": "user", "content": "refund"}])
            second = client.beta.threads.create(messages=[{"role": "user", "content": "both"}])
        controller = RunController(client, tools=tools)
        one = controller.run(thread_id=first.id, assistant_id=assistant.id)
        two = controller.run(
            thread_id=second.id, assistant_id=assistant.id, metadata={"scenario": "two-refunds"}
        )
        chain = ResponseController(client, tools=tools).run(
            model="m", input="refund", metadata={"scenario": "refund"}
        )
        client.close()
    assert (one.status, one.text) == ("completed", "Refunded: A-1 refunded 12.50")
    assert (two.status, two.text) == ("completed", "Both: A-2 refunded 1.00, A-3 refunded 2.00")
    assert chain.status == "completed"
    assert [t.state for t in chain.tool_calls] == ["delivered"]
    assert done == ["A-1", "A-2", "A-3", "A-1"]


def test_the_banner_names_the_base_url_and_the_scenarios(tmp_path: Path) -> None:
    path = tmp_path / "scenarios.json"
    data = {"scenarios": {"mine": {"steps": [{"kind": "answer", "text": "hi"}]}}}
    path.write_text(json.dumps(data), encoding="utf-8")
    with serve("--scenarios", str(path), "--scenario", "mine") as base_url:
        client = openai.OpenAI(base_url=base_url, api_key="sk-sim")
        with assistants_quiet():
            assistant = client.beta.assistants.create(model="m")
            thread = client.beta.threads.create()
        outcome = RunController(client).run(thread_id=thread.id, assistant_id=assistant.id)
        client.close()
    assert outcome.text == "hi"


def test_every_mistake_of_a_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        """\
default = "nope"
[scenarios.a]
steps = [
  { kind = "queue", seconds = -1 },
  { kind = "call_tools", calls = [{ arguments = {} }] },
  { kind = "answr", text = "x" },
]
[scenarios.b]
steps = [{ kind = "answer", text = "x" }, { kind = "work" }]
[scenarios.c]
steps = [{ kind = "work" }, { kind = "queue" }, { kind = "hang" }]
""",
        encoding="utf-8",
    )
    done = lifecycle("simulate", "--port", "0", "--scenarios", str(path), timeout=30)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert all(line.startswith(f"Error: {path}: ") for line in lines), lines
    problems = [line.removeprefix(f"Error: {path}: ") for line in lines]
    assert problems == [
        "scenarios.a.steps[0].seconds: Input should be greater than or equal to 0",
        "scenarios.a.steps[1].calls[0].name: Field required",
        "scenarios.a.steps[2]: Input tag 'answr' found using 'kind' does not match any of the "
        "expected tags: 'queue', 'work', 'call_tools', 'request_approval', 'answer', 'fail', "
        "'incomplete', 'hang'",
        "scenarios.b.steps[0]: answer ends the scenario, so it must be the last step",
        "scenarios.b.steps[1]: the last step must be one of answer, fail, incomplete, hang",
        "scenarios.c.steps[1]: queue may only come first or right after call_tools or "
        "request_approval",
        "default: 'nope' is not a scenario of the file or a built-in one",
    ]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("x.toml", "steps = [", "not valid TOML"),
        ("x.json", "{", "not valid JSON: Expecting property name"),
        ("x.json", "[]", "the file: Input should be a valid dictionary"),
        ("x.json", '{"scenarios": {}}', "scenarios: Dictionary should have at least 1 item"),
    ],
)
def test_a_file_that_is_not_a_scenario_file(
    name: str, text: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioFileError, match=message):
        load_scenarios(path)
    done = lifecycle("simulate", "--port", "0", "--scenarios", str(path), timeout=30)
    assert done.returncode == 2
    assert done.stderr.startswith(f"Error: {path}: ")
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_missing_scenario_file() -> None:
    with pytest.raises(ScenarioFileError, match="cannot read the file: No such file"):
        load_scenarios("no/such/scenarios.toml")


def test_arguments_may_be_sent_as_a_raw_string() -> None:
    loaded = parse_scenarios(
        {
            "scenarios": {
                "bad-json": {
                    "steps": [
                        {"kind": "call_tools", "calls": [{"name": "f", "arguments": '{"a": '}]},
                        {"kind": "fail", "code": "rate_limit_exceeded", "message": "slow down"},
                    ],
                    "cancel": {"confirm_after": None, "outcome": "completed"},
                }
            }
        }
    )
    scenario = loaded.scenarios["bad-json"]
    assert scenario.steps[0].calls[0].arguments == '{"a": '  # type: ignore[union-attr]
    assert scenario.cancel.confirm_after is None
    assert loaded.default is None


# -- in process ------------------------------------------------------------------------------


def test_a_scenario_object_as_the_default() -> None:
    with Simulator(default_scenario=Scenario((Queue(), Answer("mine")))) as sim:
        assert sim.default_scenario == "default"
        assert "default" in sim.scenario_names


def test_the_default_may_name_a_scenario_given_alongside() -> None:
    with Simulator(default_scenario="mine", scenarios={"mine": Scenario((Answer("x"),))}) as sim:
        assert sim.default_scenario == "mine"


def test_an_unknown_default_lists_the_known_scenarios() -> None:
    with pytest.raises(ValueError, match=r"unknown scenario 'nope'; known: .*order-total"):
        Simulator(default_scenario="nope")


def test_a_file_loaded_in_process(tmp_path: Path) -> None:
    path = tmp_path / "scenarios.toml"
    path.write_text(REFUNDS, encoding="utf-8")
    loaded = load_scenarios(path)
    assert loaded.default == "refund"
    tools, done = refund_tools()
    with Simulator(default_scenario=loaded.default, scenarios=loaded.scenarios) as sim:
        client = openai.OpenAI(
            base_url="http://simulator.local/v1", api_key="sk-sim", http_client=sim.http_client()
        )
        with assistants_quiet():
            assistant = client.beta.assistants.create(model="m")
            thread = client.beta.threads.create()
        outcome = RunController(client, tools=tools).run(
            thread_id=thread.id, assistant_id=assistant.id
        )
        client.close()
    assert outcome.text == "Refunded: A-1 refunded 12.50"
    assert done == ["A-1"]


def test_the_documented_file_and_example_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/simulator.md: its TOML file loads, and its Python block runs next to it."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "simulator.md").read_text("utf-8")
    (toml,) = re.findall(r"```toml\n(.*?)```", doc, flags=re.S)
    (block,) = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    (tmp_path / "scenarios.toml").write_text(toml, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(block, "docs/simulator.md", "exec"), scope)
    loaded = scope["loaded"]
    assert loaded.default == "refund"  # type: ignore[attr-defined]
    assert sorted(loaded.scenarios) == ["refund", "two-refunds"]  # type: ignore[attr-defined]
    sim = scope["sim"]
    assert sim.default_scenario == "refund"  # type: ignore[attr-defined]
    tools, done = refund_tools()
    client = scope["client"]
    with assistants_quiet():
        assistant = client.beta.assistants.create(model="m")  # type: ignore[attr-defined]
        thread = client.beta.threads.create()  # type: ignore[attr-defined]
    outcome = RunController(client, tools=tools).run(  # type: ignore[arg-type]
        thread_id=thread.id, assistant_id=assistant.id, metadata={"scenario": "two-refunds"}
    )
    assert outcome.text == "Both: A-2 refunded 1.00, A-3 refunded 2.00"
    assert [len(r) for r in sim.tool_outputs(outcome.run_id)] == [2]  # type: ignore[attr-defined]
    assert done == ["A-2", "A-3"]
    client.close()  # type: ignore[attr-defined]
    sim.close()  # type: ignore[attr-defined]
    for line in re.findall(r"^Error: scenarios\.toml: (.*)$", doc, flags=re.M):
        assert line.split(": ", 1)[0].startswith("scenarios.")


MCP_FILE = """
[scenarios.deploy]
steps = [
  { kind = "queue" },
  { kind = "request_approval", requests = [
  { server_label = "git", name = "deploy", arguments = { repo = "shop" }, output = "{repo} up" },
  ] },
  { kind = "queue" },
  { kind = "answer", text = "Done: {output}." },
]
"""


@pytest.mark.parametrize("approve", [True, False])
def test_a_file_scenario_asks_for_an_mcp_approval(tmp_path: Path, approve: bool) -> None:
    """A request_approval step from a file: the chain's approver decides, an approved tool runs
    once on the server and its output reaches the answer; a rejected one never runs."""
    from lifecycle import Decision

    path = tmp_path / "mcp.toml"
    path.write_text(MCP_FILE, encoding="utf-8")
    loaded = load_scenarios(path)
    asked: list[str] = []

    def approver(request: object) -> Decision:
        asked.append(getattr(request, "name", ""))
        return Decision(approved=approve, reason=None if approve else "not today")

    with Simulator(scenarios=loaded.scenarios) as sim:
        client = openai.OpenAI(
            base_url="http://simulator.local/v1", api_key="sk-sim", http_client=sim.http_client()
        )
        out = ResponseController(client, approver=approver).run(
            model="m", input="ship it", metadata={"scenario": "deploy"}
        )
        runs = sim.mcp_runs()
        client.close()
    assert out.status == "completed"
    assert asked == ["deploy"]
    assert len(runs) == (1 if approve else 0)
    if approve:
        assert out.output_text == "Done: shop up."


def test_request_approval_needs_its_requests() -> None:
    with pytest.raises(ScenarioFileError, match=r"steps\[0\]\.requests"):
        parse_scenarios(
            {"scenarios": {"x": {"steps": [{"kind": "request_approval", "requests": []}]}}}
        )
