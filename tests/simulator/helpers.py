"""Shared helpers: strict SDK validation and a small manual-clock driver for runs."""

from __future__ import annotations

from typing import Any

import openai
from openai.types.beta.threads import Run

from adapters.simulator import ManualClock

#: the statuses where nothing more happens to a run (Assistants docs, "Run lifecycle")
TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})


def strict_run(payload: dict[str, Any]) -> Run:
    """Validate a raw run payload with the SDK type, strictly, and with no unknown fields."""
    run = Run.model_validate(payload, strict=True)
    assert not run.model_extra, run.model_extra
    return run


def retrieve(client: openai.OpenAI, thread_id: str, run_id: str) -> tuple[Run, dict[str, str]]:
    """Retrieve a run through the SDK; return it (strictly validated) and the response headers."""
    raw = client.beta.threads.runs.with_raw_response.retrieve(run_id, thread_id=thread_id)
    return strict_run(raw.http_response.json()), dict(raw.headers)


def drive(
    client: openai.OpenAI,
    clock: ManualClock,
    thread_id: str,
    run_id: str,
    *,
    output: str = "42",
    step: float = 0.01,
    max_polls: int = 500,
) -> list[Run]:
    """Poll a run to a terminal status on the manual clock, submitting ``output`` for every call.

    Returns every distinct observation (status changes), each strictly validated.
    """
    seen: list[Run] = []
    for _ in range(max_polls):
        run, _ = retrieve(client, thread_id, run_id)
        if not seen or seen[-1].status != run.status:
            seen.append(run)
        if run.status in TERMINAL:
            return seen
        if run.status == "requires_action":
            assert run.required_action is not None
            calls = run.required_action.submit_tool_outputs.tool_calls
            raw = client.beta.threads.runs.with_raw_response.submit_tool_outputs(
                run_id,
                thread_id=thread_id,
                tool_outputs=[{"tool_call_id": c.id, "output": output} for c in calls],
            )
            strict_run(raw.http_response.json())
        clock.advance(step)
    raise AssertionError(f"run {run_id} did not finish in {max_polls} polls")
