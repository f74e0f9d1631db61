"""Fixtures for the kernel's unit tests: a counting tool registry."""

from __future__ import annotations

from collections import Counter

import pytest

from lifecycle import ToolRegistry


class CountingTools(ToolRegistry):
    """A registry whose tools count their executions (the tests' effect ledger)."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: Counter[str] = Counter()


@pytest.fixture
def calc_tools() -> CountingTools:
    tools = CountingTools()

    @tools.tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        tools.runs["add"] += 1
        return a + b

    @tools.tool
    def boom() -> str:
        """Always raises."""
        tools.runs["boom"] += 1
        raise RuntimeError("no")

    return tools
