"""``lifecycle watch`` follows a run (or a response) someone else started, on a served simulator,
and never acts on it: no POST of any kind reaches the server from the watcher."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import openai
import pytest

from adapters.openai._wire import assistants_quiet
from adapters.simulator import Answer, CallTools, Queue, Scenario, Simulator, SimulatorServer, Work
from adapters.simulator.scenarios import ToolCallSpec
from tests.cli.conftest import lifecycle, one_error_line

KEY = "sk-watch-SECRET-0123456789abcdef"


@pytest.fixture
def server() -> Iterator[SimulatorServer]:
    sim = Simulator(
        scenarios={
            # slow enough that the watcher, a fresh interpreter, sees the run move
            "slow": Scenario((Queue(0.6), Work(0.6), Answer("slow answer"))),
            "slow-tool": Scenario(
                (Queue(0.6), CallTools((ToolCallSpec.of("charge", {"cents": 5}),)), Answer("x"))
            ),
        }
    )
    with SimulatorServer(sim) as s:
        yield s


def start_run(server: SimulatorServer, scenario: str) -> tuple[str, str]:
    """Someone else's run: created with the plain SDK."""
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-someone-else")
    with assistants_quiet():
        assistant = client.beta.assistants.create(model="m")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
        run = client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=assistant.id, metadata={"scenario": scenario}
        )
    client.close()
    return thread.id, run.id


def watch(server: SimulatorServer, *args: str) -> tuple[int, str, list[str]]:
    """Run ``lifecycle watch ARGS`` against the server; return the exit status, the output and
    the methods of the requests the watcher made."""
    seen = len(server.sim.requests)
    env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": KEY}
    done = lifecycle("watch", *args, env=env, timeout=60)
    methods = [r.method for r in server.sim.requests[seen:]]
    assert KEY not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done.returncode, done.stdout + done.stderr, methods


def test_watch_follows_a_run_live_to_its_end(server: SimulatorServer) -> None:
    thread_id, run_id = start_run(server, "slow")
    code, out, methods = watch(server, "--thread", thread_id, "--run", run_id)
    assert code == 0, out
    assert f"watching run {run_id} on thread {thread_id}" in out
    assert "in_progress -> completed" in out
    assert "message: slow answer" in out
    assert out.strip().endswith("finished: completed (ending terminal)")
    assert methods
    assert set(methods) == {"GET"}


def test_watch_never_answers_a_tool_call_and_leaves_the_run_waiting(
    server: SimulatorServer,
) -> None:
    thread_id, run_id = start_run(server, "slow-tool")
    code, out, methods = watch(server, "--thread", thread_id, "--run", run_id, "--timeout", "2")
    assert code == 1
    assert "in_progress -> requires_action" in out
    assert "finished: requires_action (ending deadline): the watch timed out" in out
    assert set(methods) == {"GET"}
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-someone-else")
    with assistants_quiet():
        run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    client.close()
    assert run.status == "requires_action"
    assert server.sim.tool_outputs(run_id) == []


def test_watch_json_prints_one_event_per_line(server: SimulatorServer) -> None:
    thread_id, run_id = start_run(server, "slow")
    code, out, _ = watch(server, "--thread", thread_id, "--run", run_id, "--json")
    assert code == 0, out
    events = [json.loads(line) for line in out.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "finished"
    assert "status_changed" in kinds
    assert "message_completed" in kinds
    dests = [
        entry["dest"] for e in events if e["event"] == "status_changed" for entry in e["entries"]
    ]
    assert dests[-1] == "completed"
    assert all(e["id"] == run_id for e in events if e["event"] == "status_changed")
    finished = events[-1]
    assert (finished["status"], finished["ending"]) == ("completed", "terminal")
    assert finished["outcome"]["run_id"] == run_id


def test_watch_a_response_that_waits_for_its_client(server: SimulatorServer) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-someone-else")
    response = client.responses.create(
        model="m", input="price it", background=True, metadata={"scenario": "order-total"}
    )
    client.close()
    code, out, methods = watch(server, "--response", response.id)
    assert code == 1
    assert f"watching response {response.id}" in out
    assert "(ending held): the response waits for its client's function outputs" in out
    assert "calculate_order_total" in out
    assert set(methods) == {"GET"}
    assert server.sim.response_ids() == [response.id]  # no next response was created


def test_watch_a_run_the_server_does_not_know(server: SimulatorServer) -> None:
    thread_id, _ = start_run(server, "text")
    code, out, _ = watch(server, "--thread", thread_id, "--run", "run_nope")
    assert code == 1
    assert "the server does not know it (404)" in out


def test_watch_a_server_that_is_not_there() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    done = lifecycle("watch", "--thread", "t", "--run", "r", "--base-url", url, timeout=60)
    assert done.returncode == 1
    assert f"cannot reach the server at {url}" in one_error_line(done)
