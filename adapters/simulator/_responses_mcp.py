"""MCP approval requests on ``/v1/responses``: the answers' checks and the simulated tool runs.

Theory of operation
-------------------
A :class:`~adapters.simulator.RequestApproval` step completes a response with one
``mcp_approval_request`` item per :class:`~adapters.simulator.McpToolSpec`
(:func:`request_approval`, called by the response player). The client answers by creating the
next response with ``previous_response_id`` and one ``mcp_approval_response`` input item per
request; :func:`match` checks that answer (rule 9 of ``_responses_behaviour.py``: every request
answered exactly once, nothing unknown, no ``function_call_output`` for a request, no second run
of a tool that already ran) and turns it into :class:`DecisionRecord` s held by the new response.

An approved tool "runs" on the server when the new response is picked up (``in_progress``):
:func:`run_approved` puts its ``mcp_call`` item (``output`` the spec's rendered output,
``approval_request_id`` the request) first in the response's output and logs an
:class:`McpRun`. So a response cancelled while still queued never ran its tools (the requests may
be answered again by a retry), and a request's tool runs at most once however often it is
answered: the run marks the request (``ApprovalRecord.ran_in``) and a later approval of it is
refused. A rejected request never runs; the model sees ``not approved: <reason>``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.simulator import _responses_behaviour as api
from adapters.simulator._records import ApiError
from adapters.simulator._responses_records import (
    ApprovalRecord,
    DecisionRecord,
    McpRun,
    ResponseRecord,
    mcp_output,
)
from adapters.simulator.scenarios import RequestApproval

__all__ = ["RESPONSE_ITEM", "check_item", "match", "request_approval", "run_approved"]

Json = dict[str, Any]
#: the input item that answers an approval request
RESPONSE_ITEM = "mcp_approval_response"


def check_item(item: Json, index: int) -> None:
    """Validate one ``mcp_approval_response`` input item as the API types it.

    Raises:
        ApiError: 400 for a missing or mistyped ``approval_request_id``, ``approve`` or
            ``reason``.
    """
    for name, kind, required in (
        ("approval_request_id", str, True),
        ("approve", bool, True),
        ("reason", str, False),
    ):
        param = f"input[{index}].{name}"
        value = item.get(name)
        if value is None:
            if required:
                raise ApiError(
                    400,
                    f"Missing required parameter: '{param}'.",
                    param=param,
                    code="missing_required_parameter",
                )
            continue
        if not isinstance(value, kind):
            expected = "a boolean" if kind is bool else "a string"
            raise ApiError(
                400,
                f"Invalid type for '{param}': expected {expected}, but got "
                f"{type(value).__name__} instead.",
                param=param,
                code="invalid_type",
            )


def match(
    prev: ResponseRecord, decided: list[Json], outputs: list[Json]
) -> tuple[DecisionRecord, ...]:
    """One decision per approval request of ``prev``, in request order (rule 9).

    Args:
        prev: the previous response, completed with approval requests.
        decided: the request's ``mcp_approval_response`` items.
        outputs: the request's ``function_call_output`` items (each one is refused).

    Raises:
        ApiError: 400 for each refusal of rule 9.
    """
    requests = {a.id: a for a in prev.approvals}
    for item in outputs:
        call_id = str(item["call_id"])
        text = api.output_for_approval(call_id) if call_id in requests else None
        raise ApiError(400, text or api.no_tool_call(call_id), param="input")
    ids = [str(item["approval_request_id"]) for item in decided]
    for request_id in requests:
        if request_id not in ids:
            raise ApiError(400, api.no_approval_response(request_id), param="input")
    for request_id in ids:
        if request_id not in requests:
            raise ApiError(400, api.no_approval_request(request_id), param="input")
    for request_id in ids:
        if ids.count(request_id) > 1:
            raise ApiError(400, api.duplicate_approval(request_id), param="input")
    decisions: list[DecisionRecord] = []
    for item in decided:
        request = requests[str(item["approval_request_id"])]
        if item["approve"] and request.ran_in is not None:
            raise ApiError(400, api.approval_already_ran(request.id, request.ran_in), param="input")
        reason = item.get("reason")
        decisions.append(DecisionRecord(request, bool(item["approve"]), reason))
    return tuple(decisions)


def request_approval(
    resp: ResponseRecord, step: RequestApproval, new_id: Callable[[str], str]
) -> None:
    """Add one ``mcp_approval_request`` item per request of ``step`` (streamed as
    ``output_item.added`` and ``output_item.done``)."""
    for spec in step.requests:
        request = ApprovalRecord(new_id("mcpr"), spec)
        index = len(resp.output)
        resp.emit("response.output_item.added", output_index=index, item=request.payload())
        resp.output.append(request.payload())
        resp.emit("response.output_item.done", output_index=index, item=request.payload())
        resp.approvals.append(request)


def _mcp_call(request: ApprovalRecord, call_id: str, status: str, output: str | None) -> Json:
    """The ``mcp_call`` output item (SDK ``McpCall``) of an approved request's run."""
    spec = request.spec
    return {
        "type": "mcp_call",
        "id": call_id,
        "server_label": spec.server_label,
        "name": spec.name,
        "arguments": spec.arguments,
        "output": output,
        "error": None,
        "status": status,
        "approval_request_id": request.id,
    }


def run_approved(
    resp: ResponseRecord, at: float, new_id: Callable[[str], str], log: list[McpRun]
) -> None:
    """Run every approved tool of ``resp`` not run yet (ever): its ``mcp_call`` item, streamed
    as ``output_item.added``, ``mcp_call.in_progress``, ``mcp_call.completed`` and
    ``output_item.done``, and an entry in ``log``."""
    for decision in resp.decisions:
        request = decision.request
        if not decision.approve or request.ran_in is not None:
            continue
        spec, call_id, index = request.spec, new_id("mcp"), len(resp.output)
        output = mcp_output(spec)
        request.ran_in, decision.mcp_call_id = resp.id, call_id

        where: Json = {"item_id": call_id, "output_index": index}
        started = _mcp_call(request, call_id, api.IN_PROGRESS, None)
        resp.emit("response.output_item.added", output_index=index, item=started)
        resp.emit("response.mcp_call.in_progress", **where)
        resp.emit("response.mcp_call.completed", **where)
        resp.output.append(_mcp_call(request, call_id, api.COMPLETED, output))
        done = _mcp_call(request, call_id, api.COMPLETED, output)
        resp.emit("response.output_item.done", output_index=index, item=done)
        log.append(
            McpRun(
                call_id,
                request.id,
                resp.id,
                spec.server_label,
                spec.name,
                spec.arguments,
                output,
                at,
            )
        )
