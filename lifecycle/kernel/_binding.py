"""The seam between the kernel and one API: what a binding supplies.

Theory of operation
-------------------
The kernel knows how to follow *a* remote object through *a* lifecycle table: poll it on a
schedule, act on the table's awaiting-client status (run the tools, answer them once), cancel it,
keep its deadlines and end explicitly. What the object is, where it lives and how its JSON reads
is the binding's business:

* the **table** (``spec``): which statuses exist, which are terminal, which wait for the client;
* the **requests**, as data (:class:`~lifecycle.kernel.HttpRequest`): retrieve, cancel, submit;
* the **parsing** of what comes back (:meth:`Binding.parse` of a body into an
  :class:`Observation`, :meth:`Binding.parse_event` of a stream event), pure, never trusting the
  body: anything that is not an object of the API is a ``MALFORMED`` failure;
* the **API-specific steps** that need several requests, written as small flows over the kernel's
  services (:class:`DriveApi`): create (and what to do when the answer is lost), and how to tell
  whether a submission whose answer was lost got in.

The Assistants binding (``_assistants.py``) is the first. A Responses chain binds the same way
(its observation of a completed response with ``function_call`` items is the chain's
awaiting-client status; submitting creates the next response, which becomes the new ``run_id``),
as does a Managed Agents session (``requires_action`` with ``required_actions``; a submit is an
event with an ``Idempotency-Key``, so a lost answer can simply be resent).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lifecycle._dispatch import ToolOutput
from lifecycle._records import ToolCall, Via
from lifecycle._spec import LifecycleSpec
from lifecycle.kernel._config import RetryPolicy
from lifecycle.kernel._messages import Failure, HttpRequest, Reply, Request, SseEvent

__all__ = ["Binding", "Capabilities", "DriveApi", "Flow", "Observation", "StreamItem"]

#: A kernel flow: yields requests, receives replies, returns a value.
Flow = Generator[Request, Reply, Any]


@dataclass(frozen=True, slots=True)
class Observation:
    """One reading of the remote object, API-neutral.

    Attributes:
        id: the object's id (the run id).
        status: the raw status string (the table may not know it).
        tool_calls: the calls an awaiting-client status asks for; ``None`` when the payload
            carries none (the round is not known yet).
        expires_at: epoch seconds after which the server expires it, if it says.
        metadata: the object's string metadata (``op_id`` among them).
        payload: the whole JSON object, kept for the caller.
    """

    id: str
    status: str
    tool_calls: tuple[ToolCall, ...] | None = None
    expires_at: float | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    payload: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Observation(id={self.id!r}, status={self.status!r})"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an API lets a client know or do, which changes how the kernel decides.

    Attributes:
        submit_starts_new_object: the answer to a submit is a new object that the drive follows
            from then on (a Responses chain's next response; its id becomes ``run_id``).
        idle_while_awaiting: nothing runs on the server while the object waits for the client
            (a completed response), so a cancel there is the client's own decision, with no
            request.
        finds_lost_creates: a create whose answer was lost can be looked up (Assistants: the
            thread's runs by ``metadata.op_id``). Without it such a create is never resent: the
            drive ends ``outcome_unknown``.
        checks_lost_submits: a submit whose answer was lost can be checked (Assistants: the
            run's step, or its status). Without it nothing is resent either: the drive ends
            ``outcome_unknown``.
    """

    submit_starts_new_object: bool = False
    idle_while_awaiting: bool = False
    finds_lost_creates: bool = True
    checks_lost_submits: bool = True


@dataclass(frozen=True, slots=True)
class StreamItem:
    """What one stream event (or listed item) means to the kernel; empty to skip it.

    Attributes:
        observation: a reading of the run itself.
        step: a completed run step's payload (``step_id`` is its id).
        step_id: the step's id.
        message: a completed assistant message's payload (``message_id``, ``text``).
        message_id: the message's id.
        text: the message's text.
        failure: the stream reported an error, or sent something that is not the API's.
        sequence: the event's position in its stream, when the API numbers them (Responses'
            ``sequence_number``: a dropped stream resumes after the last one).
    """

    observation: Observation | None = None
    step: Mapping[str, Any] | None = None
    step_id: str = ""
    message: Mapping[str, Any] | None = None
    message_id: str = ""
    text: str = ""
    failure: Failure | None = None
    sequence: int | None = None


class DriveApi(Protocol):
    """The kernel services a binding's flows may use."""

    @property
    def scope(self) -> str:
        """What the run belongs to (an Assistants thread id)."""

    @property
    def run_id(self) -> str:
        """The run, once known (``""`` before)."""

    def call(self, op: str, http: HttpRequest, *, mutating: bool = False) -> Flow:
        """Send a request through the retry layer; returns the :class:`HttpResponse` (or a
        stream handle); raises the kernel's control-flow errors on failure."""

    def observe(self, observation: Observation, via: Via) -> Flow:
        """Reconcile an observation with the lifecycle (journal, events, save)."""

    def answered(self, response: Any) -> Flow:
        """Take the answer to our own mutating request: the next poll comes at once unless
        it carried a poll-after header; its object is observed. Returns ``False`` when the
        body is not the API's object (the request may still have been applied)."""

    def stream_failed(self, why: str) -> Flow:
        """Stop streaming: polling takes over for the rest of the drive."""

    @property
    def seen_steps(self) -> Collection[str]:
        """The ids of the steps already reported."""

    def parse(self, response: Any) -> Observation:
        """Parse an object answer (raises ``CallFailed`` with a ``MALFORMED`` failure)."""

    def note(self, level: int, message: str, **fields: Any) -> Flow:
        """Emit a :class:`~lifecycle.kernel.Notice`."""

    def sleep(self, seconds: float) -> Flow:
        """Wait, cut short (raising) at the next deadline."""

    def cancel_other(self, run_id: str) -> Flow:
        """Cancel another run of the same scope and follow it to its end (its own deadlines).
        Returns its :class:`~lifecycle.kernel.Ending`."""

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy (bounded resends)."""

    @property
    def rng(self) -> random.Random:
        """The drive's random source."""


class Binding(Protocol):
    """One API's statement of its lifecycle: table, requests, parsing, multi-request steps."""

    #: the lifecycle table the kernel drives
    spec: LifecycleSpec[Any]
    #: what the API lets a client know or do
    capabilities: Capabilities

    def retrieve(self, scope: str, run_id: str) -> HttpRequest:
        """The request that reads the object."""

    def cancel(self, scope: str, run_id: str) -> HttpRequest:
        """The request that cancels the object."""

    def submit(
        self,
        scope: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        stream: bool,
        last: Observation | None = None,
    ) -> HttpRequest:
        """The request that answers an awaiting-client round with one output per call
        (``last``: the latest observation of the object, for APIs that need its fields)."""

    def parse(self, body: bytes) -> Observation | Failure:
        """An object body as an :class:`Observation`, or a ``MALFORMED`` :class:`Failure`."""

    def parse_event(self, event: SseEvent) -> StreamItem:
        """What a stream event means (an empty :class:`StreamItem` to skip it)."""

    def resume_stream(self, scope: str, run_id: str, after: int) -> HttpRequest | None:
        """The request that reopens a dropped stream after event ``after`` (``None``: the API
        cannot resume a stream; polling takes over)."""

    def state(self) -> dict[str, Any]:
        """The binding's own state, as JSON data, for a drive's checkpoint."""

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Take up a :meth:`state` from a checkpoint."""

    def op_id_from(self, args: Mapping[str, Any]) -> str | None:
        """The caller's own create-intent id in the create arguments, if any."""

    def create(self, api: DriveApi, args: Mapping[str, Any], op_id: str, *, stream: bool) -> Flow:
        """Create the object (the answer observed through ``api.observe``). Returns the reply
        to consume (a stream handle or ``None``)."""

    def find_created(self, api: DriveApi, op_id: str) -> Flow:
        """After a create whose answer was lost: find the object carrying ``op_id`` and
        observe it. Returns whether one was found."""

    def accepted_outputs(self, api: DriveApi, call_ids: Sequence[str]) -> Flow:
        """After a submit whose answer was lost or refused: the ids among ``call_ids`` the
        server holds outputs for, or ``None`` when the API cannot tell."""

    def watch(self, api: DriveApi) -> Flow:
        """Completed steps and messages of the run so far, as :class:`StreamItem` values (a
        list; empty when the API has nothing to report beyond the status)."""

    def messages(self, api: DriveApi) -> Flow:
        """The completed assistant messages of a finished run, as :class:`StreamItem` values."""
