"""Shared test configuration: Hypothesis profiles (fast by default, ``ci`` in CI), and the
simulator profile the end-to-end suites run against (``--sim-profile``, default ``reference``).

``python -m pytest tests/controller tests/faults --sim-profile no-poll-after`` runs the controller
and fault suites against a server that never sends ``openai-poll-after-ms`` (CI does this for
every profile of ``adapters.simulator.PROFILES``); tests whose assertions are about the reference
server's own wire behaviour are marked ``reference_server`` and run only against it.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci",
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--sim-profile",
        default="reference",
        help="the simulator profile end-to-end tests run against (adapters.simulator.PROFILES)",
    )


def pytest_configure(config: pytest.Config) -> None:
    from adapters.simulator import PROFILES

    name = config.getoption("--sim-profile")
    if name not in PROFILES:
        raise pytest.UsageError(f"--sim-profile {name!r}: one of {', '.join(sorted(PROFILES))}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    name = config.getoption("--sim-profile")
    if name == "reference":
        return
    skip = pytest.mark.skip(reason=f"asserts the reference server's wire behaviour, not {name}'s")
    for item in items:
        if item.get_closest_marker("reference_server") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sim_profile(pytestconfig: pytest.Config) -> str:
    """The simulator profile of this test session (``--sim-profile``)."""
    return str(pytestconfig.getoption("--sim-profile"))
