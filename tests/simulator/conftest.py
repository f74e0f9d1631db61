"""Fixtures for the simulator tests: simulators on a manual clock, in-process and served clients.

Every simulator made through these fixtures is checked after its test: each status change it
recorded must be one the Assistants API documents (:data:`DOCUMENTED_NEXT`, written here from the
API docs, independently of both the simulator and the core's table); runs that follow a status
script are the one explicit exemption. Responses are checked the same way against
:data:`DOCUMENTED_RESPONSE_NEXT`; the one exemption there is the flip out of ``cancelled`` of a
response whose scenario loses the cancel race (a compatible service was seen doing it).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import openai
import pytest

from adapters.simulator import SCENARIOS, ManualClock, Simulator, SimulatorServer

IN_PROCESS_URL = "http://simulator.local/v1"

#: the five terminal statuses ("Run lifecycle", Assistants docs)
TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
#: what may follow each non-terminal status on a server that behaves as documented
DOCUMENTED_NEXT: dict[str, frozenset[str]] = {
    # created queued; picked up; cancel accepted; expires_at passed; a scenario may fail a run
    # before pickup (last_error set)
    "queued": frozenset({"in_progress", "cancelling", "expired", "failed"}),
    # function calls; the three ends; cancel; expires_at passed
    "in_progress": frozenset(
        {"requires_action", "completed", "failed", "incomplete", "cancelling", "expired"}
    ),
    # submitting all outputs moves the run to queued; cancel; expires_at passed with no outputs
    "requires_action": frozenset({"queued", "cancelling", "expired"}),
    # "cancellation is attempted but not guaranteed": cancelled, or the race is lost
    "cancelling": TERMINAL,
}


#: the four terminal statuses of a response (Responses API, ``ResponseStatus``)
RESPONSE_TERMINAL = frozenset({"completed", "failed", "cancelled", "incomplete"})
#: what may follow each non-terminal response status: picked up; the three ends (a scenario may
#: fail a response before pickup); a background response's cancel goes straight to cancelled
DOCUMENTED_RESPONSE_NEXT: dict[str, frozenset[str]] = {
    "queued": frozenset({"in_progress", "failed", "cancelled"}),
    "in_progress": frozenset({"completed", "failed", "incomplete", "cancelled"}),
}


def assert_response_history_is_documented(sim: Simulator) -> None:
    """Every response starts queued (background) or in_progress (foreground) and only makes
    documented moves, times never going back; a cancelled response flips at most once, and only
    when its scenario's cancel is lost (``CancelBehaviour.outcome`` not ``cancelled``)."""
    for response_id in sim.response_ids():
        history = sim.response_history(response_id)
        assert all(tb >= ta for (_, ta), (_, tb) in itertools.pairwise(history))
        entry = next(e for e in sim.response_chain(response_id) if e.response_id == response_id)
        assert history[0][0] == ("queued" if entry.background else "in_progress")
        scenario = sim.engine.scenarios.get(entry.scenario, SCENARIOS.get(entry.scenario))
        flips = scenario is not None and scenario.cancel.outcome != "cancelled"
        for i, ((a, _), (b, _)) in enumerate(itertools.pairwise(history)):
            if a == "cancelled" and flips and i == len(history) - 2:
                assert b in RESPONSE_TERMINAL, f"{response_id}: {a} -> {b}"
                continue
            assert b in DOCUMENTED_RESPONSE_NEXT.get(a, frozenset()), f"{response_id}: {a} -> {b}"


def assert_history_is_documented(sim: Simulator) -> None:
    """Every run starts queued and only makes documented moves; times never go back.

    Runs that follow a status script are exempt from the move check (they break the API's rules
    on purpose; ``test_status_scripts.py`` checks what they serve), not from the time check.
    """
    for run_id in sim.runs:
        history = sim.run_history(run_id)
        assert all(tb >= ta for (_, ta), (_, tb) in itertools.pairwise(history))
        if sim.is_scripted(run_id):
            continue
        assert history[0][0] == "queued"
        for (a, _), (b, _) in itertools.pairwise(history):
            assert b in DOCUMENTED_NEXT.get(a, frozenset()), f"{run_id}: {a} -> {b}"


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock at a fixed start time."""
    return ManualClock()


@pytest.fixture
def make_sim(clock: ManualClock) -> Iterator[Callable[..., Simulator]]:
    """A factory of simulators (manual clock by default), each history-checked and closed after."""
    made: list[Simulator] = []

    def make(**kwargs: object) -> Simulator:
        kwargs.setdefault("clock", clock)
        sim = Simulator(**kwargs)  # type: ignore[arg-type]
        made.append(sim)
        return sim

    yield make
    for sim in made:
        assert_history_is_documented(sim)
        assert_response_history_is_documented(sim)
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
    assert_history_is_documented(server.sim)
    assert_response_history_is_documented(server.sim)


@pytest.fixture
def live(served: SimulatorServer) -> Iterator[openai.OpenAI]:
    """The real SDK over loopback HTTP to the served simulator; faults cleared after the test."""
    with openai.OpenAI(base_url=served.base_url, api_key="sk-sim-test", max_retries=0) as c:
        yield c
    served.sim.faults.clear()
