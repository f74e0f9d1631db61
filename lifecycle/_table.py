"""The lifecycle tables: the single, hand-written statement of every lifecycle.

Theory of operation
-------------------
Everything that affects which status may follow which lives in this file, as plain data. The
engine (``_machine.py``) builds its ``transitions`` machine from these edges, the diagrams
(``diagrams.py``) draw them, the simulator moves its runs along them and the property tests build
their oracle from them. No transition is written anywhere else, so the engine, the pictures and
the tests cannot disagree.

Each edge cites its row in the project's research notes
(``shared/reference/lifecycle-ground-truth.md``, §1.2 for runs, §2 for run steps, §4.2 for
Responses; ``shared/reference/current-lifecycles.md`` §A for Responses chains, rows C1-C9).
Rows R1-R11 are documented by OpenAI; R12-R16 are *tolerated*: plausible and seen in the wild or
implied by the docs, but not documented, so they are allowed and journaled with
``kind="tolerated"``. Anything else a server reports is an anomaly, never a transition.

Not in the table, on purpose: ``requires_action -> failed | cancelled | completed`` directly
(row R17 of the research: no documentation, no observation, no SDK or peer code that expects it).
A server that reports one anyway (an independent server did: ``requires_action`` without its
payload, then ``failed``) is authoritative on the *end* of the run but not on the table: the
engine records the observation as an anomaly and keeps its state, and the drive kernel ends the
drive with the server's terminal status (``Ending.detail == "off_table"``), never polling or
cancelling a run the server says is over. A cancel seen from ``requires_action`` is already
explained by R13 + R9 (applied, flagged external).

Client-driven edges are guarded by pure predicates named here and defined in ``_guards.py``:

* submitting tool outputs (R4) needs an output for every required tool call; a poll that shows the
  run back in ``queued`` without our submission is a stale read (``REQUIRE_GUARD``);
* cancelling (R8, R12, R13) needs our cancel request; a cancel seen without one is applied but
  flagged as external, since another process or a person may cancel (``FLAG_EXTERNAL``).
"""

from __future__ import annotations

from typing import Any

from lifecycle._spec import Driver, Edge, EdgeKind, LifecycleSpec, ObservedPolicy
from lifecycle._status import ChainStatus, ResponseStatus, RunStatus, StepStatus

__all__ = ["ASSISTANTS_RUN", "LIFECYCLES", "RESPONSE", "RESPONSE_CHAIN", "RUN_STEP"]

_D = EdgeKind.DOCUMENTED
_T = EdgeKind.TOLERATED
_SERVER = Driver.SERVER
_CLIENT = Driver.CLIENT
_FLAG = ObservedPolicy.FLAG_EXTERNAL
_REQUIRE = ObservedPolicy.REQUIRE_GUARD

# Guard names (defined in _guards.py).
SUBMIT_GUARD = "outputs_cover_required_calls"
CANCEL_GUARD = "cancel_was_requested"

_Q, _IP, _RA = RunStatus.QUEUED, RunStatus.IN_PROGRESS, RunStatus.REQUIRES_ACTION
_CING, _CED = RunStatus.CANCELLING, RunStatus.CANCELLED
_FAIL, _DONE, _INC, _EXP = (
    RunStatus.FAILED,
    RunStatus.COMPLETED,
    RunStatus.INCOMPLETE,
    RunStatus.EXPIRED,
)

# fmt: off
ASSISTANTS_RUN: LifecycleSpec[RunStatus] = LifecycleSpec(
    name="assistants-run",
    title="Assistants run (thread.run)",
    status_type=RunStatus,
    initial=_Q,
    initial_evidence=(
        "R1: POST /threads/{id}/runs or /threads/runs creates the run queued "
        "[D] run-lifecycle docs; [E] spec stream example thread.run.created; [O] recorded traffic"
    ),
    terminal=frozenset({_CED, _FAIL, _DONE, _INC, _EXP}),
    edges=(
        # -- documented (R2-R11) ---------------------------------------------------------------
        Edge("R2", _Q, _IP, "start", _SERVER, _D, "server picks the run up [D][E]"),
        Edge(
            "R3", _IP, _RA, "require_action", _SERVER, _D,
            "model produced function calls; required_action.type=submit_tool_outputs [D]",
        ),
        Edge(
            "R4", _RA, _Q, "submit_tool_outputs", _CLIENT, _D,
            "POST submit_tool_outputs with ALL outputs moves the run to queued [D][E]",
            guard=SUBMIT_GUARD, when_observed=_REQUIRE,
        ),
        Edge("R5", _IP, _DONE, "complete", _SERVER, _D, "the run finished [D]"),
        Edge(
            "R6", _IP, _FAIL, "fail", _SERVER, _D,
            "server error, rate limit or invalid prompt; see last_error.code [D]",
        ),
        Edge(
            "R7", _IP, _INC, "end_incomplete", _SERVER, _D,
            "max_prompt_tokens / max_completion_tokens reached; see incomplete_details [D]",
        ),
        Edge(
            "R8", _IP, _CING, "cancel", _CLIENT, _D,
            "POST cancel on an in_progress run returns cancelling [D][E][O]",
            guard=CANCEL_GUARD, when_observed=_FLAG,
        ),
        Edge("R9", _CING, _CED, "confirm_cancel", _SERVER, _D, "the cancel took effect [D]"),
        Edge(
            "R10", _RA, _EXP, "expire", _SERVER, _D,
            "expires_at (created_at + 600 s) passed with no outputs submitted [D]",
        ),
        Edge(
            "R11", _IP, _EXP, "expire", _SERVER, _D,
            "the run took too long past expires_at [D] (medium-high confidence)",
        ),
        # -- tolerated (R12-R16): plausible, undocumented; allowed and journaled as such --------
        Edge(
            "R12", _Q, _CING, "cancel", _CLIENT, _T,
            "cancel before pickup; spec says in_progress only, community cancels queued runs [I/O]",
            guard=CANCEL_GUARD, when_observed=_FLAG,
        ),
        Edge(
            "R13", _RA, _CING, "cancel", _CLIENT, _T,
            "cancel while waiting for outputs; the Azure SDK does this [C]",
            guard=CANCEL_GUARD, when_observed=_FLAG,
        ),
        Edge("R14", _Q, _EXP, "expire", _SERVER, _T, "deadline passed before pickup [I]"),
        Edge("R15", _Q, _FAIL, "fail", _SERVER, _T, "failure at start, e.g. invalid_prompt [I]"),
        Edge(
            "R16", _CING, _DONE, "complete", _SERVER, _T,
            "the cancel lost the race: 'cancellation is attempted but not guaranteed' [I]",
        ),
        Edge("R16", _CING, _FAIL, "fail", _SERVER, _T, "the cancel lost the race to a failure [I]"),
        Edge("R16", _CING, _EXP, "expire", _SERVER, _T, "the cancel lost the race to expiry [I]"),
        Edge(
            "R16", _CING, _INC, "end_incomplete", _SERVER, _T,
            "the cancel lost the race to a token budget [I]",
        ),
    ),
)

_SIP = StepStatus.IN_PROGRESS

RUN_STEP: LifecycleSpec[StepStatus] = LifecycleSpec(
    name="run-step",
    title="Assistants run step (thread.run.step)",
    status_type=StepStatus,
    initial=_SIP,
    initial_evidence="thread.run.step.created already carries in_progress [E] (ground truth §2)",
    terminal=frozenset(
        {StepStatus.CANCELLED, StepStatus.FAILED, StepStatus.COMPLETED, StepStatus.EXPIRED}
    ),
    edges=(
        Edge(
            "S1", _SIP, StepStatus.COMPLETED, "complete", _SERVER, _D,
            "step finished; a tool_calls step completes after the outputs are submitted [D][E]",
        ),
        Edge("S2", _SIP, StepStatus.FAILED, "fail", _SERVER, _D, "step error [D]"),
        Edge(
            "S3", _SIP, StepStatus.CANCELLED, "cancel", _SERVER, _T,
            "parent run cancelled; implied by 'same meaning as run statuses' [I]",
        ),
        Edge(
            "S4", _SIP, StepStatus.EXPIRED, "expire", _SERVER, _D,
            "parent run expired; see expired_at [D]",
        ),
    ),
)

_RQ, _RIP = ResponseStatus.QUEUED, ResponseStatus.IN_PROGRESS

RESPONSE: LifecycleSpec[ResponseStatus] = LifecycleSpec(
    name="response",
    title="Responses API response (background mode)",
    status_type=ResponseStatus,
    initial=_RQ,
    initial_evidence="POST /responses with background=true returns queued [D][O] (§4.2)",
    terminal=frozenset(
        {
            ResponseStatus.COMPLETED,
            ResponseStatus.FAILED,
            ResponseStatus.CANCELLED,
            ResponseStatus.INCOMPLETE,
        }
    ),
    edges=(
        Edge("B1", _RQ, _RIP, "start", _SERVER, _D, "server picks the response up [D]"),
        Edge("B2", _RIP, ResponseStatus.COMPLETED, "complete", _SERVER, _D, "finished [D]"),
        Edge("B3", _RIP, ResponseStatus.FAILED, "fail", _SERVER, _D, "see error.code [D]"),
        Edge(
            "B4", _RIP, ResponseStatus.INCOMPLETE, "end_incomplete", _SERVER, _D,
            "max_output_tokens / content_filter; see incomplete_details [D]",
        ),
        Edge(
            "B5", _RQ, ResponseStatus.CANCELLED, "cancel", _CLIENT, _D,
            "POST /responses/{id}/cancel returns cancelled directly, no cancelling status [D]",
            guard=CANCEL_GUARD, when_observed=_FLAG,
        ),
        Edge(
            "B5", _RIP, ResponseStatus.CANCELLED, "cancel", _CLIENT, _D,
            "POST /responses/{id}/cancel returns cancelled directly [D]",
            guard=CANCEL_GUARD, when_observed=_FLAG,
        ),
        Edge("B6", _RQ, ResponseStatus.FAILED, "fail", _SERVER, _T, "failure before start [I]"),
    ),
)

_CQ, _CIP, _CRA = ChainStatus.QUEUED, ChainStatus.IN_PROGRESS, ChainStatus.REQUIRES_ACTION
_CC = ChainStatus.CANCELLED

# A chain of background responses (the research's §A, shared/reference/current-lifecycles.md):
# the per-response table above, lifted to the run a user starts. Rows C1-C9.
RESPONSE_CHAIN: LifecycleSpec[ChainStatus] = LifecycleSpec(
    name="response-chain",
    title="Responses API chain (background responses linked by previous_response_id)",
    status_type=ChainStatus,
    initial=_CQ,
    initial_evidence="the first POST /responses with background=true returns queued [D] (§A.1)",
    terminal=frozenset(
        {ChainStatus.COMPLETED, ChainStatus.FAILED, _CC, ChainStatus.INCOMPLETE}
    ),
    edges=(
        Edge("C1", _CQ, _CIP, "start", _SERVER, _D, "the current response is picked up [D] (§A.2)"),
        Edge(
            "C2", _CIP, _CRA, "require_action", _SERVER, _D,
            "the current response completed with client-owned output items (function_call, "
            "mcp_approval_request...) [D] (§A.7, §0.2)",
        ),
        Edge(
            "C3", _CRA, _CQ, "submit_tool_outputs", _CLIENT, _D,
            "the client created the next background response: previous_response_id and one "
            "function_call_output per call_id; it starts queued [D] (§A.1, §A.7)",
            guard=SUBMIT_GUARD, when_observed=_REQUIRE,
        ),
        Edge(
            "C4", _CIP, ChainStatus.COMPLETED, "complete", _SERVER, _D,
            "the current response completed with no client-owned items: the answer [D]",
        ),
        Edge("C5", _CIP, ChainStatus.FAILED, "fail", _SERVER, _D, "see error.code [D] (§A.1)"),
        Edge(
            "C6", _CIP, ChainStatus.INCOMPLETE, "end_incomplete", _SERVER, _D,
            "incomplete_details.reason: max_output_tokens, content_filter, steered... [D] (§A.1)",
        ),
        Edge(
            "C7", _CQ, _CC, "cancel", _CLIENT, _D,
            "POST /responses/{id}/cancel returns cancelled directly, no cancelling [D] (§A.4)",
            guard=CANCEL_GUARD, when_observed=_FLAG,
        ),
        Edge(
            "C7", _CIP, _CC, "cancel", _CLIENT, _D,
            "POST /responses/{id}/cancel returns cancelled directly [D] (§A.4)",
            guard=CANCEL_GUARD, when_observed=_FLAG,
        ),
        Edge(
            "C8", _CRA, _CC, "cancel", _CLIENT, _D,
            "the client ends the chain instead of answering; nothing runs on the server (the "
            "response already completed), so no request is sent [C]",
            guard=CANCEL_GUARD, when_observed=_FLAG,
        ),
        Edge("C9", _CQ, ChainStatus.FAILED, "fail", _SERVER, _T, "failure before start [I] (B6)"),
    ),
)

# fmt: on

#: Every lifecycle by its CLI name.
LIFECYCLES: dict[str, LifecycleSpec[Any]] = {
    spec.name: spec for spec in (ASSISTANTS_RUN, RUN_STEP, RESPONSE, RESPONSE_CHAIN)
}
