"""`lifecycle check`: exit codes and reports on real trace files."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from adapters.cli import main
from lifecycle import ASSISTANTS_RUN, check_trace, read_trace

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", *args], input=stdin)
    return result.exit_code, result.output


def test_legal_trace_exits_0() -> None:
    """The seed's order-total run (one tool round) is legal."""
    code, out = invoke(str(EXAMPLES / "order-total.trace"))
    assert code == 0, out
    assert "final state completed: ok" in out


def test_anomalies_exit_1_with_line_state_and_value() -> None:
    """Each anomaly is reported with its line number, state and observed value."""
    code, out = invoke(str(EXAMPLES / "stale-reads.jsonl"))
    assert code == 1
    assert "line 4: regression: observed 'in_progress' in state 'cancelling'" in out
    assert "line 6: after_terminal: observed 'in_progress' in state 'cancelled'" in out


def test_unknown_status_is_an_anomaly(tmp_path: Path) -> None:
    """A status string the table does not know fails the check."""
    trace = tmp_path / "t.txt"
    trace.write_text("queued\npaused_for_review\ncompleted\n")
    code, out = invoke(str(trace))
    assert code == 1
    assert "line 2: unknown_status: observed 'paused_for_review'" in out


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    """Bad JSON, a missing file and an empty trace exit 2 with a message."""
    assert invoke("-", stdin='{"status": 3}\n')[0] == 2
    assert invoke(str(tmp_path / "missing.txt"))[0] == 2
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    assert invoke(str(empty))[0] == 2


def test_json_report_and_other_lifecycles(tmp_path: Path) -> None:
    """--json prints a machine-readable report; --lifecycle picks another table."""
    trace = tmp_path / "resp.txt"
    trace.write_text("queued\nin_progress\ncancelled\ncompleted\n")
    code, out = invoke("--lifecycle", "response", "--json", str(trace))
    assert code == 1
    report = json.loads(out)
    assert report["lifecycle"] == "response"
    assert report["final_state"] == "cancelled"
    assert [a["kind"] for a in report["anomalies"]] == ["terminal_flip"]


def test_live_policy_rejects_an_unrequested_submit() -> None:
    """With --live-policy, requires_action -> queued without our submission is a regression."""
    code, out = invoke("--live-policy", str(EXAMPLES / "order-total.trace"))
    assert code == 1
    assert "line 4: regression" in out


def test_check_trace_attributes_every_finding_to_its_line() -> None:
    """Each rejected line is one anomaly at its line; flagged but applied lines are notes."""
    text = "queued\nin_progress\ncancelling\nbogus\ncancelled\nin_progress\nfailed\nin_progress\n"
    report = check_trace(read_trace(text), ASSISTANTS_RUN, assume_client=False)
    assert [(f.line, f.kind) for f in report.anomalies] == [
        (4, "unknown_status"),
        (6, "after_terminal"),
        (7, "terminal_flip"),
        (8, "after_terminal"),
    ]
    assert [(f.line, f.kind) for f in report.notes] == [(3, "external_cancel")]
    assert report.run.anomaly_count == 5
    assert report.final_state == "cancelled"
    assert not report.ok


def test_check_trace_handles_many_anomalies() -> None:
    """Thousands of anomalies: one finding per line, in order (checking is linear; the timing
    lives in benchmarks/bench_trace.py)."""
    lines = ["completed"] + ["in_progress", "paused"] * 2_000
    report = check_trace(read_trace("\n".join(lines)), ASSISTANTS_RUN)
    assert len(report.anomalies) == 4_000
    assert [f.line for f in report.anomalies] == list(range(2, 4_002))
    assert {f.kind for f in report.anomalies} == {"after_terminal", "unknown_status"}
