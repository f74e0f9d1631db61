"""The simulator's ``/v1/responses`` state and operations: lazy, clock-driven, documented only.

Theory of operation
-------------------
The response engine sits next to the Assistants engine (``_engine.py``) and shares its lock,
clock, id generator and named scenarios. Nothing runs in the background: every operation first
advances the responses it touches to "now" through the
:class:`~adapters.simulator._responses_play.ResponsePlayer`.

What a create accepts is the documented behaviour stated in ``_responses_behaviour.py`` (``api``):

1. ``previous_response_id`` and ``conversation`` are mutually exclusive; the simulator serves no
   conversations, so a ``conversation`` alone is refused too (SIM).
2. ``input`` (a string or items) is required unless a previous response is named.
3. An unknown or deleted previous response is 400 ``previous_response_not_found``; one that has
   not finished is 400 (SIM wording: continuing a live response is not something the docs
   describe).
4. When the previous response ended with ``function_call`` items, the request must carry exactly
   one ``function_call_output`` per ``call_id`` (missing: ``No tool output found ...``; unknown:
   ``No tool call found ...``; twice in one request: 400, SIM). The new response then continues
   the chain's scenario at the step after the ``CallTools``, with every output of the turn
   available to the ``Answer``. Otherwise the request starts a new turn: the scenario (from
   ``metadata.scenario``, else the previous response's, else the default) plays from its start,
   and any ``function_call_output`` is unknown.
5. Answering the same previous response twice: the docs do not say what happens to function
   calls answered twice. By default the simulator refuses a second answer while an earlier one is
   live (queued, in progress or completed; an answer that failed, was cancelled or ended
   incomplete may be retried) with a 400; with ``forks=True`` (the ``cancel-400-forks``
   profile) each answer starts its own branch, as forking a conversation from any response does.
6. The scenario's name is carried along the chain (the client need not repeat the metadata); a
   name that is a status script is refused (status scripts serve Assistants runs only).
7. When the previous response ended with ``mcp_approval_request`` items, the request must carry
   exactly one ``mcp_approval_response`` per request and no ``function_call_output`` (checked
   by ``_responses_mcp.py``); rule 5 applies alike. The new response holds the decisions, runs
   the approved tools when it is picked up, and plays on at the step after the
   ``RequestApproval``. An ``mcp_approval_response`` anywhere else is unknown.

All methods must be called with the engine lock held (the HTTP layer does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from adapters.simulator import _responses_behaviour as api
from adapters.simulator import _responses_mcp as mcp
from adapters.simulator._records import ApiError
from adapters.simulator._requests import ResponseCreate
from adapters.simulator._responses_input import input_items, output_text
from adapters.simulator._responses_play import ResponsePlayer
from adapters.simulator._responses_records import (
    ChainEntry,
    ChainRecord,
    DecisionRecord,
    McpRun,
    ResponseRecord,
)
from adapters.simulator.scenarios import SubmittedOutput

if TYPE_CHECKING:
    from adapters.simulator._engine import Engine

__all__ = ["ResponsesEngine", "TerminalListener"]

Json = dict[str, Any]
#: called (engine lock held) when a background response enters a terminal status
TerminalListener = Callable[[ResponseRecord, str, float], None]
#: answers that no longer count as the live answer to their previous response (rule 5)
_RETRYABLE = frozenset({api.FAILED, api.CANCELLED, api.INCOMPLETE})


def _defaults(body: ResponseCreate) -> Json:
    """The echoed request fields of a ``Response``, defaulted as the API reports them."""
    tools = [
        {"description": None, "parameters": None, "strict": True, **tool}
        if tool.get("type") == "function"
        else tool
        for tool in body.tools or []
    ]
    return {
        "tools": tools,
        "tool_choice": body.tool_choice if body.tool_choice is not None else "auto",
        "parallel_tool_calls": body.parallel_tool_calls is not False,
        "max_output_tokens": body.max_output_tokens,
        "max_tool_calls": body.max_tool_calls,
        "temperature": body.temperature if body.temperature is not None else 1.0,
        "top_p": body.top_p if body.top_p is not None else 1.0,
        "top_logprobs": body.top_logprobs if body.top_logprobs is not None else 0,
        "truncation": body.truncation or "disabled",
        "text": body.text or {"format": {"type": "text"}, "verbosity": "medium"},
        "reasoning": body.reasoning or {"effort": None, "summary": None},
        "service_tier": body.service_tier or "default",
        "user": body.user,
        "safety_identifier": body.safety_identifier,
        "prompt_cache_key": body.prompt_cache_key,
        "conversation": None,
    }


class ResponsesEngine:
    """In-memory ``/v1/responses`` state; see the module docstring.

    Args:
        engine: the Assistants engine whose lock, clock, ids and scenarios are shared.

    Attributes:
        responses: every response by id (deleted ones stay, marked).
        listeners: called for every terminal status a background response enters.
        mcp_runs: every run of an approved MCP tool, oldest first.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.responses: dict[str, ResponseRecord] = {}
        self.listeners: list[TerminalListener] = []
        self.mcp_runs: list[McpRun] = []
        self.player = ResponsePlayer(engine.new_id, self._terminal, self.mcp_runs)

    def _terminal(self, resp: ResponseRecord, status: str, at: float) -> None:
        if resp.background:  # rule 8: webhooks are for background responses
            for listener in self.listeners:
                listener(resp, status, at)

    # -- lookups and the clock -------------------------------------------------------------------

    def get(self, response_id: str) -> ResponseRecord:
        """The response (advanced to now), or a 404 (also once deleted)."""
        resp = self.responses.get(response_id)
        if resp is None or resp.deleted:
            raise ApiError(404, api.response_not_found(response_id))
        self.advance(resp)
        return resp

    def advance(self, resp: ResponseRecord) -> None:
        """Play the response forward to the clock's current time."""
        if not resp.deleted:
            self.player.advance(resp, self.engine.clock())

    def advance_all(self) -> None:
        """Advance every response to now."""
        for resp in self.responses.values():
            self.advance(resp)

    def chain(self, response_id: str) -> list[ChainEntry]:
        """The chain through ``response_id``: back to its first response, then forward along
        the first answer of each response.

        Raises:
            KeyError: for an unknown response id.
        """
        resp = self.responses[response_id]
        lineage = [resp]
        while lineage[0].previous_response_id is not None:
            lineage.insert(0, self.responses[lineage[0].previous_response_id])
        while lineage[-1].answers:
            lineage.append(self.responses[lineage[-1].answers[0]])
        for rec in lineage:
            self.advance(rec)
        return [rec.entry() for rec in lineage]

    # -- operations ------------------------------------------------------------------------------

    def create(self, body: ResponseCreate, *, forks: bool = False) -> ResponseRecord:
        """Create a response (see the module docstring for what is refused).

        Args:
            body: the validated request.
            forks: whether a previous response may be answered more than once (rule 5).

        Raises:
            ApiError: 400 for each refusal of the module docstring.
        """
        if body.conversation is not None:
            if body.previous_response_id is not None:
                raise ApiError(400, api.mutually_exclusive(), code="mutually_exclusive_parameters")
            conv = body.conversation
            conv_id = conv if isinstance(conv, str) else str(conv.get("id"))
            raise ApiError(400, api.conversation_not_found(conv_id), param="conversation")
        items = input_items(body.input, self.engine.new_id)
        if not items and body.previous_response_id is None:
            raise ApiError(
                400,
                "Missing required parameter: 'input'.",
                param="input",
                code="missing_required_parameter",
            )
        prev = self._previous(body.previous_response_id)
        given = [i for i in items if i["type"] == "function_call_output"]
        decided = [i for i in items if i["type"] == mcp.RESPONSE_ITEM]
        decisions: tuple[DecisionRecord, ...] = ()
        if prev is not None and prev.status == api.COMPLETED and (prev.calls or prev.approvals):
            if prev.calls:
                received = results = self._match(prev, given, decided)
                self._answerable(prev, forks)
            else:  # rule 7 (a second live answer is refused first: its tools may have run)
                self._answerable(prev, forks)
                received, decisions = (), mcp.match(prev, decided, given)
                results = tuple(d.result() for d in decisions)
            chain, start = prev.chain, prev.step_index + 1
            rounds = (*prev.rounds, results)
        else:
            if given:
                raise ApiError(400, api.no_tool_call(given[0]["call_id"]), param="input")
            if decided:
                request_id = decided[0]["approval_request_id"]
                raise ApiError(400, api.no_approval_request(request_id), param="input")
            received, start, rounds = (), 0, ()
            chain = self._new_chain(body, prev)
        now = self.engine.clock()
        resp = ResponseRecord(
            id=self.engine.new_id("resp"),
            chain=chain,
            created_at=int(now),
            background=bool(body.background),
            model=body.model,
            instructions=body.instructions,
            metadata=body.metadata or {},
            previous_response_id=prev.id if prev is not None else None,
            options=_defaults(body),
            input_items=items,
            received=received,
            rounds=rounds,
            decisions=list(decisions),
            status=api.QUEUED if body.background else api.IN_PROGRESS,  # rule 1
            start_step=start,
            step_index=start,
            phase_start=now,
        )
        if not chain.id:
            chain.id = resp.id
        resp.history.append((resp.status, now))
        resp.emit("response.created", response=resp.payload())
        resp.emit(f"response.{resp.status}", response=resp.payload())
        self.responses[resp.id] = resp
        if prev is not None:
            prev.answers.append(resp.id)
        self.advance(resp)
        return resp

    def cancel(
        self, response_id: str, *, finished: Literal["return", "reject"] = "return"
    ) -> ResponseRecord:
        """Cancel a background response: straight to ``cancelled`` (rule 6).

        Args:
            response_id: the response.
            finished: what a cancel of a finished response does: return it unchanged (200), or
                ``"reject"`` it (400).

        Raises:
            ApiError: 404 for an unknown response; 400 for a foreground one, or (``reject``) a
                finished one.
        """
        resp = self.get(response_id)
        if not resp.background:
            raise ApiError(400, api.cannot_cancel_synchronous())
        if resp.terminal:
            if finished == "reject":
                raise ApiError(400, api.cannot_cancel_finished(resp.status))
            return resp
        now = self.engine.clock()
        self.player.move(resp, api.CANCELLED, now)
        behaviour = resp.chain.scenario.cancel
        lost = behaviour.outcome in api.TERMINAL - {api.CANCELLED}
        if lost and behaviour.confirm_after is not None:
            resp.flip_at, resp.flip_to = now + behaviour.confirm_after, behaviour.outcome
        return resp

    def delete(self, response_id: str) -> Json:
        """Delete a response: later reads and ``previous_response_id`` s do not find it.

        Raises:
            ApiError: 404 for an unknown (or already deleted) response.
        """
        resp = self.get(response_id)
        resp.deleted = True
        return {"id": resp.id, "object": "response", "deleted": True}

    # -- create's parts --------------------------------------------------------------------------

    def _previous(self, response_id: str | None) -> ResponseRecord | None:
        """The named previous response, finished (rule 3 of the module docstring)."""
        if response_id is None:
            return None
        prev = self.responses.get(response_id)
        if prev is None or prev.deleted:
            raise ApiError(
                400,
                api.previous_not_found(response_id),
                param="previous_response_id",
                code="previous_response_not_found",
            )
        self.advance(prev)
        if not prev.terminal:
            raise ApiError(
                400,
                api.previous_not_finished(prev.id, prev.status),
                param="previous_response_id",
            )
        return prev

    def _match(
        self, prev: ResponseRecord, given: list[Json], decided: list[Json]
    ) -> tuple[SubmittedOutput, ...]:
        """One output per call of ``prev``, in request order (rule 4); no approval answers."""
        if decided:
            request_id = decided[0]["approval_request_id"]
            raise ApiError(400, api.no_approval_request(request_id), param="input")
        calls = {c.call_id: c for c in prev.calls}
        ids = [str(item["call_id"]) for item in given]
        for call_id in calls:
            if call_id not in ids:
                raise ApiError(400, api.no_tool_output(call_id), param="input")
        for call_id in ids:
            if call_id not in calls:
                raise ApiError(400, api.no_tool_call(call_id), param="input")
        for call_id in ids:
            if ids.count(call_id) > 1:
                raise ApiError(400, api.duplicate_output(call_id), param="input")
        return tuple(
            SubmittedOutput(c.call_id, c.name, c.arguments, output_text(item.get("output", "")))
            for item in given
            for c in (calls[str(item["call_id"])],)
        )

    def _answerable(self, prev: ResponseRecord, forks: bool) -> None:
        """Refuse a second live answer to ``prev`` unless forks are allowed (rule 5)."""
        if forks:
            return
        for answer_id in prev.answers:
            answer = self.responses[answer_id]
            self.advance(answer)
            if not answer.deleted and answer.status not in _RETRYABLE:
                raise ApiError(
                    400, api.already_answered(prev.id, answer.id), param="previous_response_id"
                )

    def _new_chain(self, body: ResponseCreate, prev: ResponseRecord | None) -> ChainRecord:
        """The chain of a new turn: the scenario named, else the previous one's, else default."""
        name = (body.metadata or {}).get("scenario")
        if not name:
            name = prev.chain.scenario_name if prev is not None else self.engine.default_scenario
        if name in self.engine.scripts:
            raise ApiError(
                400,
                f"Simulator scenario '{name}' is a status script; status scripts serve "
                "Assistants runs only.",
                param="metadata.scenario",
                code="invalid_value",
            )
        scenario = self.engine.scenarios.get(name)
        if scenario is None:
            known = ", ".join(sorted(self.engine.scenarios))
            raise ApiError(
                400,
                f"Unknown simulator scenario '{name}'. Known: {known}.",
                param="metadata.scenario",
                code="invalid_value",
            )
        return ChainRecord("", name, scenario)
