"""Smoke test of the benchmark entry points: each runs in its tiniest mode and writes its JSON.

No timing is asserted: only that each benchmark runs, writes the keys the README tables and the
comparisons read, and that its own correctness checks (runs completed, tools run once, the
stream side fell back where the server has no SSE) hold.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import _schedule_model, bench_chains, bench_e2e, profile_hot_path, run_all

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


def _load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_e2e_quick_runs_every_side_on_each_profile(tmp_path: Path) -> None:
    """bench_e2e --quick: every side on each profile, runs completed, tools run once, the stream
    side fell back on no-sse only, and the headline compares with the SDK where targeted."""
    out = tmp_path / "e2e.json"
    profiles = "get-only-poll-after,no-sse"
    args = ["--quick", "--profiles", profiles, "--scenarios", "text,parallel-3", "--out", str(out)]
    assert bench_e2e.main(args) == 0
    result = _load(out)
    assert list(result)[:2] == ["benchmark", "headline"]  # the comparison leads
    assert list(result["profiles"]) == profiles.split(",")
    for profile, sides in result["profiles"].items():
        assert list(sides) == list(bench_e2e.SIDES)
        for side, cells in sides.items():
            assert set(cells) == {"text", "parallel-3"}
            for cell in cells.values():
                assert cell["all_completed"] is True
                assert cell["tools_exactly_once"] is True
                assert cell["requests_per_run"]["median"] >= 2  # at least a create and a read
                falls_back = profile == "no-sse" and side == "controller-stream"
                assert (cell["stream_fallbacks"] > 0) is falls_back
    rows = result["headline"]["rows"]
    assert {(r["profile"], r["scenario"], r["side"]) for r in rows} == {
        (p, s, side)
        for p in profiles.split(",")
        for s in ("text", "parallel-3")
        for side in ("controller-poll", "controller-stream")
    }
    for row in rows:
        targeted = row["profile"] == "get-only-poll-after" and row["scenario"] == "text"
        assert row["targeted"] is targeted
        assert ("wall_ok" in row) is targeted
    assert set(result["headline"]["verdicts"]) == {"controller-poll", "controller-stream"}


def test_e2e_what_if_sides_are_controller_settings() -> None:
    """Each what-if side builds a driver; an unknown side is refused."""
    log = bench_e2e.ToolLog(0.0)
    for backoff in _schedule_model.WHAT_IF_BACKOFFS:
        assert callable(bench_e2e.make_driver(bench_e2e.what_if_side(backoff), log))
    with pytest.raises(ValueError, match="unknown side"):
        bench_e2e.make_driver("controller-teleport", log)


def test_schedule_model_against_the_sdk_loop() -> None:
    """The model's SDK loop polls at once then every second; the kernel with a backoff equal
    to the poll interval polls exactly like it; the proposed schedule never sees an end later."""
    from lifecycle.kernel import ControllerConfig

    changes = [(0.0, "queued"), (0.05, "in_progress"), (0.15, "end")]
    assert _schedule_model.sdk_polls(changes) == (2, 1.0)
    assert _schedule_model.kernel_polls(changes, ControllerConfig(first_poll_backoff_s=1.0)) == (
        2,
        1.0,
    )
    assert _schedule_model.proposed_poll_times(0.25, 1.0, 2.5) == [0, 0.25, 0.5, 1, 2, 3]
    model = _schedule_model.schedule_model()
    for phase in model["phases"]:
        assert phase["first_poll_backoff_s=1"]["polls"] == phase["sdk"]["polls"]
        proposed = phase["proposed (grid, 0.25)"]
        assert proposed["seen_after_s"] <= phase["sdk"]["seen_after_s"]
        assert proposed["polls"] <= phase["sdk"]["polls"] + 2
        # the kernel's schedule (default 0.25) is the proposed grid, measured, not assumed
        assert phase["first_poll_backoff_s=0.25"] == proposed


def test_scale_quick_checks_both_sides(tmp_path: Path) -> None:
    """bench_scale --quick (N = 20, subprocesses): controller and bare loop both complete every
    run and run each tool call once; the ratios are written."""
    out = tmp_path / "scale.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_scale", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (size,) = _load(out)["sizes"]
    assert size["n"] == 20
    assert set(size["sides"]) == {"bare", "controller"}
    for side in size["sides"].values():
        assert side["all_completed"] is True
        assert side["tools_exactly_once"] is True
    for pair in size["runs"]:
        for run in pair.values():
            assert run["tool_executions"] == run["tool_outputs_submitted"] == 20 * 3
            assert run["outputs_one_round_each"] is True
    assert {"cpu_per_run", "throughput", "wall"} <= size["ratios"].keys()


def test_profile_splits_both_sides_by_group(tmp_path: Path) -> None:
    """profile_hot_path on 10 runs per side: shares sum to 1, the groups add up to the CPU per
    run, and only the controller side spends time in our packages."""
    out = tmp_path / "profile.json"
    assert profile_hot_path.main(["--n", "10", "--warmup", "2", "--out", str(out)]) == 0
    result = _load(out)
    for side, data in result["sides"].items():
        assert data["checks"] == {"all_completed": True, "tools_exactly_once": True}
        assert abs(sum(c["share"] for c in data["components"].values()) - 1.0) < 1e-6
        groups = data["groups_ms_per_run"]
        assert abs(sum(groups.values()) - data["cpu_ms_per_run"]) < 1e-6
        ours = groups["pump and backends (adapters/openai)"]
        assert (ours > 0) is (side == "controller")
    assert set(result["extra_ms_per_run"]["by_group"]) == set(profile_hot_path.GROUPS) | {
        profile_hot_path.GC_GROUP
    }


def test_chains_quick_every_side_completes_with_the_same_answer(tmp_path: Path) -> None:
    """bench_chains --quick on no-poll-after: every side on every scenario completed with the
    expected answer, each tool call ran once; the foreground runner is measured on text only and
    its refusal on the tool scenarios is recorded; ratios are taken against both loops."""
    out = tmp_path / "chains.json"
    assert bench_chains.main(["--quick", "--profiles", "no-poll-after", "--out", str(out)]) == 0
    result = _load(out)
    assert list(result)[:2] == ["benchmark", "comparison"]
    assert result["failures"] == []
    assert {"commit", "load_average_1m", "packages"} <= result["environment"].keys()
    sides = result["profiles"]["no-poll-after"]
    assert list(sides) == list(bench_chains.SIDES)
    for side, cells in sides.items():
        expected = {"text"} if side == bench_chains.RUNNER_SIDE else set(bench_chains.SCENARIOS)
        assert set(cells) == expected
        for scenario, cell in cells.items():
            assert cell["ok"] is True, cell["problems"]
            assert cell["answer"] == bench_chains.expected_answers()[scenario]
            assert cell["requests_per_run"]["median"] >= 1
    refused = result["not_comparable"]["no-poll-after"]
    assert set(refused) == {"order-total", "two-rounds"}
    assert all(r["comparable"] is False for r in refused.values())
    rows = result["comparison"]
    assert {(r["side"], r["scenario"]) for r in rows} == {
        (side, scenario) for side, cells in sides.items() for scenario in cells
    }
    for row in rows:
        assert set(row["vs"]) == set(bench_chains.LOOPS) - {row["side"]}
    # the hand-written loops sleep, then retrieve: with 10 ms steps a text response has ended by
    # the first retrieve, so each loop makes a create and one retrieve, and waits its interval
    assert {2.0, 1.0} <= set(bench_chains.LOOPS.values())  # the guide's and the SDK pollers'
    for loop, interval in bench_chains.LOOPS.items():
        cell = sides[loop]["text"]
        assert cell["requests_by_kind"] == {"create": 1, "retrieve": 1}
        assert cell["wall_s"]["min"] >= interval


@pytest.mark.parametrize(
    ("main", "args", "said"),
    [
        (bench_chains.main, ["--profiles", "no-poll-after,bogus"], "unknown profile: bogus"),
        (bench_chains.main, ["--scenarios", "text,bogus"], "unknown scenario: bogus"),
        (bench_chains.main, ["--sides", "loop-1s,loop-3s"], "unknown side: loop-3s"),
        (bench_e2e.main, ["--profiles", "bogus"], "unknown profile: bogus"),
        (bench_e2e.main, ["--scenarios", "bogus"], "unknown scenario: bogus"),
    ],
)
def test_unknown_names_are_one_line_and_exit_2(
    main: Any, args: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A misspelt profile, scenario or side is one line on stderr and exit 2, before anything
    runs (nothing written)."""
    out = tmp_path / "result.json"
    assert main(["--quick", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert said in err
    assert not out.exists()


def test_run_all_knows_every_benchmark_and_mode(tmp_path: Path) -> None:
    """run_all builds one command per benchmark and mode, each writing into the results dir."""
    for name in run_all.BENCHMARKS:
        for mode in ("quick", "default", "full"):
            cmd = run_all.command(name, mode, tmp_path)
            assert cmd[-1] == str(tmp_path / f"{name}.json")
            assert run_all.BENCHMARKS[name][0] in cmd


def test_detection_latency_matches_each_change_to_its_first_sighting() -> None:
    """A sighting belongs to the latest change into that status; unseen changes are missed."""
    history = [("queued", 0.0), ("in_progress", 1.0), ("requires_action", 2.0), ("queued", 3.0)]
    sightings = [("queued", 0.5), ("requires_action", 2.25), ("queued", 3.5), ("queued", 4.0)]
    every, actionable, missed = bench_e2e.detection_latencies(history, sightings)
    assert every == [0.5, 0.25, 0.5]
    assert actionable == [0.25]
    assert missed == 1
