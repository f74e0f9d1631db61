"""What the Assistants API documents about runs, stated once, for the simulator alone.

Theory of operation
-------------------
The simulator exists to test a run controller whose core holds its own transition table
(``lifecycle``). If the simulator moved its runs along that same table, a wrong table would pass
every end-to-end test. So the simulator never reads the core's table, enums or views: what a
server does is written here, from the API's documentation and from observed server replies, as
plain strings and small sets. The scenario engine (``_engine.py``) and the status scripts
(``_scripted.py``) read only this module and their scenarios. A test checks that the vocabulary
here equals the core's status enums (names only, never moves), and another that no simulator
module imports anything table-shaped from ``lifecycle``.

Sources (short names used in the comments below):

* DOC-RUNS: the "Runs and run steps" / "Run lifecycle" page of the Assistants docs
  (platform.openai.com/docs/assistants/deep-dive#runs-and-run-steps).
* SPEC: the OpenAPI spec (``createRun``, ``submitToolOuputsToRun``, ``cancelRun``, ``RunObject``,
  ``RunStepObject``) and its stream examples.
* DOC-FC: the Assistants function-calling guide.
* OBSERVED: error texts returned by the real server and quoted by client code and issue threads.

The rules, in the order a run meets them:

1. A run is created ``queued`` (DOC-RUNS; SPEC ``thread.run.created`` example).
2. The server picks it up: ``in_progress`` (DOC-RUNS "should almost immediately move to
   in_progress").
3. The model may ask for function calls: ``requires_action`` with
   ``required_action.submit_tool_outputs.tool_calls`` (DOC-RUNS, DOC-FC). ``required_action`` is
   ``null`` in every other status (SPEC ``RunObject``).
4. Submitting the outputs, ALL in one request, is accepted only in ``requires_action`` and moves
   the run to ``queued`` (SPEC "All outputs must be submitted in a single request"; SPEC submit
   example returns ``queued``). Otherwise: 400 ``Runs in status "X" do not accept tool outputs.``
   (OBSERVED).
5. Cancel is accepted while ``queued``, ``in_progress`` or ``requires_action`` and answers
   ``cancelling`` (SPEC ``cancelRun`` example; OBSERVED for queued and requires_action); the run
   then settles ``cancelled`` ("Cancellation is attempted but not guaranteed", DOC-RUNS: a
   scenario's ``CancelBehaviour`` may settle it in another terminal status). A cancel of a
   terminal run is 400 ``Cannot cancel run with status 'X'.`` (OBSERVED).
6. ``expires_at`` is ``created_at + 600`` (SPEC examples; DOC-FC "runs expire ten minutes after
   creation"); a run still ``queued``, ``in_progress`` or ``requires_action`` then becomes
   ``expired`` (DOC-RUNS). Submitting outputs does not move the deadline (SPEC stream example).
7. Terminal: ``completed``, ``failed``, ``cancelled``, ``expired``, ``incomplete`` (DOC-RUNS).
   ``expires_at`` is ``null`` once terminal (SPEC examples); ``usage`` is set only then.
8. While a run is not terminal its thread is locked (DOC-RUNS): creating a run is 400
   ``Thread X already has an active run Y.`` and adding a message is 400 ``Can't add messages to
   X while a run Y is active.`` (OBSERVED).
9. A stream (``stream=true``) ends, with ``event: done``, after the event of a status where the
   client must act or nothing more will happen: ``requires_action`` or a terminal status (SPEC
   stream examples).
10. Run steps are ``in_progress`` until they end ``completed``, ``failed``, ``cancelled`` or
    ``expired`` (SPEC ``RunStepObject``); a ``tool_calls`` step stays ``in_progress`` while its
    run waits for outputs and completes on the submit (SPEC stream example).
"""

from __future__ import annotations

__all__ = [
    "ACCEPTS_OUTPUTS",
    "CANCELLABLE",
    "CANCELLED",
    "CANCELLING",
    "COMPLETED",
    "ENDS_STREAM",
    "EXPIRED",
    "EXPIRES",
    "EXPIRY_SECONDS",
    "FAILED",
    "INCOMPLETE",
    "IN_PROGRESS",
    "MESSAGE_END_REASON",
    "QUEUED",
    "REQUIRES_ACTION",
    "RUN_STAMPS",
    "RUN_STATUSES",
    "STEP_END",
    "STEP_STAMPS",
    "STEP_STATUSES",
    "TERMINAL",
    "cannot_add_message",
    "cannot_cancel",
    "does_not_accept_outputs",
    "thread_busy",
]

# -- the status vocabulary (SPEC RunObject.status, RunStepObject.status) -------------------------

QUEUED = "queued"
IN_PROGRESS = "in_progress"
REQUIRES_ACTION = "requires_action"
CANCELLING = "cancelling"
CANCELLED = "cancelled"
FAILED = "failed"
COMPLETED = "completed"
INCOMPLETE = "incomplete"
EXPIRED = "expired"

#: every run status the API documents (SPEC ``RunObject.status``)
RUN_STATUSES = frozenset(
    {
        QUEUED,
        IN_PROGRESS,
        REQUIRES_ACTION,
        CANCELLING,
        CANCELLED,
        FAILED,
        COMPLETED,
        INCOMPLETE,
        EXPIRED,
    }
)
#: every run step status (SPEC ``RunStepObject.status``; rule 10): no queued, no requires_action
STEP_STATUSES = frozenset({IN_PROGRESS, CANCELLED, FAILED, COMPLETED, EXPIRED})

# -- the rules ------------------------------------------------------------------------------------

#: rule 7: nothing happens to a run after these (DOC-RUNS)
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED, EXPIRED, INCOMPLETE})
#: rule 4: the only status that takes tool outputs
ACCEPTS_OUTPUTS = frozenset({REQUIRES_ACTION})
#: rule 5: where a cancel request is accepted (answered ``cancelling``)
CANCELLABLE = frozenset({QUEUED, IN_PROGRESS, REQUIRES_ACTION})
#: rule 6: the statuses a run can still be in when ``expires_at`` passes and it expires
EXPIRES = frozenset({QUEUED, IN_PROGRESS, REQUIRES_ACTION})
#: rule 6: ``expires_at - created_at``
EXPIRY_SECONDS = 600
#: rule 9: a stream ends after the ``thread.run.<status>`` event of one of these
ENDS_STREAM = TERMINAL | {REQUIRES_ACTION}

#: the run field stamped when a status is entered (SPEC ``RunObject``: started_at, *_at)
RUN_STAMPS = {
    IN_PROGRESS: "started_at",
    COMPLETED: "completed_at",
    FAILED: "failed_at",
    CANCELLED: "cancelled_at",
}
#: rule 10: the status an open run step ends in when its run ends in a given terminal status
STEP_END = {
    COMPLETED: COMPLETED,
    FAILED: FAILED,
    CANCELLED: CANCELLED,
    EXPIRED: EXPIRED,
    INCOMPLETE: COMPLETED,  # steps have no incomplete status; the message says why
}
#: the step field stamped when a step ends (SPEC ``RunStepObject``)
STEP_STAMPS = {
    COMPLETED: "completed_at",
    CANCELLED: "cancelled_at",
    FAILED: "failed_at",
    EXPIRED: "expired_at",
}
#: why a still-open assistant message ends ``incomplete`` when its run ends in a given status
#: (SPEC ``MessageObject.incomplete_details.reason``); a completed run completes its message
MESSAGE_END_REASON = {
    CANCELLED: "run_cancelled",
    FAILED: "run_failed",
    EXPIRED: "run_expired",
    INCOMPLETE: "max_tokens",
}

# -- the server's wording (OBSERVED) --------------------------------------------------------------


def does_not_accept_outputs(status: str) -> str:
    """Rule 4: the 400 for a submit outside ``requires_action``."""
    return f'Runs in status "{status}" do not accept tool outputs.'


def cannot_cancel(status: str) -> str:
    """Rule 5: the 400 for a cancel of a run that is not cancellable."""
    return f"Cannot cancel run with status '{status}'."


def thread_busy(thread_id: str, run_id: str) -> str:
    """Rule 8: the 400 for creating a run on a locked thread."""
    return f"Thread {thread_id} already has an active run {run_id}."


def cannot_add_message(thread_id: str, run_id: str) -> str:
    """Rule 8: the 400 for adding a message to a locked thread."""
    return f"Can't add messages to {thread_id} while a run {run_id} is active."
