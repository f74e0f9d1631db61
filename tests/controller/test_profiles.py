"""The controller against every server profile: servers that do not share its assumptions.

Each scenario runs through both controllers (sync and async), polling and streaming, on every
profile of :data:`adapters.simulator.PROFILES` (no poll-after header on create and submit, none
at all, no SSE, garbage bodies every third read, odd headers with ``nan``/``inf``/negative
poll-after values). What must hold everywhere is behaviour, not timing: the run ends with its
scenario's status, nothing raises, each tool call runs exactly once and its output is delivered
exactly once, and the answer text is the scenario's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.openai import ControllerConfig
from adapters.simulator import PROFILES
from tests.controller.conftest import (
    AsyncDriver,
    Driver,
    SyncDriver,
    ToolBox,
    make_toolbox,
    open_env,
)

#: scenario -> (final status, the tools it calls, once each)
EXPECTED: dict[str, tuple[str, dict[str, int]]] = {
    "text": ("completed", {}),
    "order-total": ("completed", {"calculate_order_total": 1}),
    "two-rounds": ("completed", {"lookup_prices": 1, "calculate_order_total": 1}),
    "fails": ("failed", {}),
    "incomplete": ("incomplete", {}),
}
#: a short poll interval keeps no-header profiles fast in simulated time; the rest is default
CONFIG = ControllerConfig(poll_interval_s=0.2)


def _driver(kind: str, env: Any, box: ToolBox, stream: bool) -> Driver:
    cls = SyncDriver if kind == "sync" else AsyncDriver
    return cls(env, box.registry, config=CONFIG, stream=stream)


@pytest.mark.parametrize("stream", [False, True], ids=["poll", "stream"])
@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_scenario_ends_right_on_every_profile(profile: str, kind: str, stream: bool) -> None:
    with open_env(profile) as env:
        for scenario, (status, tools) in EXPECTED.items():
            box = make_toolbox()
            driver = _driver(kind, env, box, stream)
            outcome = driver.run(scenario)
            where = f"{profile}/{kind}/{'stream' if stream else 'poll'}/{scenario}"
            assert outcome.status == status, f"{where}: {outcome!r}"
            assert outcome.ending.kind.value in ("terminal",), where
            assert {n: box.count(n) for n in tools} == tools, where
            submitted = [o for rnd in env.sim.tool_outputs(outcome.run_id) for o in rnd]
            assert len(submitted) == sum(tools.values()), where
            assert {o.tool_call_id for o in submitted} == {t.id for t in outcome.tool_calls}
            assert all(t.state == "delivered" for t in outcome.tool_calls), where
            if stream and not PROFILES[profile].sse:
                assert outcome.stream_fallbacks >= 1, where
            if scenario == "order-total":
                total = json.loads(submitted[0].output)
                assert f"{total}" in outcome.text, where
