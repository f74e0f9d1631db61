"""``lifecycle demo --api responses``: the order-total job as a Responses API chain, through the
installed console script, on the built-in simulator and against ``lifecycle simulate``."""

from __future__ import annotations

import re
import socket
import subprocess

import pytest

from adapters.simulator import SCENARIOS, SCRIPTS, SimulatorServer
from tests.cli.conftest import lifecycle, one_error_line, serve

#: a journal line: ``source → dest (via ..., inferred)``
JOURNAL_LINE = re.compile(r"^\s+(\w+) → (\w+)\s+\(via (\w+)(, inferred)?\)$", re.MULTILINE)
#: a response header: ``response N resp_... (previous_response_id resp_...)``
HEADER = re.compile(r"^  response (\d+) (resp_\w+)(?: \(previous_response_id (resp_\w+)\))?$", re.M)


def _chain(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return lifecycle("demo", "--api", "responses", *args, timeout=timeout)


def _row(stdout: str, name: str) -> str:
    found = re.search(rf"^ {name}\s+(.+?)\s*$", stdout, re.MULTILINE)
    assert found is not None, stdout
    return found.group(1)


@pytest.mark.parametrize("mode", ["--poll", "--stream"])
def test_order_total_completes_over_responses_with_the_tool_run_once(mode: str) -> None:
    done = _chain(mode)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = done.stdout
    assert "The total price of your order is 135.0." in out
    assert "reason" not in out
    # the tool ran once, with the model's arguments, and its output went back
    assert out.count("calculate_order_total(") == 1
    assert '✓ calculate_order_total({"items": [{"item_type": "books", "quantity": 2}' in out
    assert "→ 135.0" in out
    assert "tool round 1: 1 call(s)" in out
    assert "tool round 2" not in out
    # two responses, the second continuing the first
    headers = HEADER.findall(out)
    assert [h[0] for h in headers] == ["1", "2"]
    first, second = headers[0][1], headers[1][1]
    assert headers[0][2] == ""
    assert headers[1][2] == first
    assert _row(out, "responses") == f"{first} → {second}"
    # the whole journal is shown, the client's create of the next response included
    moves = [(m[0], m[1]) for m in JOURNAL_LINE.findall(out)]
    assert moves == [
        ("queued", "in_progress"),
        ("in_progress", "requires_action"),
        ("requires_action", "queued"),
        ("queued", "in_progress"),
        ("in_progress", "completed"),
    ]
    assert _row(out, "transitions") == str(len(moves))
    via = {m[2] for m in JOURNAL_LINE.findall(out)}
    assert ("stream" if mode == "--stream" else "poll") in via
    assert ("poll" if mode == "--stream" else "stream") not in via
    assert _row(out, "status") == "completed"


def test_each_response_of_a_longer_chain_has_its_header_and_moves() -> None:
    done = _chain("--scenario", "two-rounds")
    assert done.returncode == 0, done.stderr
    headers = HEADER.findall(done.stdout)
    assert [h[0] for h in headers] == ["1", "2", "3"]
    assert [h[2] for h in headers] == ["", headers[0][1], headers[1][1]]
    # each response after the first starts with the client's edge that created it
    blocks = re.split(r"^  response \d+ .*$", done.stdout, flags=re.MULTILINE)[1:]
    for block in blocks[1:]:
        first_move = JOURNAL_LINE.search(block)
        assert first_move is not None
        assert first_move.group(1, 2, 3) == ("requires_action", "queued", "client")
    assert "tool round 2: 1 call(s)" in done.stdout


@pytest.mark.parametrize(
    ("scenario", "status", "reason"),
    [
        ("fails", "failed", "error server_error: Sorry, something went wrong."),
        ("incomplete", "incomplete", "incomplete_details.reason: max_output_tokens"),
    ],
)
@pytest.mark.parametrize("mode", ["--poll", "--stream"])
def test_a_chain_that_did_not_complete_shows_why(
    scenario: str, status: str, reason: str, mode: str
) -> None:
    done = _chain("--scenario", scenario, mode)
    assert done.returncode == 1
    assert done.stderr == ""
    assert reason in " ".join(done.stdout.split())
    assert _row(done.stdout, "status") == status


@pytest.mark.parametrize("mode", ["--poll", "--stream"])
def test_a_chain_that_never_finishes_is_cancelled_at_the_timeout(mode: str) -> None:
    """Streamed too: a silent stream is dropped well inside the demo's deadline, so the chain
    is cancelled at it rather than read for minutes."""
    done = _chain("--scenario", "never-finishes", "--timeout", "1.5", mode, timeout=60)
    assert done.returncode == 1
    assert done.stderr == ""  # the controller's log records stay off the terminal
    said = " ".join(done.stdout.split())
    assert "the chain did not finish within 1.5 s (deadline: overall)" in said
    assert "it was cancelled and ended cancelled" in said
    assert ("in_progress", "cancelled", "client") in [
        m[:3] for m in JOURNAL_LINE.findall(done.stdout)
    ]


def test_against_lifecycle_simulate() -> None:
    """``lifecycle simulate`` serves /v1/responses too: the same chain over a real port."""
    with serve() as url:
        done = _chain("--base-url", url, "--model", "my-model", "--timeout", "30")
        failed = _chain("--base-url", url, "--scenario", "fails", "--timeout", "30")
    assert done.returncode == 0, done.stderr
    assert "The total price of your order is 135.0." in done.stdout
    assert "model my-model" in " ".join(done.stdout.split())
    assert url in " ".join(done.stdout.split())
    assert failed.returncode == 1
    assert "error server_error: Sorry, something went wrong." in " ".join(failed.stdout.split())


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["nope", next(iter(SCRIPTS))])
def test_an_unknown_scenario_lists_those_responses_can_play(scenario: str) -> None:
    """Status scripts serve Assistants runs only: over Responses they are unknown too."""
    done = _chain("--scenario", scenario)
    assert done.returncode == 2
    assert done.stdout == ""
    line = one_error_line(done)
    assert f"unknown scenario {scenario!r}" in line
    listed = line.split("one of: ", 1)[1].split(", ")
    assert sorted(listed) == sorted(SCENARIOS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_closed_port() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    done = _chain("--base-url", url, timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    assert f"cannot reach the server at {url}" in one_error_line(done)


def test_a_base_url_without_v1() -> None:
    with SimulatorServer() as server:
        bare = server.base_url.removesuffix("/v1")
        done = lifecycle(
            "demo",
            "--api",
            "responses",
            "--base-url",
            bare,
            env={"OPENAI_API_KEY": "sk-secret-0123456789"},
        )
    assert done.returncode == 2
    line = one_error_line(done)
    assert f"{bare} answered 404 to POST /responses" in line
    assert f"try {bare}/v1" in line
    assert "sk-secret" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--api", "chat"], "Invalid value for '--api'"),
        (["--api", "responses", "--model", " "], "--model must not be empty"),
        (["--api", "responses", "--timeout", "0"], "Invalid value for '--timeout'"),
    ],
)
def test_bad_options_are_one_line(args: list[str], says: str) -> None:
    done = lifecycle("demo", *args)
    assert done.returncode == 2
    assert says in one_error_line(done)


def test_help_documents_the_api_and_the_model() -> None:
    done = lifecycle("demo", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "--api [assistants|responses]" in text
    assert "--model TEXT" in text
    assert "default: gpt-4o-mini" in text


def test_simulate_help_says_it_serves_responses_too() -> None:
    done = lifecycle("simulate", "--help")
    assert done.returncode == 0
    assert "lifecycle demo --api responses --base-url" in " ".join(done.stdout.split())
