"""What the README tells a newcomer holds: its controller example prints only its answer, a
recorded trace is checked as the README says, and the guide and the API reference are linked
near the top."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from lifecycle import RunLifecycle
from tests.docs.guide_blocks import ROOT, python_blocks

README = ROOT / "README.md"
CONSOLE_SCRIPT = Path(sys.executable).parent / "lifecycle"
#: a tool round as a trace records it: our submission is not in it
TOOL_ROUND = "queued\nin_progress\nrequires_action\nqueued\nin_progress\ncompleted\n"


def test_the_controller_example_run_as_a_script_prints_only_its_answer(tmp_path: Path) -> None:
    """Run as a user runs it (``python example.py``, where Python shows DeprecationWarnings
    raised in ``__main__``), the example writes its answer and nothing on stderr."""
    block = next(b for b in python_blocks(README) if "RunController(" in b.code)
    script = tmp_path / "example.py"
    script.write_text(block.code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    claimed = block.code.rstrip().rsplit("# ", 1)[1]
    assert done.stdout.strip() == claimed


def test_the_sdk_would_warn_without_the_examples_filter(tmp_path: Path) -> None:
    """The filter in the example is needed: without it the same script prints the SDK's two
    deprecation warnings (the README names both)."""
    block = next(b for b in python_blocks(README) if "RunController(" in b.code)
    code = block.code.replace('warnings.simplefilter("ignore", DeprecationWarning)', "pass")
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    warned = re.findall(r"DeprecationWarning: (.*)", done.stderr)
    assert warned == [
        "deprecated",
        "The Assistants API is deprecated in favor of the Responses API",
    ]
    text = README.read_text(encoding="utf-8")
    for message in warned:
        assert f"`{message}`" in text


def check(trace: Path, *args: str) -> int:
    done = subprocess.run(
        [str(CONSOLE_SCRIPT), "check", str(trace), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode


def test_a_trace_reads_a_tool_round_as_answered_and_live_policy_as_a_stale_read(
    tmp_path: Path,
) -> None:
    """The README: a live ``observe()`` rejects ``requires_action -> queued`` without our
    submission; ``lifecycle check`` takes it as our answered round; ``--live-policy`` rejects it."""
    live = RunLifecycle()
    for status in TOOL_ROUND.split():
        live.observe(status)
    assert [a.kind for a in live.anomalies][:1] == ["regression"]
    trace = tmp_path / "round.trace"
    trace.write_text(TOOL_ROUND, encoding="utf-8")
    assert check(trace) == 0
    assert check(trace, "--live-policy") == 1
    text = README.read_text(encoding="utf-8")
    assert "assume_client=True" in text
    assert "`lifecycle check --live-policy`" in text


def test_the_guide_and_the_api_reference_are_linked_before_the_quick_start() -> None:
    """A newcomer finds the guide and how to build the reference before the first command."""
    text = README.read_text(encoding="utf-8")
    top = text[: text.index("## Quick start")]
    assert "[docs/guide.md](docs/guide.md)" in top
    assert "mkdocs serve" in top
    assert (ROOT / "docs" / "guide.md").is_file()
    assert (ROOT / "mkdocs.yml").is_file()
