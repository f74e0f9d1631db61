"""The bare side of ``bench_scale``: one run driven with ``AsyncOpenAI`` directly, as a careful
user would (the poll-after header honoured, a round's calls run concurrently, all outputs
submitted at once)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

import openai

from benchmarks._observe import ToolLog

__all__ = ["TERMINAL", "bare_run"]

#: what the bare loop treats as the end of a run (the API's terminal statuses)
TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})


def _poll_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("openai-poll-after-ms")
    if value is None:
        return None
    try:
        return max(0.0, float(value) / 1000)
    except ValueError:
        return None


async def bare_run(
    client: openai.AsyncOpenAI, thread_id: str, assistant_id: str, log: ToolLog
) -> str:
    """Drive one run with the SDK directly, as a careful user would; return the run id.

    Polls with ``runs.retrieve`` as the server's ``openai-poll-after-ms`` says (at once when an
    answer carries none), runs a round's calls concurrently and submits all outputs at once.
    """
    runs = client.beta.threads.runs
    raw = await runs.with_raw_response.create(thread_id=thread_id, assistant_id=assistant_id)
    run = raw.parse()
    wait = _poll_after(raw.headers)
    while run.status not in TERMINAL:
        if run.status == "requires_action" and run.required_action is not None:
            calls = run.required_action.submit_tool_outputs.tool_calls
            results = await asyncio.gather(
                *(log.async_tool(**json.loads(call.function.arguments)) for call in calls)
            )
            raw = await runs.with_raw_response.submit_tool_outputs(
                run.id,
                thread_id=thread_id,
                tool_outputs=[
                    {"tool_call_id": call.id, "output": result}
                    for call, result in zip(calls, results, strict=True)
                ],
            )
        else:
            if wait:
                await asyncio.sleep(wait)
            raw = await runs.with_raw_response.retrieve(run.id, thread_id=thread_id)
        run = raw.parse()
        wait = _poll_after(raw.headers)
    return run.id
