"""The sides of ``bench_chains``: the hand-written SDK loop, our controllers (sync, async,
streaming) and the SDK's foreground ``ResponsesToolRunner``, each a driver of one chain."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import openai

from benchmarks._chains_workload import (
    API_KEY,
    INSTRUCTIONS,
    LOOP_GUARD_S,
    LOOPS,
    MODEL,
    QUESTION,
    RUNNER_SIDE,
    TOOL_DEFINITIONS,
    Tools,
    make_registry,
)

__all__ = ["Driver", "Ended", "Side", "hand_loop", "make_side", "runner_refusal"]

# -- the sides ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ended:
    """How one chain ended, as its side saw it."""

    status: str
    answer: str
    response_ids: tuple[str, ...]


Driver = Callable[[str], Ended]
"""Drive one chain of the named scenario to its end."""


def hand_loop(
    client: openai.OpenAI,
    *,
    interval: float,
    functions: dict[str, Callable[..., str]],
    model: str,
    input: str,
    instructions: str,
    metadata: dict[str, str],
) -> Ended:
    """The loop a careful user writes with the SDK alone: background create, sleep-then-retrieve
    polling at a fixed ``interval``, the calls run one after another, the next response created
    with ``previous_response_id`` and one ``function_call_output`` per call."""
    common: dict[str, Any] = {
        "model": model,
        "instructions": instructions,
        "tools": TOOL_DEFINITIONS,
        "metadata": metadata,
        "background": True,
    }
    response = client.responses.create(input=input, **common)
    ids = [response.id]
    give_up = time.monotonic() + LOOP_GUARD_S
    while True:
        while response.status in ("queued", "in_progress"):
            if time.monotonic() > give_up:
                raise TimeoutError(f"response {response.id} still {response.status}")
            time.sleep(interval)
            response = client.responses.retrieve(response.id)
        calls = [item for item in response.output if item.type == "function_call"]
        if response.status != "completed" or not calls:
            return Ended(str(response.status), response.output_text, tuple(ids))
        outputs: list[Any] = [
            {
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": functions[call.name](**json.loads(call.arguments)),
            }
            for call in calls
        ]
        response = client.responses.create(
            previous_response_id=response.id, input=outputs, **common
        )
        ids.append(response.id)


def loop_driver(client: openai.OpenAI, tools: Tools, interval: float) -> Driver:
    """A hand-written loop side."""
    functions = tools.functions()

    def drive(scenario: str) -> Ended:
        return hand_loop(
            client,
            interval=interval,
            functions=functions,
            model=MODEL,
            input=QUESTION,
            instructions=INSTRUCTIONS,
            metadata={"scenario": scenario},
        )

    return drive


def controller_driver(client: openai.OpenAI, tools: Tools, *, stream: bool) -> Driver:
    """``ResponseController`` (polling or streaming), default config."""
    from adapters.openai import ResponseController

    controller = ResponseController(client, tools=make_registry(tools), stream=stream)

    def drive(scenario: str) -> Ended:
        out = controller.run(
            model=MODEL,
            input=QUESTION,
            instructions=INSTRUCTIONS,
            metadata={"scenario": scenario},
        )
        return Ended(str(out.status), out.output_text, tuple(out.response_ids))

    return drive


class AsyncSide:
    """``AsyncResponseController`` on one event loop kept for the whole profile."""

    def __init__(self, base_url: str, tools: Tools) -> None:
        from adapters.openai import AsyncResponseController

        self.loop = asyncio.Runner()
        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY)
        self.controller = AsyncResponseController(self.client, tools=make_registry(tools))

    def drive(self, scenario: str) -> Ended:
        """Drive one chain on the side's loop."""
        out = self.loop.run(
            self.controller.run(
                model=MODEL,
                input=QUESTION,
                instructions=INSTRUCTIONS,
                metadata={"scenario": scenario},
            )
        )
        return Ended(str(out.status), out.output_text, tuple(out.response_ids))

    def close(self) -> None:
        """Close the client on its loop, then the loop."""
        self.loop.run(self.client.close())
        self.loop.close()


def runner_driver(client: openai.OpenAI, tools: Tools) -> Driver:
    """The SDK's ``ResponsesToolRunner``, foreground (the only mode it accepts)."""
    from openai.lib.responses_tool_runner import RegisteredFunction, ResponsesToolRunner

    functions = tools.functions()

    def executor(name: str) -> Callable[[dict[str, Any]], str]:
        return lambda args: functions[name](**args)

    registered = [
        RegisteredFunction(tool=cast(Any, definition), execute=executor(definition["name"]))
        for definition in TOOL_DEFINITIONS
    ]
    runner = ResponsesToolRunner(functions=registered)

    def drive(scenario: str) -> Ended:
        response = runner.run(
            client,
            {
                "model": MODEL,
                "input": QUESTION,
                "instructions": INSTRUCTIONS,
                "metadata": {"scenario": scenario},
            },
        )
        return Ended(str(response.status), response.output_text, (response.id,))

    return drive


@dataclass
class Side:
    """One side on one profile: its client(s), its tools and its driver."""

    name: str
    tools: Tools
    drive: Driver


def runner_refusal(client: openai.OpenAI, tools: Tools, scenario: str) -> dict[str, Any]:
    """Try the foreground runner once on a tool scenario: what happens (not timed)."""
    try:
        response = runner_driver(client, tools)(scenario)
    except Exception as exc:  # the benchmark records what the runner raised
        cause = exc.__context__ or exc.__cause__
        return {
            "comparable": False,
            "raised": f"{type(exc).__name__}: {exc}",
            "cause": f"{type(cause).__name__}: {cause}" if cause is not None else None,
        }
    return {"comparable": True, "status": response.status, "answer": response.answer}


def make_side(
    name: str,
    client: Callable[[], openai.OpenAI],
    base_url: str,
    stack: contextlib.ExitStack,
    tool_seconds: float,
) -> Side:
    """One side with its own client (``client()`` makes one, closed with ``stack``) and tools."""
    tools = Tools(tool_seconds)
    if name == "controller-async":
        async_side = AsyncSide(base_url, tools)
        stack.callback(async_side.close)
        return Side(name, tools, async_side.drive)
    if name in LOOPS:
        return Side(name, tools, loop_driver(client(), tools, LOOPS[name]))
    if name == RUNNER_SIDE:
        return Side(name, tools, runner_driver(client(), tools))
    stream = name == "controller-stream"
    return Side(name, tools, controller_driver(client(), tools, stream=stream))
