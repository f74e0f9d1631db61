"""The Responses binding: a chain of background responses, driven like one run.

Theory of operation
-------------------
A run that uses tools is a *chain*: a background response completes with ``function_call``
items, the client runs them and creates the next background response with
``previous_response_id`` and one ``function_call_output`` per ``call_id``. The kernel drives the
chain with the ``RESPONSE_CHAIN`` table: a response that completed with calls is the chain's
``requires_action``; the "submit" is the create of the next response, whose id becomes the drive's
``run_id`` (``Capabilities.submit_starts_new_object``).

Every create of the chain is ``background=True`` and carries the chain's own arguments again
(``model``, ``instructions`` and ``tools`` are not carried over by ``previous_response_id``): the
ones given to the first create, or, for a chain resumed after a restart, those the last response
echoes. ``input`` is the user's input on the first create and only the outputs afterwards.

What the API does not let a client know shapes the rest (``Capabilities``):

* there is no ``responses.list`` and the SDK sends no idempotency key, so a create whose answer was
  lost (a timeout, a dropped connection, a 5xx) cannot be looked up: it is **never resent**. The
  first create raises to the caller (the create intent stays open in the store, tagged
  ``metadata.op_id``); a later one ends the drive ``outcome_unknown``;
* cancel works on a live background response and goes straight to ``cancelled``; while the chain
  waits for the client nothing runs on the server, so ending it there needs no request;
* a dropped stream is resumed after its last ``sequence_number`` (``starting_after``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from lifecycle._approval import MCP_APPROVAL
from lifecycle._dispatch import ToolOutput
from lifecycle._table import RESPONSE_CHAIN
from lifecycle.kernel._assistants_json import malformed
from lifecycle.kernel._binding import Capabilities, DriveApi, Flow, Observation, StreamItem
from lifecycle.kernel._errors import CallFailed, OutcomeUnknown
from lifecycle.kernel._messages import Failure, HttpRequest, SseEvent, StreamOpened
from lifecycle.kernel._responses_json import parse_body, parse_response_event

__all__ = ["CARRIED", "ResponsesBinding"]

#: the response fields every create of a chain sends again (read back from the last response
#: when the chain resumes without its first create's arguments)
CARRIED = (
    "model",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "temperature",
    "top_p",
    "max_output_tokens",
    "max_tool_calls",
    "reasoning",
    "text",
    "truncation",
    "metadata",
    "service_tier",
)


def _q(value: str) -> str:
    return quote(value, safe="")


class ResponsesBinding:
    """Responses API background chains over ``/responses``.

    Args:
        stream_timeout: the idle timeout of a streaming request, in seconds.
    """

    spec = RESPONSE_CHAIN
    capabilities = Capabilities(
        submit_starts_new_object=True,
        idle_while_awaiting=True,
        finds_lost_creates=False,
        checks_lost_submits=False,
    )

    def __init__(self, *, stream_timeout: float | None = None) -> None:
        self.stream_timeout = stream_timeout
        #: the chain's own create arguments (see the module docstring)
        self.carry: dict[str, Any] = {}

    # -- requests ------------------------------------------------------------------------------

    def retrieve(self, scope: str, run_id: str) -> HttpRequest:
        """``GET /responses/{id}``."""
        return HttpRequest("GET", f"/responses/{_q(run_id)}")

    def cancel(self, scope: str, run_id: str) -> HttpRequest:
        """``POST /responses/{id}/cancel`` (background responses only)."""
        return HttpRequest("POST", f"/responses/{_q(run_id)}/cancel", body={})

    def _create(self, body: dict[str, Any], *, stream: bool) -> HttpRequest:
        body["background"] = True
        if stream:
            body["stream"] = True
        timeout = self.stream_timeout if stream else None
        return HttpRequest("POST", "/responses", body=body, stream=stream, timeout=timeout)

    def submit(
        self,
        scope: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        stream: bool,
        last: Observation | None = None,
    ) -> HttpRequest:
        """The next response of the chain: ``previous_response_id`` and one
        ``function_call_output`` per call id (an ``mcp_approval_response`` per approval
        request), with the chain's arguments again."""
        carry = self.carry or _carried(last)
        calls = last.tool_calls if last is not None and last.tool_calls else ()
        approvals = {c.id for c in calls if c.kind == MCP_APPROVAL}
        body: dict[str, Any] = {
            **carry,
            "previous_response_id": run_id,
            "input": [_input_item(o, o.tool_call_id in approvals) for o in outputs],
        }
        return self._create(body, stream=stream)

    def state(self) -> dict[str, Any]:
        """The chain's create arguments (sent again with every response)."""
        return {"carry": dict(self.carry)}

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Take up the chain's create arguments from a checkpoint."""
        carry = state.get("carry")
        self.carry = dict(carry) if isinstance(carry, Mapping) else {}

    def resume_stream(self, scope: str, run_id: str, after: int) -> HttpRequest | None:
        """``GET /responses/{id}?stream=true&starting_after=N``: the events after ``after``."""
        return HttpRequest(
            "GET",
            f"/responses/{_q(run_id)}",
            query={"stream": "true", "starting_after": after},
            stream=True,
            timeout=self.stream_timeout,
        )

    def parse(self, body: bytes) -> Observation | Failure:
        """A response body as the chain's observation."""
        return parse_body(body)

    def parse_event(self, event: SseEvent) -> StreamItem:
        """A stream event of a background response."""
        return parse_response_event(event)

    # -- create ---------------------------------------------------------------------------------

    def op_id_from(self, args: Mapping[str, Any]) -> str | None:
        """A caller's own ``metadata.op_id``."""
        metadata = args.get("metadata")
        op_id = metadata.get("op_id") if isinstance(metadata, Mapping) else None
        return str(op_id) if op_id else None

    def create(self, api: DriveApi, args: Mapping[str, Any], op_id: str, *, stream: bool) -> Flow:
        """Create the chain's first response (tagged ``metadata.op_id``); a stream to consume,
        or ``None``. A lost answer is never resent (there is no way to look the response up).

        Raises:
            CallFailed: the create failed for good, or its outcome is unknown (the intent stays
                open; the failure says which).
        """
        metadata = {**dict(args.get("metadata") or {}), "op_id": op_id}
        self.carry = {k: v for k, v in args.items() if k in CARRIED}
        self.carry["metadata"] = metadata
        body = {**dict(args), "metadata": metadata}
        try:
            value = yield from api.call("create", self._create(body, stream=stream), mutating=True)
        except OutcomeUnknown as unknown:
            raise CallFailed(unknown.op, unknown.failure) from None
        if isinstance(value, StreamOpened):
            return value
        readable = yield from api.answered(value)
        if not readable:
            raise CallFailed("create", malformed("the create's answer is unreadable"))
        return None

    def find_created(self, api: DriveApi, op_id: str) -> Flow:
        """There is no ``responses.list``: a lost create cannot be found."""
        return False
        yield  # pragma: no cover - a generator

    def accepted_outputs(self, api: DriveApi, call_ids: Sequence[str]) -> Flow:
        """The API cannot tell (the drive never asks: ``checks_lost_submits`` is off)."""
        return None
        yield  # pragma: no cover - a generator

    def watch(self, api: DriveApi) -> Flow:
        """Nothing beyond the status to report."""
        return []
        yield  # pragma: no cover - a generator

    def messages(self, api: DriveApi) -> Flow:
        """The answer is in the last response itself (``output_text``)."""
        return []
        yield  # pragma: no cover - a generator


def _input_item(output: ToolOutput, approval: bool) -> dict[str, Any]:
    """The input item answering one call: its output, or the decision on an approval request."""
    call_id = output.tool_call_id
    if not approval:
        return {"type": "function_call_output", "call_id": call_id, "output": output.output}
    decision = json.loads(output.output)
    item: dict[str, Any] = {"type": "mcp_approval_response", "approval_request_id": call_id}
    item["approve"] = bool(decision.get("approve"))
    if decision.get("reason"):
        item["reason"] = str(decision["reason"])
    return item


def _carried(last: Observation | None) -> dict[str, Any]:
    """The chain's arguments as the last response echoes them (a resumed chain)."""
    if last is None:
        return {}
    payload = last.payload
    return {k: payload[k] for k in CARRIED if payload.get(k) is not None}
