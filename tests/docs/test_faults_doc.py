"""docs/faults.md names only what exists, and what it says is fixed stays fixed."""

from __future__ import annotations

import re
import socket

from adapters.simulator import SimulatorServer
from tests.docs.guide_blocks import ROOT

FAULTS = ROOT / "docs" / "faults.md"


def test_every_file_it_cites_is_in_the_repository() -> None:
    """Each backticked path (``dir/file.ext``) and each test module it names exists here."""
    text = FAULTS.read_text(encoding="utf-8")
    cited = set(re.findall(r"`([\w./-]+/[\w.-]+\.(?:py|md|json|txt))`", text))
    modules = set(re.findall(r"`(test_\w+\.py)", text))
    assert cited, "the page cites files"
    missing = [path for path in cited if not (ROOT / path).is_file()]
    missing += [m for m in modules if not list((ROOT / "tests").rglob(m))]
    assert not missing


def test_every_test_it_names_exists() -> None:
    """Each ``test_...`` function or class the matrix names is defined in the test suite (a
    name ending in ``...`` or ``*`` is a prefix)."""
    text = FAULTS.read_text(encoding="utf-8")
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py"))
    names = re.findall(r"\b(Test[A-Z]\w+|test_\w+)(\.py|\.\.\.|\*|\.\.s\d\d_\*)?", text)
    assert len(names) > 30
    for name, tail in names:
        if tail == ".py":
            continue  # a module: see the test above
        prefix = tail != "" or name.endswith("_")
        pattern = rf"(def |class |^){re.escape(name)}" + ("" if prefix else r"\b")
        assert re.search(pattern, sources, flags=re.M), name


def test_the_simulator_server_binds_a_tcp_socket_so_asyncio_sets_nodelay() -> None:
    """The TCP_NODELAY finding is fixed: asyncio sets TCP_NODELAY only on connections of a
    listening socket whose ``proto`` is ``IPPROTO_TCP`` (with 0, each loopback response waited
    ~40 ms for a delayed ACK)."""
    with SimulatorServer() as server:
        listening = server._socket
        assert listening is not None
        assert listening.proto == socket.IPPROTO_TCP
    text = FAULTS.read_text(encoding="utf-8")
    assert "NoDelayServer" not in text  # the harness no longer carries a fix of its own
