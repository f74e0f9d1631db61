"""What the Responses API documents about responses, stated once, for the simulator alone.

Theory of operation
-------------------
The Assistants half of the simulator states its rules in ``_behaviour.py``; this module does the
same for ``/v1/responses``, for the same reason: the simulator is the independent witness a
response-chain controller is tested against, so it never reads the core's ``RESPONSE`` table,
its enums or views. Rules are plain strings and small sets; the response player
(``_responses_play.py``) and the response engine (``_responses_engine.py``) read only this module
and the scenarios. A test checks that the vocabulary here equals the core's ``ResponseStatus``
(names only, never moves).

Sources (short names used below):

* SDK: ``openai`` 3.57.0 types (``types/responses/response.py``, ``response_status.py``, the
  ``ResponseStreamEvent`` union, ``types/webhooks/response_*_webhook_event.py``) and the
  ``responses.cancel`` docstring.
* GUIDE: the background-mode guide ("Keep polling while the request is in the queued or
  in_progress state").
* OBSERVED: error texts quoted from the real server in client issue threads; COMPATIBLE: what
  compatible servers (vLLM, sglang) answer where OpenAI's own answer is not known.
* SIM: a choice of the simulator where neither is known; each says so.

The rules, in the order a response meets them:

1. A background response (``background=true``) is created ``queued``; a foreground one is
   created ``in_progress`` and answered only when it has finished (GUIDE, SDK events).
2. The server picks a queued response up: ``in_progress`` (GUIDE).
3. A response ends ``completed``, ``failed`` (with ``error``), ``incomplete`` (with
   ``incomplete_details.reason``) or ``cancelled`` (SDK ``ResponseStatus``). There is no
   ``requires_action``: a response that calls tools *completes* with ``function_call`` output
   items, and the client answers by creating the next response with ``previous_response_id`` and
   one ``function_call_output`` per ``call_id`` (SDK ``ResponseFunctionToolCall``).
4. A next response must answer every ``function_call`` of its previous response (OBSERVED
   ``No tool output found for function call X.``) and only those (OBSERVED ``No tool call found
   for function call output with call_id X.``), both 400 with ``param: "input"``.
5. An unknown ``previous_response_id`` is 400 ``previous_response_not_found`` (OBSERVED, and the
   WebSocket-mode docs list it as a 400): the request is invalid, not the URL. It cannot be given
   with ``conversation`` (SDK docstring; OBSERVED ``mutually_exclusive_parameters``).
6. Only a background response can be cancelled (SDK docstring); a foreground one is 400
   ``Cannot cancel a synchronous response.`` (COMPATIBLE, vLLM/sglang). A cancel moves a queued or
   in-progress response straight to ``cancelled`` (no ``cancelling``). A cancel of a finished
   background response returns it unchanged (COMPATIBLE; the ``cancel-400-forks`` profile
   answers 400 instead, so clients are tested both ways).
7. A stream (``stream=true``) numbers its events from 0 (``sequence_number``) and ends after
   ``response.completed``, ``response.failed`` or ``response.incomplete``; there is **no**
   ``response.cancelled`` stream event (SDK union): a cancelled response's stream just ends.
   ``GET /responses/{id}?stream=true&starting_after=N`` replays from ``N + 1`` (SDK docstring).
8. Webhooks ``response.completed|failed|cancelled|incomplete`` are sent for background responses
   (SDK ``types/webhooks``: "Sent when a background response has been ...").
9. A remote MCP tool that needs approval completes the response with an
   ``mcp_approval_request`` item (SDK ``McpApprovalRequest``); the client answers in the next
   response with an ``mcp_approval_response`` input item naming its ``approval_request_id``
   (SDK ``McpApprovalResponse``). On approval the server runs the tool and the next response's
   output carries an ``mcp_call`` item with its ``output`` and ``approval_request_id`` (SDK
   ``McpCall``; stream events ``response.mcp_call.in_progress|completed``); on a rejection no
   ``mcp_call`` runs. The 400s for a missing, unknown or repeated answer, or a
   ``function_call_output`` for an approval request, are SIM wording modelled on rule 4's; so
   is running an approved tool at most once per request, ever.
"""

from __future__ import annotations

__all__ = [
    "CANCELLABLE",
    "CANCELLED",
    "COMPLETED",
    "ENDS_STREAM",
    "FAILED",
    "INCOMPLETE",
    "INCOMPLETE_REASON",
    "IN_PROGRESS",
    "QUEUED",
    "RESPONSE_STATUSES",
    "TERMINAL",
    "WEBHOOK_EVENTS",
    "already_answered",
    "approval_already_ran",
    "cannot_cancel_finished",
    "cannot_cancel_synchronous",
    "conversation_not_found",
    "duplicate_approval",
    "duplicate_output",
    "mutually_exclusive",
    "no_approval_request",
    "no_approval_response",
    "no_tool_call",
    "no_tool_output",
    "output_for_approval",
    "previous_not_finished",
    "previous_not_found",
    "response_not_found",
]

# -- the status vocabulary (SDK ``ResponseStatus``) -----------------------------------------------

QUEUED = "queued"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
INCOMPLETE = "incomplete"

#: every response status the API documents
RESPONSE_STATUSES = frozenset({QUEUED, IN_PROGRESS, COMPLETED, FAILED, CANCELLED, INCOMPLETE})

# -- the rules ------------------------------------------------------------------------------------

#: rule 3: nothing happens to a response after these (GUIDE: "a final (terminal) state")
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED, INCOMPLETE})
#: rule 6: where a cancel of a background response takes effect (straight to ``cancelled``)
CANCELLABLE = frozenset({QUEUED, IN_PROGRESS})
#: rule 7: a stream ends after the ``response.<status>`` event of one of these
ENDS_STREAM = frozenset({COMPLETED, FAILED, INCOMPLETE})
#: rule 8: the webhook event type sent when a background response enters a terminal status
WEBHOOK_EVENTS = {status: f"response.{status}" for status in TERMINAL}
#: the scenarios' (Assistants) incomplete reasons as a response reports them: the Responses API
#: knows only ``max_output_tokens`` of the two (SDK ``IncompleteDetails.reason``)
INCOMPLETE_REASON = {
    "max_completion_tokens": "max_output_tokens",
    "max_prompt_tokens": "max_output_tokens",
}

# -- the server's wording -------------------------------------------------------------------------


def response_not_found(response_id: str) -> str:
    """The 404 for an unknown (or deleted) response id (SIM wording)."""
    return f"Response with id '{response_id}' not found."


def previous_not_found(response_id: str) -> str:
    """Rule 5: the 400 (``previous_response_not_found``) for an unknown previous response."""
    return f"Previous response with id '{response_id}' not found."


def previous_not_finished(response_id: str, status: str) -> str:
    """The 400 for a ``previous_response_id`` whose response has not finished (SIM wording)."""
    return (
        f"Previous response with id '{response_id}' is still {status}; "
        "wait for it to finish before continuing it."
    )


def no_tool_output(call_id: str) -> str:
    """Rule 4: the 400 for a next response that leaves a function call unanswered."""
    return f"No tool output found for function call {call_id}."


def no_tool_call(call_id: str) -> str:
    """Rule 4: the 400 for an output whose ``call_id`` the previous response did not call."""
    return f"No tool call found for function call output with call_id {call_id}."


def duplicate_output(call_id: str) -> str:
    """The 400 for two outputs with the same ``call_id`` in one request (SIM wording)."""
    return f"Duplicate function call output for call_id {call_id}."


def no_approval_response(request_id: str) -> str:
    """Rule 9: the 400 for a next response that leaves an MCP approval request unanswered."""
    return f"No approval response found for MCP approval request {request_id}."


def no_approval_request(request_id: str) -> str:
    """Rule 9: the 400 for an approval response whose request the previous response lacks."""
    return (
        "No MCP approval request found for approval response with "
        f"approval_request_id {request_id}."
    )


def duplicate_approval(request_id: str) -> str:
    """Rule 9: the 400 for two approval responses to one request in one request."""
    return f"Duplicate MCP approval response for approval_request_id {request_id}."


def output_for_approval(call_id: str) -> str:
    """Rule 9: the 400 for a ``function_call_output`` that names an MCP approval request."""
    return (
        f"{call_id} is an MCP approval request, not a function call; answer it with an "
        "mcp_approval_response."
    )


def approval_already_ran(request_id: str, response_id: str) -> str:
    """Rule 9: the 400 for approving a request whose tool already ran (at most once, SIM)."""
    return (
        f"MCP approval request {request_id} was already approved; its tool ran in response "
        f"'{response_id}'."
    )


def already_answered(response_id: str, answer_id: str) -> str:
    """The 400 for a second live answer to the same previous response (SIM, strict default)."""
    return (
        f"Previous response with id '{response_id}' was already answered by response '{answer_id}'."
    )


def mutually_exclusive() -> str:
    """Rule 5: ``previous_response_id`` together with ``conversation``."""
    return (
        "Mutually exclusive parameters. Ensure you are only providing one of: "
        "'previous_response_id' or 'conversation'."
    )


def conversation_not_found(conversation_id: str) -> str:
    """The 404-like 400 for a ``conversation``: the simulator serves no conversations (SIM)."""
    return f"Conversation with id '{conversation_id}' not found."


def cannot_cancel_synchronous() -> str:
    """Rule 6: the 400 for cancelling a foreground response (COMPATIBLE wording)."""
    return "Cannot cancel a synchronous response."


def cannot_cancel_finished(status: str) -> str:
    """Rule 6, ``cancel-400-forks`` profile: the 400 for cancelling a finished response."""
    return f"Cannot cancel a response that is already {status}."
