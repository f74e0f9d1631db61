"""Serving the simulator over real HTTP with uvicorn (loopback only by default).

* :class:`SimulatorServer` - a context manager: uvicorn on ``127.0.0.1`` and a free port, in a
  background thread; ``base_url`` is ready when ``__enter__`` returns, and :meth:`stop` returns
  within a few milliseconds.
* :func:`serve` - blocking, for ``lifecycle simulate --port N`` (``profile=`` picks a
  :class:`~adapters.simulator.ServerProfile`).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType

import uvicorn

from adapters.simulator._simulator import Simulator
from adapters.simulator.profiles import ServerProfile

__all__ = ["SimulatorServer", "serve"]

_START_TIMEOUT = 5.0
#: how long a stopping server lets aborted responses wind down before cancelling them
_DRAIN_SECONDS = 1.0


def _config(sim: Simulator, host: str, port: int, log_level: str) -> uvicorn.Config:
    # no date/server headers: the app alone decides the headers, so the in-process transports
    # and the loopback server send the same ones
    return uvicorn.Config(
        sim.app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="off",
        http="h11",
        loop="asyncio",
        access_log=False,
        timeout_graceful_shutdown=1,
        server_header=False,
        date_header=False,
    )


class _QuickServer(uvicorn.Server):
    """uvicorn's server, with an exit driven by an event instead of 0.1 s ticks.

    uvicorn checks ``should_exit`` every 100 ms and its shutdown sleeps another 100 ms, then waits
    for in-flight responses (an open SSE stream: up to ``timeout_graceful_shutdown``). A test
    server has nothing to be graceful about: :meth:`wake` ends :meth:`main_loop` at once, and
    :meth:`shutdown` closes idle connections, aborts the ones in the middle of a response (the app
    then sees ``http.disconnect`` and returns normally) and waits only for those apps to return.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def wake(self) -> None:
        """Ask the server to exit now (thread-safe; set ``should_exit`` first)."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    async def main_loop(self) -> None:
        """Refresh the default headers once, then wait for :meth:`wake` (no ticking)."""
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if await self.on_tick(0):  # should_exit was set before the loop existed
            return
        await self._wake.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop listening, end every connection, wait for the apps to return."""
        # A connection accepted just now builds its transport first: on Python 3.11 a transport
        # built after Server.close() fails Server._attach()'s assertion, which asyncio swallows,
        # and its socket leaks.
        await _settle()
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        await _settle()  # ... and registers with uvicorn (connection_made)
        for connection in list(self.server_state.connections):
            connection.shutdown()  # idle keep-alive connections close here
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()  # mid-response: the app sees http.disconnect
        deadline = time.monotonic() + _DRAIN_SECONDS
        while self.server_state.tasks and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        for task in list(self.server_state.tasks):
            task.cancel()
        for server in self.servers:
            await server.wait_closed()
        await _settle()  # closed transports release their sockets before the loop ends


async def _settle(rounds: int = 5) -> None:
    """Let the loop run its ready callbacks a few times (accepts, connection_lost)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class SimulatorServer:
    """Run a :class:`Simulator` under uvicorn in a background thread.

    Args:
        sim: the simulator to serve (a new default one if omitted).
        host: the address to bind; keep the default loopback address.
        port: the port; ``0`` picks a free one.

    Attributes:
        sim: the served simulator.
        port: the bound port (after ``start``).

    Example:
        >>> with SimulatorServer(Simulator()) as server:  # doctest: +SKIP
        ...     client = openai.OpenAI(base_url=server.base_url, api_key="sk-sim-test")
    """

    def __init__(
        self, sim: Simulator | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.sim = sim if sim is not None else Simulator()
        self.host = host
        self.port = port
        self._socket: socket.socket | None = None
        self._server: _QuickServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The API base URL, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> None:
        """Bind, start uvicorn in a thread, and wait until it accepts connections.

        Raises:
            RuntimeError: when already started, or uvicorn does not start within 5 s.
        """
        if self._thread is not None:
            raise RuntimeError("SimulatorServer already started")
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose protocol says
        # TCP; with protocol 0 every response waited ~40 ms for the client's delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._socket = sock
        server = _QuickServer(_config(self.sim, self.host, self.port, "warning"))
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="simulator-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the simulator server did not start")
            threading.Event().wait(0.002)

    def stop(self) -> None:
        """Make uvicorn exit now, join its thread and release the socket (idempotent).

        Open connections are closed, responses still being sent (an SSE stream) are cut; this
        takes a few milliseconds.
        """
        server, thread, sock = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        if server is not None:
            server.should_exit = True
            server.wake()
        if thread is not None:
            thread.join(timeout=5)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(timeout=5)
        if sock is not None:
            sock.close()
        self.sim.close()

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    scenario: str = "order-total",
    *,
    sim: Simulator | None = None,
    log_level: str = "info",
    profile: ServerProfile | str | None = None,
) -> None:
    """Serve a simulator until interrupted (blocking); for ``lifecycle simulate --port N``.

    Args:
        host: the address to bind (loopback by default).
        port: the TCP port.
        scenario: the default scenario name.
        sim: a prepared simulator (overrides ``scenario``).
        log_level: uvicorn's log level.
        profile: the server profile (a :class:`~adapters.simulator.ServerProfile` or a name in
            :data:`~adapters.simulator.PROFILES`); default ``"reference"``.

    Raises:
        ValueError: for an unknown profile name, or a ``profile`` together with ``sim`` (give
            the prepared simulator its profile instead).
    """
    if sim is not None and profile is not None:
        raise ValueError("pass the profile to the prepared Simulator, not to serve()")
    simulator = sim if sim is not None else Simulator(default_scenario=scenario, profile=profile)
    uvicorn.Server(_config(simulator, host, port, log_level)).run()
