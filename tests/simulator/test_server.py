"""SimulatorServer lifecycle: stop() is fast and leaves no thread, socket or running app behind.

Nearly every end-to-end test starts a server, so ``stop()`` is on every test's path. uvicorn's own
exit ticks every 100 ms and sleeps another 100 ms (and waits up to a second for an open stream);
the simulator's server exits on an event instead.
"""

from __future__ import annotations

import gc
import socket
import statistics
import threading
import time
import warnings
from collections.abc import Iterator

import openai
import pytest

from adapters.simulator import Simulator, SimulatorServer

pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")

#: the brief's bound for one stop(); the measured median is a few milliseconds
STOP_BUDGET_S = 0.05


def _server_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name in ("simulator-server", "simulator-loop")}


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """The test leaves no simulator thread running."""
    before = _server_threads()
    yield
    assert _server_threads() <= before


def _refused(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _timed_stop(server: SimulatorServer) -> float:
    started = time.perf_counter()
    server.stop()
    return time.perf_counter() - started


def test_stop_of_an_idle_server_is_fast(no_leaks: None) -> None:
    """A server that served nothing stops well within the budget, port closed."""
    times = []
    for _ in range(5):
        server = SimulatorServer(Simulator())
        server.start()
        port = server.port
        times.append(_timed_stop(server))
        assert _refused(port)
    assert statistics.median(times) < STOP_BUDGET_S, times


def test_stop_with_a_kept_alive_connection_is_fast(no_leaks: None) -> None:
    """An idle keep-alive connection from the SDK is closed at once, not waited for."""
    times = []
    for _ in range(3):
        server = SimulatorServer(Simulator(default_scenario="text"))
        server.start()
        with openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0) as client:
            assistant = client.beta.assistants.create(model="m")
            client.beta.threads.runs.create_and_poll(
                thread_id=client.beta.threads.create().id,
                assistant_id=assistant.id,
                poll_interval_ms=5,
            )
            times.append(_timed_stop(server))
    assert statistics.median(times) < STOP_BUDGET_S, times


def test_stop_cuts_an_open_stream_quickly(no_leaks: None) -> None:
    """A stream still open (a run that never finishes) is cut; the app returns, nothing leaks."""
    server = SimulatorServer(Simulator(default_scenario="never-finishes"))
    server.start()
    with openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0) as client:
        assistant = client.beta.assistants.create(model="m")
        stream = client.beta.threads.runs.create(
            thread_id=client.beta.threads.create().id, assistant_id=assistant.id, stream=True
        )
        first = next(iter(stream))
        assert first.event == "thread.run.created"
        elapsed = _timed_stop(server)
        with pytest.raises(openai.APIConnectionError):
            list(stream)
    assert elapsed < STOP_BUDGET_S


def test_stop_is_idempotent_and_safe_before_start(no_leaks: None) -> None:
    """stop() before start() and twice after it does nothing harmful; a server restarts once."""
    server = SimulatorServer(Simulator())
    server.stop()
    server.start()
    server.stop()
    server.stop()
    with SimulatorServer(Simulator()) as again:
        assert not _refused(again.port)
    assert _refused(again.port)


def test_a_connection_accepted_as_the_server_stops_is_closed(no_leaks: None) -> None:
    """A connection accepted just before stop() gets its transport and is closed: no socket is
    left for the garbage collector (on Python 3.11 a transport built after the listener closed
    used to leak its socket)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(10):  # before the fix, nearly every round leaked
            with SimulatorServer(Simulator()) as server:
                socket.create_connection(("127.0.0.1", server.port)).close()
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
