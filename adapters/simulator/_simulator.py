"""The :class:`Simulator`: state, scenarios, faults, server profile and observability behind one
object, for the Assistants endpoints and ``/v1/responses`` alike (optionally with webhooks)."""

from __future__ import annotations

import enum
import fnmatch
import threading
from collections.abc import Mapping
from typing import Any, Literal

import httpx2

from adapters.simulator._asgi import ASGIApp, RequestRecord, build_app
from adapters.simulator._clock import Clock, system_clock
from adapters.simulator._engine import Engine
from adapters.simulator._records import RunRecord
from adapters.simulator._responses_engine import ResponsesEngine
from adapters.simulator._responses_records import ChainEntry, McpRun, ResponseRecord
from adapters.simulator._transport import AsyncInProcessTransport, InProcessTransport, LoopThread
from adapters.simulator.faults import FaultSet
from adapters.simulator.profiles import PROFILES, PollAfter, ServerProfile
from adapters.simulator.scenarios import Scenario, SubmittedOutput
from adapters.simulator.scripts import ScriptRead, StatusScript
from adapters.simulator.webhooks import WebhookSender, new_secret

__all__ = ["PollAfter", "Simulator"]

Json = dict[str, Any]

IN_PROCESS_BASE_URL = "http://simulator.local/v1"


class _Unset(enum.Enum):
    """Marks an argument the caller did not pass."""

    UNSET = "unset"


def _profile(profile: ServerProfile | str | None) -> ServerProfile:
    if profile is None:
        return PROFILES["reference"]
    if isinstance(profile, ServerProfile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown profile {profile!r}; known: {sorted(PROFILES)}") from None


class Simulator:
    """An Assistants- and Responses-compatible server in memory: runs and response chains follow
    scenarios on an injectable clock.

    Args:
        clock: returns the time in seconds; default ``time.time``. Pass a
            :class:`~adapters.simulator.ManualClock` for deterministic tests.
        default_scenario: the scenario for runs (and chains) whose metadata name none: the name
            of a built-in one or of one in ``scenarios``, or a :class:`Scenario` /
            :class:`~adapters.simulator.StatusScript` itself (registered as ``"default"``).
        scenarios: your own scenarios by name (see :meth:`add_scenario`), e.g. your tools'
            calls, or ``load_scenarios(path).scenarios`` from a file
            (:mod:`adapters.simulator.scenario_file`).
        poll_after_ms: the ``openai-poll-after-ms`` value (see :data:`PollAfter`); changeable
            later via the attribute. When omitted, the profile's value (20 ms for the default
            ``"reference"`` profile, i.e. the same as before profiles existed).
        seed: seeds the id generator, for reproducible ids.
        profile: a :class:`~adapters.simulator.ServerProfile` or the name of one in
            :data:`~adapters.simulator.PROFILES` (default ``"reference"``); the :attr:`profile`
            attribute may be replaced later.
        webhook_url: when set, every terminal status a background response enters is POSTed
            there as a signed ``response.<status>`` event (see :mod:`adapters.simulator.webhooks`
            and :attr:`webhooks`).
        webhook_secret: the ``whsec_...`` signing secret (default: a fresh one, readable as
            ``sim.webhooks.secret``).
        webhook_client: the ``httpx2.Client`` the webhooks are POSTed with (e.g. over a mock
            transport); default: a new one.

    Precedence for ``openai-poll-after-ms``: the profile's ``poll_after_on`` decides which run
    responses carry the header at all; on those, the profile's ``poll_after_raw`` (when set) is
    sent as the exact text; otherwise the value comes from :attr:`poll_after_ms`, which is the
    explicit ``poll_after_ms`` argument when given and the profile's ``poll_after_ms`` if not.

    Raises:
        ValueError: ``default_scenario`` names no scenario (the message lists the known ones),
            or an unknown profile name.

    Example:
        >>> sim = Simulator(default_scenario="text")
        >>> client = openai.OpenAI(base_url="http://simulator.local/v1", api_key="sk-sim",
        ...                        http_client=sim.http_client())  # doctest: +SKIP
    """

    def __init__(
        self,
        clock: Clock | None = None,
        default_scenario: str | Scenario | StatusScript = "order-total",
        poll_after_ms: PollAfter | Literal[_Unset.UNSET] = _Unset.UNSET,
        *,
        scenarios: Mapping[str, Scenario | StatusScript] | None = None,
        seed: int | None = None,
        profile: ServerProfile | str | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_client: httpx2.Client | None = None,
    ) -> None:
        self.clock: Clock = clock if clock is not None else system_clock
        self.engine = Engine(self.clock, "order-total", seed)
        for name, scenario in (scenarios or {}).items():
            self.add_scenario(name, scenario)
        if isinstance(default_scenario, Scenario | StatusScript):
            self.add_scenario("default", default_scenario)
            default_scenario = "default"
        self.default_scenario = default_scenario
        self.responses = ResponsesEngine(self.engine)
        #: the webhook sender, when ``webhook_url`` was given
        self.webhooks: WebhookSender | None = None
        if webhook_url is not None:
            sender = WebhookSender(
                webhook_url, webhook_secret or new_secret(), self.tick, client=webhook_client
            )
            self.responses.listeners.append(
                lambda resp, status, at: sender.enqueue(f"response.{status}", resp.id, at)
            )
            self.webhooks = sender
        self.faults = FaultSet()
        self.profile: ServerProfile = _profile(profile)
        self.poll_after_ms: PollAfter = (
            self.profile.poll_after_ms if poll_after_ms is _Unset.UNSET else poll_after_ms
        )
        self._requests: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._poll_index = 0
        self._raw_index = 0
        self._loop: LoopThread | None = None
        self.app: ASGIApp = build_app(self)

    # -- the Host protocol used by the app -------------------------------------------------------

    def poll_after_header(self, op: str, body: Json) -> str | None:
        """The ``openai-poll-after-ms`` text for a run response (``None``: no header).

        Args:
            op: the response's op, one of :data:`~adapters.simulator.ALL_RUN_OPS`.
            body: the JSON body being answered (the run, or for ``"list"`` the list object).
        """
        if op not in self.profile.poll_after_on:
            return None
        raw = self.profile.raw_texts()
        if raw:
            with self._log_lock:
                index = min(self._raw_index, len(raw) - 1)
                self._raw_index += 1
            return raw[index]
        value = self.poll_after(body)
        return None if value is None else str(value)

    def poll_after(self, run: Json) -> int | None:
        """The ``openai-poll-after-ms`` value for this response, per :attr:`poll_after_ms`."""
        policy = self.poll_after_ms
        if policy is None or isinstance(policy, int):
            return policy
        if callable(policy):
            return policy(run)
        with self._log_lock:
            index = min(self._poll_index, len(policy) - 1)
            self._poll_index += 1
        return policy[index] if policy else None

    def record(self, record: RequestRecord) -> None:
        """Store a request record (called by the app)."""
        with self._log_lock:
            self._requests.append(record)

    # -- scenarios ------------------------------------------------------------------------------

    def add_scenario(self, name: str, scenario: Scenario | StatusScript) -> None:
        """Register (or replace) a named scenario or status script for this simulator.

        Runs pick it with ``metadata={"scenario": name}`` (on the run or its assistant), or by
        default when ``name`` is :attr:`default_scenario`; so do responses (``metadata`` on the
        create that starts a chain; status scripts serve runs only). Runs and chains already
        created keep theirs.

        Args:
            name: the scenario name.
            scenario: a :class:`Scenario` (played by the documented API rules) or a
                :class:`~adapters.simulator.StatusScript` (served as written; see
                :mod:`adapters.simulator.scripts`).
        """
        with self.engine.lock:
            if isinstance(scenario, StatusScript):
                self.engine.scenarios.pop(name, None)
                self.engine.scripts[name] = scenario
            else:
                self.engine.scripts.pop(name, None)
                self.engine.scenarios[name] = scenario

    @property
    def default_scenario(self) -> str:
        """The scenario name used when none is given."""
        return self.engine.default_scenario

    @default_scenario.setter
    def default_scenario(self, name: str) -> None:
        with self.engine.lock:
            if name not in self.engine.scenarios and name not in self.engine.scripts:
                raise ValueError(
                    f"unknown scenario {str(name)[:100]!r}; known: {', '.join(self.scenario_names)}"
                )
            self.engine.default_scenario = name

    @property
    def scenario_names(self) -> list[str]:
        """Every scenario and status script a run may name, sorted."""
        with self.engine.lock:
            return sorted({*self.engine.scenarios, *self.engine.scripts})

    # -- clients ----------------------------------------------------------------------------------

    def http_client(self, **kwargs: Any) -> httpx2.Client:
        """A sync ``httpx2.Client`` that reaches this simulator in-process (no socket).

        Args:
            **kwargs: passed to ``httpx2.Client`` (e.g. ``timeout``).
        """
        with self._log_lock:
            if self._loop is None:
                self._loop = LoopThread()
            loop = self._loop
        return httpx2.Client(transport=InProcessTransport(self.app, loop), **kwargs)

    def async_http_client(self, **kwargs: Any) -> httpx2.AsyncClient:
        """An async ``httpx2.AsyncClient`` that reaches this simulator in-process (no socket)."""
        return httpx2.AsyncClient(transport=AsyncInProcessTransport(self.app), **kwargs)

    def close(self) -> None:
        """Stop the private loop thread used by sync in-process clients and the webhook
        sender's thread, if any."""
        with self._log_lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            loop.close()
        if self.webhooks is not None:
            self.webhooks.close()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- observability ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request seen so far (a copy), oldest first."""
        with self._log_lock:
            return list(self._requests)

    def request_count(self, method: str | None = None, path_glob: str | None = None) -> int:
        """How many requests matched ``method`` and the ``fnmatch`` glob ``path_glob``."""
        return sum(
            1
            for r in self.requests
            if (method is None or r.method.upper() == method.upper())
            and (path_glob is None or fnmatch.fnmatchcase(r.path, path_glob))
        )

    @property
    def runs(self) -> dict[str, RunRecord]:
        """The runs by id (a copy of the mapping; advance with :meth:`tick` first if needed)."""
        with self.engine.lock:
            return dict(self.engine.runs)

    def tick(self) -> None:
        """Advance every run and response to the clock's current time."""
        with self.engine.lock:
            self.engine.advance_all()
            self.responses.advance_all()

    def run_history(self, run_id: str) -> list[tuple[str, float]]:
        """Every status the run entered, with the sim-clock time of the change, oldest first.

        Statuses are plain strings (``"queued"``, ...). For a scripted run (:meth:`is_scripted`):
        one entry per script step that became current (so a repeated status shows twice, and an
        unknown status string appears as served); such a history follows no rule. For any other
        run the history follows the documented API behaviour (``_behaviour.py``): it starts
        ``queued`` and each change is one the scenario and the API rules make.

        Raises:
            KeyError: for an unknown run id.
        """
        with self.engine.lock:
            run = self.engine.runs[run_id]
            self.engine.advance(run)
            return list(run.history)

    def is_scripted(self, run_id: str) -> bool:
        """Whether the run follows a status script (and may therefore break the API's rules).

        Raises:
            KeyError: for an unknown run id.
        """
        with self.engine.lock:
            return self.engine.runs[run_id].script is not None

    def script_reads(self, run_id: str) -> list[ScriptRead]:
        """Every JSON response that carried a scripted run, oldest first (what was served).

        Stream events are not reads; see :meth:`run_events` for those.

        Raises:
            KeyError: for an unknown run id.
            ValueError: if the run is not scripted.
        """
        with self.engine.lock:
            state = self.engine.runs[run_id].script
            if state is None:
                raise ValueError(f"run {run_id} does not follow a status script")
            return list(state.reads)

    def tool_outputs(self, run_id: str) -> list[list[SubmittedOutput]]:
        """What the client submitted, one list per requires_action round.

        Raises:
            KeyError: for an unknown run id.
        """
        with self.engine.lock:
            return [list(r) for r in self.engine.runs[run_id].rounds]

    def run_events(self, run_id: str) -> list[str]:
        """The names of every stream event the run produced so far, in order."""
        with self.engine.lock:
            run = self.engine.runs[run_id]
            self.engine.advance(run)
            return [e.event for e in run.events]

    # -- responses -------------------------------------------------------------------------------

    def response_ids(self) -> list[str]:
        """Every response id created so far (deleted ones too), oldest first."""
        with self.engine.lock:
            return list(self.responses.responses)

    def _response(self, response_id: str) -> ResponseRecord:
        resp = self.responses.responses[response_id]
        self.responses.advance(resp)
        return resp

    def response_chain(self, response_id: str) -> list[ChainEntry]:
        """The chain through ``response_id``, first response first: what each response was
        created with (``outputs``) and the calls it ended with (``calls``).

        From ``response_id`` the chain goes back along ``previous_response_id`` to its first
        response, and forward along the first answer of each response (``answered_by`` lists
        every answer, so a fork shows there).

        Raises:
            KeyError: for an unknown response id.
        """
        with self.engine.lock:
            return self.responses.chain(response_id)

    def mcp_runs(self) -> list[McpRun]:
        """Every run of an approved MCP tool (an ``mcp_call`` item), oldest first; at most one
        per approval request (``ChainEntry.decisions`` say what each response decided)."""
        with self.engine.lock:
            self.responses.advance_all()
            return list(self.responses.mcp_runs)

    def response_history(self, response_id: str) -> list[tuple[str, float]]:
        """Every status the response entered, with the sim-clock time, oldest first.

        A background response starts ``queued``, a foreground one ``in_progress``; a cancelled
        response whose scenario loses the cancel race later shows its flip (e.g. ``cancelled``
        then ``completed``), the one move out of a terminal status the simulator makes.

        Raises:
            KeyError: for an unknown response id.
        """
        with self.engine.lock:
            return list(self._response(response_id).history)

    def response_events(self, response_id: str) -> list[str]:
        """The types of every stream event the response produced so far, in order (the index
        is the event's ``sequence_number``).

        Raises:
            KeyError: for an unknown response id.
        """
        with self.engine.lock:
            return [e.event for e in self._response(response_id).events]
