"""The response player: plays a response's part of its chain's scenario forward on the clock.

Theory of operation
-------------------
Like the run player (``_play.py``), nothing runs in the background: :meth:`ResponsePlayer.advance`
reads "now" and plays the response's steps forward to it, each effect at the exact sim time it
was due, so a late poll sees the same history as a timely one. The status follows from the step
being played and the rules of ``_responses_behaviour.py``, never from the core's table:

* a background response starts ``queued`` (a foreground one ``in_progress``; the engine creates
  both); a step that needs the model (``Work``, ``CallTools``, ``Answer``, ``EndIncomplete``)
  picks a queued response up (``in_progress``); ``Queue`` and ``Work`` only let time pass;
* ``CallTools`` completes the response with its ``function_call`` items (rule 3), and
  ``RequestApproval`` with its ``mcp_approval_request`` items (rule 9): the chain continues in
  the next response, which the client creates; when that response is picked up, the tools it
  approved run first (their ``mcp_call`` items, ``_responses_mcp.py``);
* ``Answer`` writes the assistant message (its text from every output submitted along the chain
  in this turn) and completes; ``Fail`` fails from ``queued`` or ``in_progress``;
  ``EndIncomplete`` ends ``incomplete`` (its text, if any, as an incomplete message); ``Hang``
  never moves again (responses do not expire);
* a cancel (the engine's) moves the response straight to ``cancelled``; when the scenario's
  :class:`~adapters.simulator.CancelBehaviour` names another outcome (the cancel lost the race),
  the response *flips* to it ``confirm_after`` seconds later (:meth:`ResponsePlayer.flip`), as a
  compatible service was seen to do: the one move that leaves a terminal status, on purpose.

Every status change goes through :meth:`ResponsePlayer.move`: history, stamps, usage, the
``response.<status>`` stream event (none for ``cancelled``, rule 7) and, for a terminal status,
the ``on_terminal`` callback (webhooks). Output items are streamed the way the SDK types them:
``output_item.added``, argument or text deltas, the ``done`` events, ``output_item.done``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.simulator import _responses_behaviour as api
from adapters.simulator import _responses_mcp as mcp
from adapters.simulator._play import step_seconds, text_chunks, word_count
from adapters.simulator._responses_records import CallRecord, McpRun, ResponseRecord
from adapters.simulator.scenarios import (
    Answer,
    CallTools,
    EndIncomplete,
    Fail,
    Queue,
    RequestApproval,
    Step,
    Work,
    render_answer,
)

__all__ = ["ResponsePlayer"]

Json = dict[str, Any]
#: the steps played ``in_progress``: a queued response is picked up when one starts
_NEEDS_MODEL = (Work, CallTools, RequestApproval, Answer, EndIncomplete)
#: statuses whose response carries ``usage`` (a failed or cancelled one reports none)
_HAS_USAGE = frozenset({api.COMPLETED, api.INCOMPLETE})


class ResponsePlayer:
    """Plays responses forward; owned by the response engine, called with its lock held.

    Args:
        new_id: makes a fresh id for a prefix (``fc``, ``call``, ``msg``).
        on_terminal: called with ``(response, status, at)`` whenever a response enters a
            terminal status (including a flip out of ``cancelled``).
        mcp_runs: where every run of an approved MCP tool is logged.
    """

    def __init__(
        self,
        new_id: Callable[[str], str],
        on_terminal: Callable[[ResponseRecord, str, float], None],
        mcp_runs: list[McpRun],
    ) -> None:
        self.new_id = new_id
        self.on_terminal = on_terminal
        self.mcp_runs = mcp_runs

    def advance(self, resp: ResponseRecord, now: float) -> None:
        """Play the response's steps forward to ``now`` (and a due cancel flip)."""
        steps = resp.chain.scenario.steps
        while not resp.terminal:
            step = steps[resp.step_index]
            if not resp.entered:
                if isinstance(step, _NEEDS_MODEL) and resp.status == api.QUEUED:
                    self.move(resp, api.IN_PROGRESS, resp.phase_start)  # rule 2
                if resp.status == api.IN_PROGRESS:  # rule 9: picked up, approved tools run
                    mcp.run_approved(resp, resp.phase_start, self.new_id, self.mcp_runs)
                resp.entered = True
                continue
            due = resp.phase_start + step_seconds(step)
            if now < due:
                return
            self._finish(resp, step, due)
        if resp.flip_at is not None and now >= resp.flip_at:
            self.flip(resp, resp.flip_at)

    def _finish(self, resp: ResponseRecord, step: Step, at: float) -> None:
        if isinstance(step, (Queue, Work)):
            resp.step_index += 1
            resp.phase_start = at
            resp.entered = False
        elif isinstance(step, CallTools):
            self._call_tools(resp, step, at)
            self.move(resp, api.COMPLETED, at)  # rule 3: the calls complete the response
        elif isinstance(step, RequestApproval):
            mcp.request_approval(resp, step, self.new_id)
            self.move(resp, api.COMPLETED, at)  # rule 9: so do approval requests
        elif isinstance(step, Answer):
            self._message(resp, self._render(resp, step), api.COMPLETED)
            self.move(resp, api.COMPLETED, at)
        elif isinstance(step, Fail):
            resp.error = {"code": step.code, "message": step.message}
            self.move(resp, api.FAILED, at)
        elif isinstance(step, EndIncomplete):
            if step.text:
                self._message(resp, step.text, api.INCOMPLETE)
            resp.incomplete_reason = api.INCOMPLETE_REASON.get(step.reason, step.reason)
            self.move(resp, api.INCOMPLETE, at)

    def _render(self, resp: ResponseRecord, step: Answer) -> str:
        outputs = tuple(o for r in resp.rounds for o in r)
        last = len(resp.rounds[-1]) if resp.rounds else 0
        return render_answer(step.text, outputs, last)

    def flip(self, resp: ResponseRecord, at: float) -> None:
        """A cancelled response reads ``flip_to`` from now on (the cancel lost the race).

        A flip to ``completed`` produces what the response's steps would have ended with: the
        tools it approved run, then the calls of its next ``CallTools`` (or approval requests of
        its ``RequestApproval``) or the text of its ``Answer``.
        """
        final = resp.flip_to
        resp.flip_at = resp.flip_to = None
        if final is None or final not in api.TERMINAL:  # pragma: no cover - set by the engine
            return
        resp.status = api.IN_PROGRESS  # leaves cancelled on purpose (see module docstring)
        if final == api.COMPLETED:
            mcp.run_approved(resp, at, self.new_id, self.mcp_runs)
            for step in resp.chain.scenario.steps[resp.step_index :]:
                if isinstance(step, CallTools):
                    self._call_tools(resp, step, at)
                    break
                if isinstance(step, RequestApproval):
                    mcp.request_approval(resp, step, self.new_id)
                    break
                if isinstance(step, Answer):
                    self._message(resp, self._render(resp, step), api.COMPLETED)
                    break
        elif final == api.FAILED:
            resp.error = {"code": "server_error", "message": "The response failed after all."}
        elif final == api.INCOMPLETE:
            resp.incomplete_reason = "max_output_tokens"
        self.move(resp, final, at)

    # -- output items ---------------------------------------------------------------------------

    def _call_tools(self, resp: ResponseRecord, step: CallTools, at: float) -> None:
        for spec in step.calls:
            call = CallRecord(self.new_id("fc"), self.new_id("call"), spec.name, spec.arguments)
            index = len(resp.output)
            resp.emit(
                "response.output_item.added",
                output_index=index,
                item=call.payload(status=api.IN_PROGRESS),
            )
            for chunk in text_chunks(call.arguments):
                resp.emit(
                    "response.function_call_arguments.delta",
                    item_id=call.id,
                    output_index=index,
                    delta=chunk,
                )
            resp.emit(
                "response.function_call_arguments.done",
                item_id=call.id,
                output_index=index,
                arguments=call.arguments,
            )
            resp.output.append(call.payload())
            resp.emit("response.output_item.done", output_index=index, item=call.payload())
            resp.calls.append(call)

    def _message(self, resp: ResponseRecord, text: str, status: str) -> None:
        msg_id, index = self.new_id("msg"), len(resp.output)
        where: Json = {"item_id": msg_id, "output_index": index, "content_index": 0}

        def item(item_status: str, content: list[Json]) -> Json:
            return {
                "type": "message",
                "id": msg_id,
                "role": "assistant",
                "status": item_status,
                "content": content,
            }

        def part(value: str) -> Json:
            return {"type": "output_text", "text": value, "annotations": []}

        resp.emit("response.output_item.added", output_index=index, item=item(api.IN_PROGRESS, []))
        resp.emit("response.content_part.added", **where, part=part(""))
        for chunk in text_chunks(text):
            resp.emit("response.output_text.delta", **where, delta=chunk, logprobs=[])
        resp.emit("response.output_text.done", **where, text=text, logprobs=[])
        resp.emit("response.content_part.done", **where, part=part(text))
        done = item(status, [part(text)])
        resp.output.append(done)
        resp.emit("response.output_item.done", output_index=index, item=item(status, [part(text)]))

    # -- status moves ---------------------------------------------------------------------------

    def move(self, resp: ResponseRecord, status: str, at: float) -> None:
        """Enter ``status``: history, ``completed_at``, usage, stream event, ``on_terminal``."""
        if resp.terminal:  # pragma: no cover - rule 3: every caller checks first
            raise RuntimeError(f"response {resp.id} is {resp.status}; it cannot move to {status}")
        resp.status = status
        resp.history.append((status, at))
        if status == api.COMPLETED:
            resp.completed_at = at
        if status in _HAS_USAGE:
            prompt = 20 + sum(word_count(str(i.get("content", ""))) for i in resp.input_items)
            prompt += 10 * len(resp.received)
            written = sum(
                word_count(str(item.get("arguments") or item.get("content") or ""))
                for item in resp.output
            )
            resp.usage = {
                "input_tokens": prompt,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": written,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": prompt + written,
            }
        if status != api.CANCELLED:  # rule 7: no response.cancelled stream event
            resp.emit(f"response.{status}", response=resp.payload())
        if resp.terminal:
            self.on_terminal(resp, status, at)
