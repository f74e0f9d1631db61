"""Thread safety basics: many clients at once against one served simulator."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from adapters.simulator import SimulatorServer

pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")


def test_parallel_runs_on_one_server(served: SimulatorServer) -> None:
    """Eight threads drive eight runs at once; every run completes, ids are unique, all logged."""
    with openai.OpenAI(base_url=served.base_url, api_key="k", max_retries=0) as client:
        asst = client.beta.assistants.create(model="m", metadata={"scenario": "order-total"})
        before = served.sim.request_count("POST", "/v1/threads/*/runs")

        def one(i: int) -> tuple[str, str]:
            thread = client.beta.threads.create(messages=[{"role": "user", "content": f"#{i}"}])
            run = client.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=asst.id
            )
            calls = run.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
            run = client.beta.threads.runs.submit_tool_outputs_and_poll(
                run_id=run.id,
                thread_id=thread.id,
                tool_outputs=[{"tool_call_id": c.id, "output": str(i)} for c in calls],
            )
            return run.id, run.status

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(one, range(8)))
    assert {status for _, status in results} == {"completed"}
    assert len({run_id for run_id, _ in results}) == 8
    assert served.sim.request_count("POST", "/v1/threads/*/runs") - before == 8
    for i, (run_id, _) in enumerate(results):
        assert served.sim.tool_outputs(run_id)[0][0].output == str(i)
