"""Serving the simulator over real HTTP with uvicorn (loopback only by default).

* :class:`SimulatorServer` - a context manager: uvicorn on ``127.0.0.1`` and a free port, in a
  background thread; ``base_url`` is ready when ``__enter__`` returns.
* :func:`serve` - blocking, for ``lifecycle simulate --port N`` (``profile=`` picks a
  :class:`~adapters.simulator.ServerProfile`).
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from adapters.simulator._simulator import Simulator
from adapters.simulator.profiles import ServerProfile

__all__ = ["SimulatorServer", "serve"]

_START_TIMEOUT = 5.0


def _config(sim: Simulator, host: str, port: int, log_level: str) -> uvicorn.Config:
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
    )


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
        self._server: uvicorn.Server | None = None
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
        server = uvicorn.Server(_config(self.sim, self.host, self.port, "warning"))
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
        """Ask uvicorn to exit, join its thread and release the socket (idempotent)."""
        server, thread, sock = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        if server is not None:
            server.should_exit = True
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
