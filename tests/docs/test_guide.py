"""docs/guide.md runs as written: its Python blocks execute in order, as one program, against the
simulator, and each ``# -> ...`` comment is what its line prints.

A block marked ``<!-- guide: no-run (why) -->`` is only compiled. Test functions and
``unittest.TestCase`` classes a block defines (``test_*``, ``Test*``) are run as pytest would.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import json
import re
import unittest
from pathlib import Path
from typing import Any

import pytest

from adapters.openai import AsyncRunController, ResponseController, RunController
from adapters.simulator import SimulatorServer
from lifecycle.kernel import ControllerConfig, RetryPolicy
from tests.docs.guide_blocks import ROOT, Block, python_blocks

GUIDE = ROOT / "docs" / "guide.md"


def run_tests_defined(namespace: dict[str, Any], before: set[str]) -> list[str]:
    """Run the ``test_*`` functions and ``Test*`` TestCases a block defined; their names."""
    ran = []
    for name, value in list(namespace.items()):
        if name in before:
            continue
        if name.startswith("test_") and inspect.isfunction(value):
            value()
            ran.append(name)
        elif (
            name.startswith("Test")
            and isinstance(value, type)
            and issubclass(value, unittest.TestCase)
        ):
            result = unittest.TestResult()
            unittest.defaultTestLoader.loadTestsFromTestCase(value).run(result)
            assert result.wasSuccessful(), (result.failures, result.errors)
            ran.append(name)
    return ran


def run_block(block: Block, namespace: dict[str, Any]) -> list[str]:
    """Execute one block in ``namespace``; check its claims; return the tests it ran."""
    before = set(namespace)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(block.compiled(), namespace)
    printed = out.getvalue().splitlines()
    assert printed == block.claims(), f"{block.where}: printed {printed}"
    return run_tests_defined(namespace, before)


def test_the_guide_runs_as_one_program_and_prints_what_it_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every block runs in order (files it writes land in a temporary directory)."""
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "guide"}
    ran: list[str] = []
    try:
        for block in python_blocks(GUIDE):
            if block.no_run is None:
                ran += run_block(block, namespace)
            else:
                block.compiled()  # not run, but it must still be Python
    finally:
        for value in namespace.values():
            if isinstance(value, SimulatorServer):
                value.stop()
    assert ran == ["test_the_refund_runs_once_and_the_answer_uses_it", "TestMyTracker"]
    server = namespace["server"]
    assert isinstance(server, SimulatorServer)
    assert server._thread is None  # the guide stops what it started


def test_blocks_not_run_say_why_and_are_few() -> None:
    """Only a block that needs what a test cannot have (a key, the network) is left unrun."""
    skipped = [b for b in python_blocks(GUIDE) if b.no_run is not None]
    assert [b.no_run for b in skipped] == ["needs an API key and the network"]


def test_the_guide_shows_all_four_controllers_run() -> None:
    """Both run controllers and both chain controllers appear in code that runs."""
    code = "\n".join(b.code for b in python_blocks(GUIDE) if b.no_run is None)
    for name in ("RunController", "AsyncRunController", "ResponseController"):
        assert re.search(rf"(?<!Async){name}\(client", code) or re.search(rf"{name}\(aclient", code)
    assert "AsyncResponseController(aclient" in code


def table_rows(text: str, first_header: str) -> dict[str, str]:
    """The ``| `name` | default | ...`` rows of the table whose first header is given."""
    start = text.index(f"| {first_header} |")
    rows: dict[str, str] = {}
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1]
    return rows


def defaults(cls: type) -> dict[str, str]:
    """Each field's default as the guide's tables write it: `` `repr` ``."""
    values = {f.name: getattr(cls(), f.name) for f in dataclasses.fields(cls)}
    shown = {}
    for name, value in values.items():
        if isinstance(value, RetryPolicy):
            text = "RetryPolicy()"
        elif isinstance(value, dict):
            text = json.dumps({str(k): v for k, v in value.items()})
        elif isinstance(value, frozenset):
            text = f"frozenset({set(sorted(value))!r})"
        else:
            text = repr(value)
        shown[f"`{name}`"] = f"`{text}`"
    return shown


def test_every_setting_is_in_the_guide_with_its_default() -> None:
    """The settings tables list every field of ControllerConfig and RetryPolicy, with the
    default the code has (a new setting, or a changed default, fails here)."""
    text = GUIDE.read_text(encoding="utf-8")
    assert table_rows(text, "setting") == defaults(ControllerConfig)
    assert table_rows(text, "`RetryPolicy` field") == defaults(RetryPolicy)


def test_every_controller_keyword_is_in_the_guide() -> None:
    """Each keyword of the four controllers' constructors and of run() is named in the guide."""
    text = GUIDE.read_text(encoding="utf-8")
    keywords = set(re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)? \|", text, flags=re.M))
    table = {k for pair in keywords for k in pair if k}
    for cls in (RunController, AsyncRunController, ResponseController):
        params = set(inspect.signature(cls.__init__).parameters) - {"self", "client"}
        assert params <= table, params - table
    for method in (RunController.run, ResponseController.run):
        params = set(inspect.signature(method).parameters) - {"self", "create_args"}
        missing = {p for p in params if f"`{p}" not in text and f"{p}=" not in text}
        assert not missing, missing
