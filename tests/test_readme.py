"""The README's code examples run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from adapters.openai._wire import assistants_quiet

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_ten_line_example_runs_and_shows_what_it_says() -> None:
    """The core example executes and ends in the states its comments claim."""
    block = python_blocks()[0]
    assert len([line for line in block.splitlines() if line.strip()]) <= 10
    scope: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), scope)
    assert scope["run"].state == "completed"  # type: ignore[attr-defined]
    assert scope["run"].anomalies[-1].kind == "after_terminal"  # type: ignore[attr-defined]
    assert scope["fresh"].state == "queued"  # type: ignore[attr-defined]


def test_hooks_example_runs() -> None:
    """The hooks example builds a lifecycle with all four hook kinds registered."""
    block = python_blocks()[1]
    scope: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), scope)
    run = scope["run"]
    run.observe("completed")  # type: ignore[attr-defined]
    assert run.state == "completed"  # type: ignore[attr-defined]


def test_controller_example_runs_against_the_simulator(capsys: Any) -> None:
    """The controller example completes the order-total run and prints what its comment says."""
    block = next(b for b in python_blocks() if "RunController" in b)
    scope: dict[str, object] = {}
    with assistants_quiet():
        exec(compile(block, "README.md", "exec"), scope)
    outcome = scope["outcome"]
    assert outcome.status == "completed"  # type: ignore[attr-defined]
    assert [t.state for t in outcome.tool_calls] == ["delivered"]  # type: ignore[attr-defined]
    printed = capsys.readouterr().out.strip()
    comment = block.split("# ")[-1].strip()
    assert printed == comment


def test_readme_states_the_two_setup_commands() -> None:
    """The README shows the demo command and the test command that CI runs."""
    text = README.read_text(encoding="utf-8")
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    test_command = (
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' "
        "&& python -m pytest"
    )
    assert test_command in text
    assert test_command in ci
    assert "pip install -e . && lifecycle demo" in text


def test_responses_chain_example_runs_against_the_simulator(capsys: Any) -> None:
    """The Responses chain example completes the order-total chain in two responses and prints
    what its comment says."""
    block = next(b for b in python_blocks() if "ResponseController" in b)
    scope: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), scope)
    chain = scope["chain"]
    assert chain.status == "completed"  # type: ignore[attr-defined]
    assert [t.state for t in chain.tool_calls] == ["delivered"]  # type: ignore[attr-defined]
    printed = capsys.readouterr().out.strip()
    comment = block.rstrip().splitlines()[-1].split("# ")[-1].strip()
    assert printed == comment
