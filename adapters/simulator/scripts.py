"""Status scripts: runs whose reads return scripted statuses, whatever the API's rules say.

A :class:`~adapters.simulator.Scenario` plays a "model" and the simulator moves the run by the
documented API behaviour (``_behaviour.py``). A :class:`StatusScript` does the opposite: it is the
list of run objects a misbehaving server serves, step by step, for the fault-injection matrix
(repeated or skipped statuses, stale regressions, unknown status strings, terminal flips,
``requires_action`` with ``required_action: null`` or no tool calls, old tool-call ids repeated,
stale ``requires_action`` after a submit). Register one like a scenario and pick it with
``metadata={"scenario": name}`` on the run or the assistant::

    sim.add_scenario("stale", StatusScript(
        steps=[Step("queued"), Step("in_progress"), Step("queued"), Step("completed")],
        advance="per_read",
    ))

How the current step moves (``advance``):

* ``"per_read"``: run creation serves step 0; each ``GET /threads/{t}/runs/{r}`` serves the next
  step; once at the last step, it repeats. Listing runs, updating metadata, cancel and submit
  serve the current step without moving on (but see submit and cancel below). An SSE stream
  pulls the next step itself each time it has sent everything (see below).
* ``"by_time"``: step 0 is current at creation; step ``i`` becomes current ``steps[i].delay``
  seconds (sim clock) after step ``i - 1`` did; every read serves the current step.

Submit: when the current step :attr:`Step.takes_outputs` (by default: it has ``tool_calls``, even
an empty tuple), the outputs are accepted and recorded as a round (``sim.tool_outputs``); with
:attr:`StatusScript.check_outputs` the ids must match the step's calls exactly, as on the real
server (400 otherwise). The script then moves to the next step (``by_time``: the delays count
again from the submit) and the response serves it. Otherwise the submit is a 400 (``Runs in status
"X" do not accept tool outputs.``, X being the step's :attr:`Step.actual_status`, by default its
status). Scripted HTTP failures of the submit itself come from ``sim.faults``.

Cancel: always answered 200. With :attr:`StatusScript.on_cancel`, the first cancel switches the
run to those steps (from their first step, served by the cancel response; ``by_time`` delays count
from the cancel); without it the cancel response serves the current step like any read.

Streams: each step that becomes current emits one ``thread.run.<status>`` event with the served
payload, for unknown status strings too (``thread.run.paused_for_review``: the ``openai`` SDK
cannot type such an event and builds it as the first member of its ``AssistantStreamEvent``
union, with ``.event`` holding the raw name; consumers must dispatch on ``event.event``). A stream
ends after an event of ``requires_action`` or a terminal status, so an unknown status never ends
one.
A ``per_read`` stream at the last step idles (nothing new), like a server that went quiet.

Named scripts: :data:`SCRIPTS` holds the status scripts every simulator starts with, beside the
scenarios of :data:`~adapters.simulator.SCENARIOS` (a name is in one or the other). They
reproduce what an independent Assistants-compatible server was seen to do:

* ``"requires-action-then-failed"``: ``requires_action`` with ``required_action: null``, then
  ``failed`` with a ``last_error`` on the next read;
* ``"stale-requires-action-after-submit"``: one ``calculate_order_total`` round; after the
  accepted submit the next GET replays the same ``requires_action`` (same call id) once, and a
  second submit is refused with a 400; then ``in_progress`` and ``completed``.

Scripted runs never expire and emit no run steps or messages; the statuses they serve are
recorded by ``sim.run_history`` (one entry per step that became current, raw strings for unknown
statuses) and ``sim.script_reads`` (every JSON response that carried the run).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from adapters.simulator.scenarios import ORDER_ITEMS

__all__ = ["SCRIPTS", "STALE_CALL", "Advance", "ScriptCall", "ScriptRead", "StatusScript", "Step"]

Json = dict[str, Any]
#: how a script's current step moves: on every GET of the run, or on the sim clock
Advance = Literal["per_read", "by_time"]
_ADVANCES: tuple[Advance, ...] = ("per_read", "by_time")


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """A function tool call served in a scripted ``required_action``, with an explicit id.

    Attributes:
        id: the ``tool_call_id`` (reuse one across steps to replay an old call).
        name: the function name.
        arguments: the raw argument string (may be invalid JSON, on purpose).
    """

    id: str
    name: str
    arguments: str = "{}"

    @classmethod
    def of(cls, id: str, name: str, arguments: Mapping[str, Any]) -> ScriptCall:
        """Build a call whose arguments are ``arguments`` serialised as JSON."""
        return cls(id, name, json.dumps(dict(arguments)))

    def payload(self) -> Json:
        """The ``required_action`` tool call object."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True, slots=True)
class Step:
    """One run object a script serves.

    Attributes:
        status: the ``status`` string served: a known status, or anything (``"paused_for_review"``).
        payload: top-level run fields that override the served object last (e.g.
            ``{"last_error": {...}}``, ``{"required_action": {...}}``, ``{"usage": None}``).
        delay: ``by_time`` only: seconds after the previous step became current (after creation
            or after the submit/cancel that started a sequence, for a first step). Ignored by
            ``per_read``.
        tool_calls: ``None`` serves ``required_action: null``; a tuple (even empty) serves
            ``{"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [...]}}``.
        accepts_outputs: whether a submit is accepted while this step is current; ``None``
            means "when ``tool_calls`` is not ``None``". ``False`` makes a stale
            ``requires_action`` (the old calls again) that the server refuses to take outputs for.
        actual_status: the status the server really has while it serves this step (a stale
            read serves an old one): a refused submit names it (``Runs in status "queued" do
            not accept tool outputs.``) and the thread lock follows it. ``None``: ``status``.

    Raises:
        ValueError: for an empty status or a negative delay.
    """

    status: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    delay: float = 0.0
    tool_calls: Sequence[ScriptCall] | None = None
    accepts_outputs: bool | None = None
    actual_status: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", str(self.status))
        if not self.status:
            raise ValueError("a step needs a status string")
        if self.delay < 0:
            raise ValueError("a step's delay cannot be negative")
        object.__setattr__(self, "payload", dict(self.payload))
        if self.tool_calls is not None:
            object.__setattr__(self, "tool_calls", tuple(self.tool_calls))

    @property
    def server_status(self) -> str:
        """The status the server really has while serving this step."""
        return self.actual_status if self.actual_status is not None else self.status

    @property
    def takes_outputs(self) -> bool:
        """Whether a submit is accepted while this step is current."""
        if self.accepts_outputs is not None:
            return self.accepts_outputs
        return self.tool_calls is not None

    def required_action(self) -> Json | None:
        """The served ``required_action`` (before :attr:`payload` overrides)."""
        if self.tool_calls is None:
            return None
        calls = [c.payload() for c in self.tool_calls]
        return {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": calls}}


@dataclass(frozen=True, slots=True)
class StatusScript:
    """A scripted run: the steps its reads serve. See the module docstring for the rules.

    Attributes:
        steps: the run objects served, in order (a list is fine; stored as a tuple).
        advance: ``"per_read"`` (each GET serves the next step) or ``"by_time"`` (delays).
        on_cancel: the steps served from the first cancel request on; ``None``: a cancel is a
            plain read.
        check_outputs: whether a submit's ids must match the current step's calls exactly.
        description: free text, for listings.

    Raises:
        ValueError: for no steps, an empty ``on_cancel`` or an unknown ``advance``.
    """

    steps: Sequence[Step]
    advance: Advance = "per_read"
    on_cancel: Sequence[Step] | None = None
    check_outputs: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        if not self.steps:
            raise ValueError("a status script needs at least one step")
        if self.on_cancel is not None:
            object.__setattr__(self, "on_cancel", tuple(self.on_cancel))
            if not self.on_cancel:
                raise ValueError("on_cancel needs at least one step (or None)")
        if self.advance not in _ADVANCES:
            raise ValueError(f"advance must be one of {_ADVANCES}, not {self.advance!r}")


@dataclass(frozen=True, slots=True)
class ScriptRead:
    """One JSON response that carried a scripted run.

    Attributes:
        via: the request: ``"create"``, ``"retrieve"``, ``"update"``, ``"list"``, ``"submit"``
            or ``"cancel"``.
        branch: ``"main"`` (:attr:`StatusScript.steps`) or ``"cancel"`` (``on_cancel``).
        index: the step's index in its branch.
        status: the status string served.
        time: the sim-clock time of the response.
    """

    via: str
    branch: Literal["main", "cancel"]
    index: int
    status: str
    time: float


#: the one call of the stale-replay script (the same id on every run of it), with the
#: order-total scenario's arguments
STALE_CALL = ScriptCall.of("call_st4leRepl4yOrderT0ta1", "calculate_order_total", ORDER_ITEMS)

#: The named status scripts every simulator starts with (beside ``SCENARIOS``; a name is in one
#: or the other); pick one with ``metadata={"scenario": name}`` like a scenario. Reads a client
#: sees, in order (``per_read``: each GET of the run serves the next step):
SCRIPTS: dict[str, StatusScript] = {
    # create: queued; GET: in_progress; GET: requires_action, required_action null (a submit
    # is refused: nothing to answer); GET: failed with last_error (repeats)
    "requires-action-then-failed": StatusScript(
        [
            Step("queued"),
            Step("in_progress"),
            Step("requires_action", tool_calls=None),
            Step(
                "failed",
                {
                    "last_error": {
                        "code": "server_error",
                        "message": "The run failed while waiting for a tool call it never sent.",
                    }
                },
            ),
        ],
        advance="per_read",
        description="requires_action with required_action null, then failed with last_error",
    ),
    # create: queued; GET: in_progress; GET: requires_action [STALE_CALL]; submit (accepted):
    # queued; GET: the same requires_action again (stale; a second submit is a 400 naming
    # "queued"); GET: in_progress; GET: completed (repeats)
    "stale-requires-action-after-submit": StatusScript(
        [
            Step("queued"),
            Step("in_progress"),
            Step("requires_action", tool_calls=[STALE_CALL]),
            Step("queued"),
            Step(
                "requires_action",
                tool_calls=[STALE_CALL],
                accepts_outputs=False,
                actual_status="queued",
            ),
            Step("in_progress"),
            Step("completed"),
        ],
        advance="per_read",
        description="one calculate_order_total round; after the submit one stale replay of "
        "the same requires_action, then in_progress and completed",
    ),
}
