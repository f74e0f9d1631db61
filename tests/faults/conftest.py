"""Fixtures of the fault suite: a fresh :class:`World` per test (simulator on loopback HTTP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.harness import World


@pytest.fixture
def world(sim_profile: str) -> Iterator[World]:
    """A served simulator (the session's ``--sim-profile``) on a manual clock, with the SDK
    client, an assistant and helpers."""
    with World(profile=sim_profile) as w:
        yield w
