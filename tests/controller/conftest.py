"""Fixtures for the controller's end-to-end tests: the simulator on loopback, the real SDK client.

Time is a :class:`ManualClock` shared by the simulator and the controller: the controller's sleep
advances it, so a poll interval of 20 ms costs nothing real and runs are deterministic. Every test
runs against the sync and the async driver (the ``ctl`` fixture is parametrized).
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import anyio
import openai
import pytest
from pydantic import BaseModel, ConfigDict

from adapters.openai import AsyncRunController, RunController, RunOutcome
from adapters.simulator import ManualClock, ServerProfile, Simulator, SimulatorServer
from lifecycle import ApprovalRequest, Decision, ToolRegistry

API_KEY = "sk-sim-test-0123456789abcdef"


def quiet(fn: Callable[[], Any]) -> Any:
    """Call an SDK Assistants method with exactly its deprecation warnings silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="deprecated$", category=DeprecationWarning)
        warnings.filterwarnings(
            "ignore", message="The Assistants API is deprecated", category=DeprecationWarning
        )
        return fn()


class ItemType(StrEnum):
    BOOKS = "books"
    STATIONERY = "stationery"
    ELECTRONICS = "electronics"


PRICES = {ItemType.BOOKS: 12.5, ItemType.STATIONERY: 3.0, ItemType.ELECTRONICS: 99.0}


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_type: ItemType
    quantity: int


@dataclass
class ToolBox:
    """A registry whose tools count their executions (the "effect ledger" of the tests)."""

    registry: ToolRegistry
    calls: list[str] = field(default_factory=list)
    barrier: threading.Barrier = field(default_factory=lambda: threading.Barrier(2, timeout=5))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, name: str) -> int:
        with self.lock:
            return self.calls.count(name)


def make_toolbox(needs_approval: Collection[str] = (), **registry_kw: Any) -> ToolBox:
    """The tools the simulator's scenarios call (those named in ``needs_approval`` run only once
    the controller's approval hook says yes)."""
    box = ToolBox(ToolRegistry(**registry_kw))
    registry = box.registry

    class _Gated:
        def tool(self, fn: Callable[..., Any]) -> Callable[..., Any]:
            return registry.tool(needs_approval=fn.__name__ in needs_approval)(fn)

    reg = _Gated()

    def note(name: str) -> None:
        with box.lock:
            box.calls.append(name)

    @reg.tool
    def calculate_order_total(items: list[Item]) -> float:
        """Compute the total price of an order.

        Args:
            items: the items ordered, each an item type and a quantity.
        """
        note("calculate_order_total")
        return sum(PRICES[i.item_type] * i.quantity for i in items)

    @reg.tool
    def get_weather(city: str) -> dict[str, Any]:
        """Get the weather of a city (both calls must run at the same time)."""
        note("get_weather")
        box.barrier.wait()  # two parallel calls meet here; sequential calls would time out
        return {"city": city, "celsius": 21}

    @reg.tool
    def lookup_prices(item_types: list[ItemType]) -> dict[str, float]:
        """Look up unit prices."""
        note("lookup_prices")
        return {t.value: PRICES[t] for t in item_types}

    return box


@dataclass
class Env:
    """The simulator, its server, its clock and a sync SDK client."""

    sim: Simulator
    clock: ManualClock
    server: SimulatorServer
    client: openai.OpenAI
    assistant_id: str

    def thread(self, content: str = "What does my order cost?") -> str:
        thread = quiet(lambda: self.client.beta.threads.create())
        quiet(
            lambda: self.client.beta.threads.messages.create(
                thread.id, role="user", content=content
            )
        )
        return str(thread.id)

    def start_run(self, thread_id: str, scenario: str) -> str:
        """Create a run with the raw SDK (for drive/cancel tests)."""
        run = quiet(
            lambda: self.client.beta.threads.runs.create(
                thread_id, assistant_id=self.assistant_id, metadata={"scenario": scenario}
            )
        )
        return str(run.id)


@contextlib.contextmanager
def open_env(profile: str | ServerProfile, **sim: Any) -> Iterator[Env]:
    """A simulator with ``profile`` on loopback, its manual clock, a sync client, an assistant."""
    clock = ManualClock(autoadvance=0.01)
    simulator = Simulator(clock=clock, seed=7, profile=profile, **sim)
    with SimulatorServer(simulator) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0)
        assistant = quiet(lambda: client.beta.assistants.create(model="sim-model"))
        yield Env(simulator, clock, server, client, str(assistant.id))
        client.close()


@pytest.fixture
def env(sim_profile: str) -> Iterator[Env]:
    """The simulator (the session's ``--sim-profile``) on loopback, its clock and a client."""
    with open_env(sim_profile, poll_after_ms=20) as e:
        yield e


@pytest.fixture
def toolbox() -> ToolBox:
    return make_toolbox()


class Driver:
    """One interface over the sync and async controllers, so each test runs against both."""

    kind = ""

    def __init__(self, env: Env, tools: ToolRegistry | None, **settings: Any) -> None:
        self.env = env
        self.tools = tools
        self.settings = settings
        self.sleeps: list[float] = []

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.env.clock.advance(seconds)

    def run(self, scenario: str, **kw: Any) -> RunOutcome:
        thread_id = kw.pop("thread_id", None) or self.env.thread()
        metadata = {"scenario": scenario}
        return self._call(
            "run",
            thread_id=thread_id,
            assistant_id=self.env.assistant_id,
            metadata=metadata,
            **kw,
        )

    def _call(self, method: str, **kw: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def events(self, method: str = "events", **kw: Any) -> list[Any]:  # pragma: no cover
        raise NotImplementedError


class SyncDriver(Driver):
    kind = "sync"

    def controller(self) -> RunController:
        clock = self.env.clock
        return RunController(
            self.env.client,
            tools=self.tools,
            clock=clock,
            wall_clock=clock,
            sleep=self._sleep,
            **self.settings,
        )

    def _call(self, method: str, **kw: Any) -> Any:
        return getattr(self.controller(), method)(**kw)

    def events(self, method: str = "events", **kw: Any) -> list[Any]:
        """The events of ``method`` (``events`` or ``watch``)."""
        return list(getattr(self.controller(), method)(**kw))


class AsyncDriver(Driver):
    kind = "async"

    def controller(self, client: openai.AsyncOpenAI) -> AsyncRunController:
        clock = self.env.clock

        async def sleep(seconds: float) -> None:
            self._sleep(seconds)
            await anyio.sleep(0)

        return AsyncRunController(
            client, tools=self.tools, clock=clock, wall_clock=clock, sleep=sleep, **self.settings
        )

    def _client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.env.server.base_url, api_key=API_KEY)

    def _call(self, method: str, **kw: Any) -> Any:
        async def main() -> Any:
            async with self._client() as client:
                return await getattr(self.controller(client), method)(**kw)

        return anyio.run(main)

    def events(self, method: str = "events", **kw: Any) -> list[Any]:
        async def main() -> list[Any]:
            async with self._client() as client:
                return [e async for e in getattr(self.controller(client), method)(**kw)]

        return anyio.run(main)


MakeDriver = Callable[..., Driver]


@pytest.fixture(params=["sync", "async"])
def make_driver(request: pytest.FixtureRequest, env: Env, toolbox: ToolBox) -> MakeDriver:
    """``make_driver(**settings)`` builds the sync or the async driver (both are run)."""
    cls = SyncDriver if request.param == "sync" else AsyncDriver

    def make(tools: ToolRegistry | None = toolbox.registry, **settings: Any) -> Driver:
        return cls(env, tools, **settings)

    return make


class Desk:
    """A person at an approval desk: answers from ``decision`` (``None``: not decided yet)."""

    def __init__(self, decision: Decision | bool | None) -> None:
        self.decision = decision
        self.asked: list[ApprovalRequest] = []

    def __call__(self, request: ApprovalRequest) -> Decision | bool | None:
        self.asked.append(request)
        return self.decision


class AsyncDesk(Desk):
    """The same desk as a coroutine function (the async controllers await it)."""

    async def __call__(self, request: ApprovalRequest) -> Decision | bool | None:  # type: ignore[override]
        return super().__call__(request)
