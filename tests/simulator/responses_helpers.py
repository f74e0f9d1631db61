"""Shared helpers for the ``/v1/responses`` tests: strict SDK validation and a chain driver."""

from __future__ import annotations

from typing import Any

import openai
import pydantic
from openai.types.responses import Response

from adapters.simulator import ManualClock

#: the statuses where nothing more happens to a response (``ResponseStatus``)
TERMINAL = frozenset({"completed", "failed", "cancelled", "incomplete"})
POLL = "openai-poll-after-ms"
#: a function tool, as the client declares it
ORDER_TOOL: Any = {
    "type": "function",
    "name": "calculate_order_total",
    "parameters": {"type": "object", "properties": {"items": {"type": "array"}}},
}


def _extras(model: object, where: str = "response") -> list[str]:
    """Every field the SDK type does not know, anywhere in ``model`` (``where`` names it)."""
    found: list[str] = []
    if isinstance(model, pydantic.BaseModel):
        found += [f"{where}.{k}" for k in model.model_extra or {}]
        for name in type(model).model_fields:
            found += _extras(getattr(model, name), f"{where}.{name}")
    elif isinstance(model, list):
        for i, item in enumerate(model):
            found += _extras(item, f"{where}[{i}]")
    return found


def strict_response(payload: dict[str, Any]) -> Response:
    """Validate a raw response payload with the SDK type, strictly, with no unknown fields."""
    response = Response.model_validate(payload, strict=True)
    assert _extras(response) == []
    return response


def retrieve(client: openai.OpenAI, response_id: str) -> tuple[Response, dict[str, str]]:
    """Retrieve a response through the SDK: strictly validated, and the answer's headers."""
    raw = client.responses.with_raw_response.retrieve(response_id)
    return strict_response(raw.http_response.json()), dict(raw.headers)


def answers(response: Response, output: str = "42") -> list[Any]:
    """One ``function_call_output`` per function call of ``response``, each ``output``."""
    return [
        {"type": "function_call_output", "call_id": item.call_id, "output": output}
        for item in response.output
        if item.type == "function_call"
    ]


def wait(
    client: openai.OpenAI,
    clock: ManualClock,
    response_id: str,
    *,
    step: float = 0.01,
    max_polls: int = 500,
) -> Response:
    """Poll a response until it is terminal, moving the manual clock ``step`` between polls."""
    for _ in range(max_polls):
        response, _ = retrieve(client, response_id)
        if response.status in TERMINAL:
            return response
        clock.advance(step)
    raise AssertionError(f"response {response_id} did not finish in {max_polls} polls")


def drive_chain(
    client: openai.OpenAI,
    clock: ManualClock,
    scenario: str | None,
    *,
    output: str = "42",
    max_rounds: int = 10,
) -> list[Response]:
    """Play a background chain to its end: create, poll, answer every call, repeat.

    Returns:
        The final read of every response of the chain, first first.
    """
    metadata = {"scenario": scenario} if scenario else None
    created = client.responses.create(
        model="gpt-sim", input="How much is my order?", background=True, metadata=metadata
    )
    chain = [wait(client, clock, created.id)]
    for _ in range(max_rounds):
        last = chain[-1]
        calls = answers(last, output)
        if last.status != "completed" or not calls:
            return chain
        nxt = client.responses.create(
            model="gpt-sim",
            previous_response_id=last.id,
            input=calls,
            background=True,
            tools=[ORDER_TOOL],
        )
        chain.append(wait(client, clock, nxt.id))
    raise AssertionError("the chain did not end")
