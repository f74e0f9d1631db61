"""Whether the Temporal tests can run here: skipped with the reason (and the install command)
when the extra is missing, required under ``CI=true`` (the conftest fails the session then)."""

from __future__ import annotations

import pytest

from tests.temporal.conftest import missing


def test_the_temporal_extra_is_installed() -> None:
    why = missing()
    if why is not None:
        pytest.skip(f"Temporal tests skipped: {why}")
