"""pytest plugin (entry point ``run_lifecycle``): fixtures and Hypothesis profiles.

Fixtures:
    ``lifecycle_spec``: the Assistants run table (override it in your conftest for another).
    ``make_lifecycle``: a factory ``make_lifecycle(**kwargs) -> RunLifecycle`` on that table.

Profiles (select with ``--hypothesis-profile``): ``run-lifecycle-fast`` (50 examples) and
``run-lifecycle-ci`` (500 examples, no deadline). Hypothesis is imported only if installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lifecycle._machine import RunLifecycle
from lifecycle._spec import LifecycleSpec
from lifecycle._table import ASSISTANTS_RUN

try:  # the plugin loads for every pytest run where run-lifecycle is installed
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover - hypothesis is a test extra
    pass
else:
    settings.register_profile("run-lifecycle-fast", max_examples=50)
    settings.register_profile(
        "run-lifecycle-ci",
        max_examples=500,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


@pytest.fixture
def lifecycle_spec() -> LifecycleSpec[Any]:
    """The lifecycle table the tests run against."""
    return ASSISTANTS_RUN


@pytest.fixture
def make_lifecycle(lifecycle_spec: LifecycleSpec[Any]) -> Callable[..., RunLifecycle]:
    """A factory of fresh lifecycles on ``lifecycle_spec``."""

    def make(**kwargs: Any) -> RunLifecycle:
        return RunLifecycle(lifecycle_spec, **kwargs)

    return make
