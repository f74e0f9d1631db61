"""Bad input ends every command with one ``Error: ...`` line on stderr and a nonzero exit, never a
traceback (issue 13); each case runs the installed ``lifecycle`` script."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from adapters.simulator import SimulatorServer
from adapters.store import RunStore
from tests.cli.conftest import SCRIPT, lifecycle, one_error_line

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(
    not HAS_DOT and os.environ.get("RUN_LIFECYCLE_REQUIRE_GRAPHVIZ") != "1",
    reason="Graphviz `dot` is not installed (apt-get install graphviz / brew install graphviz)",
)
FORMATS = [
    pytest.param("mermaid", "mmd", id="mmd"),
    pytest.param("svg", "svg", id="svg", marks=needs_dot),
    pytest.param("png", "png", id="png", marks=needs_dot),
]


def _read_only_target(tmp_path: Path, ext: str) -> Path:
    """A file that cannot be written: read-only for a normal user; root ignores file modes,
    so there a file of /proc, which nobody may write."""
    if os.geteuid() == 0:
        return Path("/proc/version")
    target = tmp_path / f"ro.{ext}"
    target.write_text("keep me", encoding="utf-8")
    target.chmod(0o444)
    return target


# -- diagram --out -----------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "ext"), FORMATS)
def test_diagram_out_to_a_missing_directory(fmt: str, ext: str, tmp_path: Path) -> None:
    done = lifecycle("diagram", "--format", fmt, "--out", str(tmp_path / "nope" / f"x.{ext}"))
    assert done.returncode == 2
    line = one_error_line(done)
    assert "cannot write" in line
    assert "No such file or directory" in line


@pytest.mark.parametrize(("fmt", "ext"), FORMATS)
def test_diagram_out_to_a_read_only_target(fmt: str, ext: str, tmp_path: Path) -> None:
    target = _read_only_target(tmp_path, ext)
    before = target.read_bytes()
    done = lifecycle("diagram", "--format", fmt, "--out", str(target))
    assert done.returncode == 2
    assert f"cannot write {target}" in one_error_line(done)
    assert target.read_bytes() == before


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
@pytest.mark.parametrize(("fmt", "ext"), FORMATS)
def test_diagram_out_to_a_full_device(fmt: str, ext: str) -> None:
    done = lifecycle("diagram", "--format", fmt, "--out", "/dev/full")
    assert done.returncode == 2
    assert "cannot write /dev/full: No space left on device" in one_error_line(done)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_diagram_to_a_full_stdout() -> None:
    """A stdout that cannot take the diagram: one line, and nothing more at exit."""
    with Path("/dev/full").open("w") as full:
        proc = subprocess.run(
            [SCRIPT, "diagram"], stdout=full, stderr=subprocess.PIPE, text=True, check=False
        )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "Error: cannot write stdout: No space left on device"


# -- check -------------------------------------------------------------------------------------


def test_check_accepts_a_trace_with_a_utf8_bom(tmp_path: Path) -> None:
    trace = tmp_path / "bom.txt"
    trace.write_bytes(b"\xef\xbb\xbfqueued\nin_progress\ncompleted\n")
    done = lifecycle("check", str(trace))
    assert done.returncode == 0, done.stdout
    assert "final state completed: ok" in done.stdout


def test_check_cuts_a_huge_status_line_in_its_report(tmp_path: Path) -> None:
    trace = tmp_path / "huge.txt"
    trace.write_text("queued\n" + "x" * 3_000_000 + "\n", encoding="utf-8")
    done = lifecycle("check", str(trace))
    assert done.returncode == 1
    assert len(done.stdout) < 1_000
    assert "the status has 3,000,000 characters" in done.stdout
    assert "xxx...'" in done.stdout


@pytest.mark.parametrize("at", ["1e400", "-1e400", "NaN", "Infinity"])
def test_check_rejects_a_time_that_is_not_finite(at: str, tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text(f'{{"status": "queued"}}\n{{"status": "completed", "at": {at}}}\n')
    done = lifecycle("check", str(trace))
    assert done.returncode == 2
    line = one_error_line(done)
    assert 'line 2: "at" must be a finite number of seconds' in line


def test_check_of_a_missing_file_or_a_directory(tmp_path: Path) -> None:
    done = lifecycle("check", str(tmp_path / "missing.txt"))
    assert done.returncode == 2
    assert one_error_line(done).startswith("Error: ")
    done = lifecycle("check", str(tmp_path))
    assert done.returncode == 2
    assert "is a directory" in one_error_line(done)


# -- simulate ----------------------------------------------------------------------------------


def test_simulate_an_unknown_scenario_lists_the_known_ones() -> None:
    done = lifecycle("simulate", "--port", "0", "--scenario", "nope")
    assert done.returncode == 2
    line = one_error_line(done)
    assert "unknown scenario 'nope'" in line
    assert "order-total" in line
    assert "never-finishes" in line


def test_simulate_a_port_out_of_range() -> None:
    done = lifecycle("simulate", "--port", "80000")
    assert done.returncode == 2
    assert "80000 is not in the range 0<=x<=65535" in one_error_line(done)


def test_simulate_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = lifecycle("simulate", "--port", str(port), timeout=30)
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in one_error_line(done)


# -- demo --------------------------------------------------------------------------------------


def test_demo_an_unknown_scenario_lists_the_known_ones() -> None:
    done = lifecycle("demo", "--scenario", "nope")
    assert done.returncode == 2
    line = one_error_line(done)
    assert "unknown scenario 'nope'" in line
    assert "invalid-arguments" in line


def test_demo_shows_invalid_tool_arguments_as_sent() -> None:
    """The model's arguments are not JSON: the demo shows them as sent and the error output."""
    done = lifecycle("demo", "--scenario", "invalid-arguments")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert 'calculate_order_total({"items": [{"item_type": "bo [invalid JSON])' in done.stdout
    assert "invalid_json" in done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_against_a_closed_port() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    done = lifecycle("demo", "--base-url", url, timeout=60)
    assert done.returncode == 1
    assert f"cannot reach the server at {url}" in one_error_line(done)


def test_demo_against_a_base_url_without_v1() -> None:
    with SimulatorServer() as server:
        bare = server.base_url.removesuffix("/v1")
        done = lifecycle("demo", "--base-url", bare, env={"OPENAI_API_KEY": "sk-secret-0123456789"})
    assert done.returncode == 2
    line = one_error_line(done)
    assert f"{bare} answered 404 to POST /assistants" in line
    assert f"try {bare}/v1" in line
    assert "sk-secret" not in done.stdout + done.stderr


def test_demo_a_scenario_a_real_server_refuses() -> None:
    """With --base-url the scenario is the server's business; its refusal is one line."""
    with SimulatorServer() as server:
        done = lifecycle("demo", "--base-url", server.base_url, "--scenario", "nope")
    assert done.returncode == 1
    line = one_error_line(done)
    assert "answered 400 to POST /v1/threads/" in line
    assert "Unknown simulator scenario 'nope'" in line


# -- runs, watch: usage --------------------------------------------------------------------------


def test_runs_with_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    bogus = tmp_path / "runs.db"
    bogus.write_text("not sqlite at all, " * 100, encoding="utf-8")
    done = lifecycle("runs", "list", "--store", str(bogus))
    assert done.returncode == 2
    assert "cannot open the run store" in one_error_line(done)


def test_watch_needs_a_run_or_a_response() -> None:
    done = lifecycle("watch", "--thread", "thread_1")
    assert done.returncode == 2
    assert "give --thread and --run" in one_error_line(done)
    done = lifecycle("watch", "--thread", "t", "--run", "r", "--response", "resp_1")
    assert done.returncode == 2
    assert "not both" in one_error_line(done)


def test_resume_with_tools_that_cannot_be_loaded(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    RunStore(store).close()
    (tmp_path / "mytools.py").write_text("TOOLS = 3\n", encoding="utf-8")
    cases = {
        "mytools": "must be module:attr",
        "nosuchmodule:TOOLS": "cannot import nosuchmodule",
        "mytools:MISSING": "has no attribute 'MISSING'",
        "mytools:TOOLS": "is a int, not a lifecycle.ToolRegistry",
    }
    for path, message in cases.items():
        done = lifecycle(
            "runs", "resume", "--store", str(store), "--base-url", "http://127.0.0.1:9/v1",
            "--tools", path, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 2, path
        assert message in one_error_line(done), path


def test_worker_against_a_temporal_that_is_not_there() -> None:
    pytest.importorskip("temporalio", reason="the temporal extra is not installed")
    port = _free_port()
    done = lifecycle("worker", "--temporal", f"127.0.0.1:{port}", "--task-queue", "q", timeout=60)
    assert done.returncode == 1
    assert f"cannot reach Temporal at 127.0.0.1:{port}" in one_error_line(done)


def test_the_assistants_demo_refuses_a_responses_only_scenario_before_any_request() -> None:
    """``mcp-approval`` plays over /v1/responses only: the Assistants demo refuses it with one
    line (it used to pass the check and fail on the server's 400), and does not list it."""
    done = lifecycle("demo", "--scenario", "mcp-approval")
    assert done.returncode == 2
    line = one_error_line(done)
    assert "unknown scenario 'mcp-approval'" in line
    assert "order-total" in line
    assert "mcp-approval" not in line.split("one of:")[1]
