"""Hypothesis strategies and a conformance harness for testing code against a lifecycle table.

Shipped as public API (like ``structlog.testing``) so that your own controller can be
property-tested against the same table the engine runs. Needs ``hypothesis`` (the ``test`` extra).

Strategies (all take a :class:`lifecycle.LifecycleSpec`, default Assistants runs):

* :func:`legal_paths` / :func:`legal_traces`: walks along the table from the initial state;
* :func:`polled_traces`: legal traces with statuses skipped, as a poller sees them;
* :func:`illegal_steps`: ``(state, trigger)`` pairs the table has no edge for;
* :func:`observations`: any status string, known or not (server data is untrusted).

:class:`LifecycleConformance` is a ``RuleBasedStateMachine`` to subclass: feed statuses to your
own object and it checks, after every step, that your object's state equals the engine's. Its
``assume_client`` says whether the engine reads the statuses as a recorded trace (our submits and
cancels implied, the default) or as a live controller does (``False``: the harness plays the
client's submits and cancels too).
"""

from __future__ import annotations

from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from lifecycle._machine import RunLifecycle
from lifecycle._spec import Edge, LifecycleSpec
from lifecycle._table import ASSISTANTS_RUN

__all__ = [
    "LifecycleConformance",
    "illegal_steps",
    "legal_paths",
    "legal_traces",
    "observations",
    "polled_traces",
    "statuses",
    "transition_oracle",
]


def transition_oracle(spec: LifecycleSpec[Any] = ASSISTANTS_RUN) -> dict[tuple[str, str], str]:
    """A plain ``{(source, trigger): dest}`` dict built from the table's edges.

    A different code path from the ``transitions`` machine, for use as a test oracle.
    """
    return {(e.source, e.trigger): e.dest for e in spec.edges}


def statuses(spec: LifecycleSpec[Any] = ASSISTANTS_RUN) -> st.SearchStrategy[str]:
    """Any status of the table, as its API string."""
    return st.sampled_from([s.value for s in spec.states])


def observations(
    spec: LifecycleSpec[Any] = ASSISTANTS_RUN, *, unknown: bool = True
) -> st.SearchStrategy[str]:
    """Status strings a server might send: known ones, and (with ``unknown``) arbitrary text."""
    known = statuses(spec)
    if not unknown:
        return known
    return st.one_of(known, known, st.text(max_size=30), st.sampled_from(["", "QUEUED", "paused"]))


@st.composite
def legal_paths(
    draw: st.DrawFn, spec: LifecycleSpec[Any] = ASSISTANTS_RUN, max_steps: int = 20
) -> list[Edge]:
    """A walk along the table from the initial state (ends at a terminal state or after
    ``max_steps`` edges)."""
    state = spec.initial.value
    path: list[Edge] = []
    for _ in range(max_steps):
        out = spec.edges_from(state)
        if not out:
            break
        edge = draw(st.sampled_from(out))
        path.append(edge)
        state = edge.dest
    return path


@st.composite
def legal_traces(
    draw: st.DrawFn, spec: LifecycleSpec[Any] = ASSISTANTS_RUN, max_steps: int = 20
) -> list[str]:
    """The statuses a stream would show for a legal walk, initial status first."""
    path = draw(legal_paths(spec, max_steps))
    return [spec.initial.value, *(e.dest for e in path)]


@st.composite
def polled_traces(
    draw: st.DrawFn, spec: LifecycleSpec[Any] = ASSISTANTS_RUN, max_steps: int = 20
) -> list[str]:
    """A legal trace as a poller sees it: some statuses missed, some seen twice."""
    trace = draw(legal_traces(spec, max_steps))
    out: list[str] = []
    for i, status in enumerate(trace):
        last = i == len(trace) - 1
        if not last and draw(st.booleans()):
            continue  # this poll missed the status
        out.extend([status] * draw(st.integers(min_value=1, max_value=2)))
    return out


def illegal_steps(spec: LifecycleSpec[Any] = ASSISTANTS_RUN) -> st.SearchStrategy[tuple[str, str]]:
    """``(state, trigger)`` pairs with no edge in the table (including terminal states)."""
    oracle = transition_oracle(spec)
    pairs = [(s.value, t) for s in spec.states for t in spec.triggers if (s.value, t) not in oracle]
    return st.sampled_from(pairs)


class LifecycleConformance(RuleBasedStateMachine):
    """Check that your own object follows a lifecycle table like the engine does.

    Subclass it, set ``spec`` if not Assistants runs, implement the three methods, and expose
    ``YourClass.TestCase`` to pytest::

        class MyConformance(LifecycleConformance):
            def make_subject(self): return MyController()
            def feed(self, subject, status): subject.on_status(status)
            def read_state(self, subject): return subject.state

        TestMyController = MyConformance.TestCase

    The reference is a :class:`lifecycle.RunLifecycle` fed the same statuses. How it judges the
    edges the *client* drives (``requires_action -> queued`` is our submission, ``-> cancelling``
    our cancel) is :attr:`assume_client`:

    * ``True`` (the default): a trace's view. The statuses are all there is; our own submits and
      cancels are implied wherever the table needs one (``observe(status, assume_client=True)``,
      as ``lifecycle check`` reads a trace). Right for a tracker that only sees statuses.
    * ``False``: a live controller's view (``observe(status)``, the engine's default). A
      ``requires_action -> queued`` without our submission is a stale read and rejected. The
      harness then also plays the client: it submits outputs (:meth:`submit`) and asks for a
      cancel (:meth:`cancel`), telling the reference and your object alike. Right for a tracker
      that wraps :class:`lifecycle.RunLifecycle` with its default ``observe()``, or that knows
      what its client sent.
    """

    spec: LifecycleSpec[Any] = ASSISTANTS_RUN
    #: How the reference judges client-driven edges: as a trace (``True``) or live (``False``).
    assume_client: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.reference = RunLifecycle(self.spec)
        self.subject = self.make_subject()

    def make_subject(self) -> Any:
        """Return a fresh object under test, in the initial state."""
        raise NotImplementedError

    def feed(self, subject: Any, status: str) -> None:
        """Give ``status`` (any string: it may be unknown) to the object under test."""
        raise NotImplementedError

    def read_state(self, subject: Any) -> str:
        """Return the object's current status string."""
        raise NotImplementedError

    def submit(self, subject: Any, tool_call_ids: list[str]) -> None:
        """Tell the object under test that our outputs for these calls were accepted.

        Called only when :attr:`assume_client` is ``False``, while the run awaits the client.
        The default does nothing (an object that never learns of submissions must then reject
        every ``requires_action -> queued``, as the reference does without one).
        """

    def cancel(self, subject: Any) -> None:
        """Tell the object under test that we asked the server to cancel the run.

        Called only when :attr:`assume_client` is ``False``. The default does nothing (the
        reference then sees the cancel as someone else's, which it applies and flags).
        """

    def _step(self, status: str) -> None:
        self.reference.observe(status, assume_client=self.assume_client)
        self.feed(self.subject, status)

    @precondition(lambda self: not self.assume_client and self.reference.awaiting_client)
    @rule()
    def client_submits(self) -> None:
        """We submit one output per pending call, and the server accepts them."""
        ids = [c.id for c in self.reference.pending_tool_calls] or ["call_1"]
        self.reference.record_submission(ids)
        self.submit(self.subject, ids)

    @precondition(lambda self: not self.assume_client and not self.reference.is_terminal)
    @rule()
    def client_cancels(self) -> None:
        """We ask the server to cancel the run."""
        self.reference.request_cancel()
        self.cancel(self.subject)

    @precondition(lambda self: not self.reference.is_terminal)
    @rule(data=st.data())
    def legal_successor(self, data: st.DataObject) -> None:
        """The server moves the run along one edge of the table."""
        succ = sorted(self.spec.successors(self.reference.state))
        self._step(data.draw(st.sampled_from(succ)))

    @rule(status=st.data())
    def arbitrary_status(self, status: st.DataObject) -> None:
        """The server (or a stale read) reports any status at all."""
        self._step(status.draw(observations(self.spec)))

    @invariant()
    def same_state(self) -> None:
        """The object under test agrees with the engine."""
        expected = str(self.reference.state)
        actual = str(self.read_state(self.subject))
        assert actual == expected, f"subject is in {actual!r}, the table says {expected!r}"
