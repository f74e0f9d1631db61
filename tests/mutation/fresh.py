"""A pytest plugin for mutation runs only: every session starts with the core's caches empty.

mutmut runs the whole test selection once in its own process, then forks that process for each
mutant. Whatever the core computed and cached in the first run would survive into every fork and
hide mutants of the code that computed it: the shared ``transitions`` machine per table
(``lifecycle._machine_build``), the kernel's table facts (``lifecycle.kernel._tables``) and the
tables' own derived views and path cache (built when ``lifecycle._table`` was imported). At the
start of each session this plugin drops those caches and recomputes the tables' derived views with
the code under test, so a mutant of any of them is exercised like any other code.

It is loaded by mutmut's ``pytest_add_cli_args`` (``-p tests.mutation.fresh``, in pyproject.toml)
and by nothing else.
"""

from __future__ import annotations

import dataclasses

import pytest


def refresh_core_caches() -> None:
    """Empty the machine and table-fact caches; recompute every table's derived views."""
    from lifecycle import _machine_build, _table
    from lifecycle.kernel import _tables

    _machine_build._MACHINES.clear()
    _tables._FACTS.clear()
    for spec in _table.LIFECYCLES.values():
        # drop every derived view first, so a mutant that fails to set one is not hidden by the
        # view the parent process computed (``awaiting_client`` is a cached_property)
        for name in ("awaiting_client", *(f.name for f in dataclasses.fields(spec) if not f.init)):
            spec.__dict__.pop(name, None)
        spec.__post_init__()  # checks the table again, rebuilds its views, empties its path cache


def pytest_sessionstart(session: pytest.Session) -> None:
    """Start each mutant's session from fresh caches."""
    refresh_core_caches()
