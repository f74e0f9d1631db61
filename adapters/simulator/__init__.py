"""An Assistants- and Responses-compatible simulator: Starlette + uvicorn, or in-process (httpx2).

Runs follow scripted :class:`Scenario` s on an injectable clock, moved by the documented API
behaviour the simulator states once for itself (``_behaviour.py``; it never reads the core's
transition table, so it can catch a wrong one). ``/v1/responses`` plays the same scenarios
across a chain of responses (``_responses_behaviour.py``): a ``CallTools`` step completes a
response with ``function_call`` items, and the next response, created with
``previous_response_id`` and the outputs, plays on (:meth:`Simulator.response_chain` records what
each received); a ``RequestApproval`` step asks the client to approve remote MCP tools
(``mcp_approval_request``), runs the approved ones in the next response (``mcp_call``,
:meth:`Simulator.mcp_runs`) and never the rejected ones; background and foreground, SSE
with ``sequence_number`` and resume, cancel, and signed webhooks
(:mod:`adapters.simulator.webhooks`). Faults are scripted per request; :class:`StatusScript` s
serve misbehaving run objects (breaking the API's rules on purpose) for fault-injection tests.
The real ``openai`` SDK is the client::

    sim = Simulator(clock=None, default_scenario="order-total", profile="reference")
    with SimulatorServer(sim) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-sim-test")
    client = openai.OpenAI(base_url="http://simulator.local/v1", api_key="sk-sim",
                           http_client=sim.http_client())

A :class:`ServerProfile` (``profile="no-sse"``, see :data:`PROFILES`) makes the server answer
unlike the controller expects: poll-after headers on some responses only or none, no SSE, garbage
bodies, odd headers. It applies to both transports alike.

With a :class:`ManualClock`, nothing happens until the test advances the clock; an SSE stream
then sends what became due and waits (or, with ``ManualClock(autoadvance=s)``, moves the clock by
``s`` each time it finds nothing new, so a stream read from the test thread still progresses).
"""

from __future__ import annotations

from adapters.simulator._asgi import RequestRecord
from adapters.simulator._clock import Clock, ManualClock, system_clock
from adapters.simulator._responses_records import ChainEntry, McpDecision, McpRequest, McpRun
from adapters.simulator._simulator import PollAfter, Simulator
from adapters.simulator.faults import Fault, FaultSet
from adapters.simulator.profiles import (
    ALL_OPS,
    ALL_RESPONSE_OPS,
    ALL_RUN_OPS,
    PROFILES,
    ServerProfile,
)
from adapters.simulator.scenarios import (
    SCENARIOS,
    Answer,
    CallTools,
    CancelBehaviour,
    EndIncomplete,
    Fail,
    Hang,
    McpToolSpec,
    Queue,
    RequestApproval,
    Scenario,
    SubmittedOutput,
    ToolCallSpec,
    Work,
)
from adapters.simulator.scripts import (
    SCRIPTS,
    Advance,
    ScriptCall,
    ScriptRead,
    StatusScript,
    Step,
)
from adapters.simulator.server import SimulatorServer, serve
from adapters.simulator.webhooks import WebhookDelivery, WebhookSender, new_secret, sign

__all__ = [
    "ALL_OPS",
    "ALL_RESPONSE_OPS",
    "ALL_RUN_OPS",
    "PROFILES",
    "SCENARIOS",
    "SCRIPTS",
    "Advance",
    "Answer",
    "CallTools",
    "CancelBehaviour",
    "ChainEntry",
    "Clock",
    "EndIncomplete",
    "Fail",
    "Fault",
    "FaultSet",
    "Hang",
    "ManualClock",
    "McpDecision",
    "McpRequest",
    "McpRun",
    "McpToolSpec",
    "PollAfter",
    "Queue",
    "RequestApproval",
    "RequestRecord",
    "Scenario",
    "ScriptCall",
    "ScriptRead",
    "ServerProfile",
    "Simulator",
    "SimulatorServer",
    "StatusScript",
    "Step",
    "SubmittedOutput",
    "ToolCallSpec",
    "WebhookDelivery",
    "WebhookSender",
    "Work",
    "new_secret",
    "serve",
    "sign",
    "system_clock",
]
