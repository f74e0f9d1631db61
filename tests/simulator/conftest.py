"""Fixtures for the simulator tests: simulators on a manual clock, in-process and served clients.

Every simulator made through these fixtures is checked after its test: each status change it
recorded must be an edge of ``lifecycle.ASSISTANTS_RUN`` (the simulator's core promise); runs that
follow a status script are the one explicit exemption.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import openai
import pytest

from adapters.simulator import ManualClock, Simulator, SimulatorServer
from lifecycle import ASSISTANTS_RUN

IN_PROCESS_URL = "http://simulator.local/v1"


def assert_history_follows_table(sim: Simulator) -> None:
    """Every consecutive pair in every run's history is a table edge; times never go back.

    Runs that follow a status script are exempt from the edge check (they break the table on
    purpose; ``test_status_scripts.py`` checks what they serve), not from the time check.
    """
    for run_id in sim.runs:
        history = sim.run_history(run_id)
        if sim.is_scripted(run_id):
            assert all(tb >= ta for (_, ta), (_, tb) in itertools.pairwise(history))
            continue
        assert history[0][0] == ASSISTANTS_RUN.initial
        for (a, ta), (b, tb) in itertools.pairwise(history):
            assert ASSISTANTS_RUN.edge_between(a, b) is not None, f"{run_id}: {a} -> {b}"
            assert tb >= ta


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock at a fixed start time."""
    return ManualClock()


@pytest.fixture
def make_sim(clock: ManualClock) -> Iterator[Callable[..., Simulator]]:
    """A factory of simulators (manual clock by default), each table-checked and closed after."""
    made: list[Simulator] = []

    def make(**kwargs: object) -> Simulator:
        kwargs.setdefault("clock", clock)
        sim = Simulator(**kwargs)  # type: ignore[arg-type]
        made.append(sim)
        return sim

    yield make
    for sim in made:
        assert_history_follows_table(sim)
        sim.close()


@pytest.fixture
def sim(make_sim: Callable[..., Simulator]) -> Simulator:
    """A simulator on the manual clock, default scenario ``order-total``."""
    return make_sim()


@pytest.fixture
def client(sim: Simulator) -> Iterator[openai.OpenAI]:
    """The real SDK, in-process, without SDK retries."""
    with openai.OpenAI(
        base_url=IN_PROCESS_URL, api_key="sk-sim-test", http_client=sim.http_client(), max_retries=0
    ) as c:
        yield c


@pytest.fixture(scope="module")
def served() -> Iterator[SimulatorServer]:
    """One real uvicorn server per module, on the wall clock (steps of tens of ms)."""
    with SimulatorServer(Simulator(poll_after_ms=5)) as server:
        yield server
    assert_history_follows_table(server.sim)


@pytest.fixture
def live(served: SimulatorServer) -> Iterator[openai.OpenAI]:
    """The real SDK over loopback HTTP to the served simulator; faults cleared after the test."""
    with openai.OpenAI(base_url=served.base_url, api_key="sk-sim-test", max_retries=0) as c:
        yield c
    served.sim.faults.clear()
