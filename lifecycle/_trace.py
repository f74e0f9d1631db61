"""Status traces: read a recorded sequence of observed statuses and check it against a table.

A trace is text: either one status per line (blank lines and ``#`` comments skipped), or JSON Lines
whose objects carry a ``"status"`` string (and optionally ``"via"`` and ``"at"``, a finite number of
seconds). Both forms may be mixed line by line; a leading UTF-8 byte order mark is ignored.
Checking replays the observations through a fresh :class:`RunLifecycle`, so a trace is judged by
exactly the rules the engine applies to a live run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr

from lifecycle._machine import RunLifecycle
from lifecycle._records import REJECTING_KINDS, Via
from lifecycle._spec import LifecycleSpec
from lifecycle.errors import LifecycleError

__all__ = ["Observation", "TraceError", "TraceFinding", "TraceReport", "check_trace", "read_trace"]

_VIAS = frozenset(v.value for v in Via)
#: the longest observed status a finding repeats (the engine keeps this many characters)
SHOWN_STATUS = 200


class TraceError(LifecycleError):
    """A trace could not be read (bad JSON, missing status, empty)."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass(frozen=True, slots=True)
class Observation:
    """One observed status of a trace, with its 1-based line number."""

    line: int
    status: str
    via: str = Via.POLL
    at: float | None = None


def read_trace(text: str) -> list[Observation]:
    """Parse a trace.

    A byte order mark at the start of the text (an editor's UTF-8 BOM) is not part of the first
    status.

    Raises:
        TraceError: a line is not valid (bad JSON, not an object, no string ``status``, a bad
            ``via``, an ``at`` that is not a finite number), or the trace holds no observation.
    """
    out: list[Observation] = []
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            out.append(_json_line(number, line))
        else:
            out.append(Observation(line=number, status=line))
    if not out:
        raise TraceError(0, "the trace holds no observation")
    return out


def _json_line(number: int, line: str) -> Observation:
    try:
        data: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TraceError(number, f"invalid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise TraceError(number, "a JSON line must be an object")
    status = data.get("status")
    if not isinstance(status, str) or not status:
        raise TraceError(number, 'a JSON line needs a non-empty string "status"')
    via = data.get("via", Via.POLL)
    if via not in _VIAS:
        raise TraceError(number, f'"via" must be one of {", ".join(sorted(_VIAS))}')
    at = data.get("at")
    if at is not None and (
        isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at)
    ):
        raise TraceError(number, '"at" must be a finite number of seconds')
    return Observation(line=number, status=status, via=str(via), at=at)


class TraceFinding(BaseModel):
    """An anomaly (or a note) found at one line of a trace."""

    model_config = ConfigDict(frozen=True)

    line: int
    kind: str
    state: str
    observed: str
    detail: str


class TraceReport(BaseModel):
    """The result of :func:`check_trace`.

    Attributes:
        lifecycle: the table checked against.
        ok: ``True`` when no observation was rejected.
        final_state: the state after the whole trace.
        observations: how many observations were read.
        transitions: how many transitions were applied (inferred ones included).
        anomalies: rejected observations (unknown, regression, change after terminal).
        notes: accepted but flagged observations (e.g. a cancel nobody here requested).
    """

    lifecycle: str
    ok: bool
    final_state: str
    observations: int
    transitions: int
    anomalies: list[TraceFinding]
    notes: list[TraceFinding]
    _run: RunLifecycle = PrivateAttr()

    @property
    def run(self) -> RunLifecycle:
        """The lifecycle the trace was replayed into (its history and anomalies)."""
        return self._run

    def lines(self) -> list[str]:
        """A human report, one line per finding, then a summary line."""
        out = [
            f"line {f.line}: {f.kind}: observed {f.observed!r} in state {f.state!r} ({f.detail})"
            for f in self.anomalies
        ]
        out += [
            f"line {f.line}: note: {f.kind}: {f.observed!r} in state {f.state!r} ({f.detail})"
            for f in self.notes
        ]
        verdict = "ok" if self.ok else f"{len(self.anomalies)} anomalies"
        out.append(
            f"{self.lifecycle}: {self.observations} observations, {self.transitions} transitions, "
            f"final state {self.final_state}: {verdict}"
        )
        return out


def check_trace(
    observations: list[Observation], spec: LifecycleSpec[Any], *, assume_client: bool = True
) -> TraceReport:
    """Replay ``observations`` through a fresh lifecycle of ``spec`` and report every anomaly.

    Args:
        observations: from :func:`read_trace`.
        spec: the lifecycle table.
        assume_client: a trace records the server's statuses, not the client's requests, so by
            default a client-driven edge (submit, cancel) in the trace is taken as requested.
            With ``False`` the engine's live policy applies (an unrequested submit is a
            regression, an unrequested cancel a note).
    """
    run = RunLifecycle(spec)
    anomalies: list[TraceFinding] = []
    notes: list[TraceFinding] = []
    for obs in observations:
        seen = run.anomaly_count  # counting, not copying: checking stays linear in the trace
        run.observe(obs.status, via=obs.via, at=obs.at, assume_client=assume_client)
        if run.anomaly_count == seen:
            continue
        for a in run.anomalies_since(seen):
            observed, detail = a.observed, a.detail
            if len(obs.status) > SHOWN_STATUS and observed == obs.status[:SHOWN_STATUS]:
                observed += "..."  # the engine kept the first characters; say that it cut
                detail = f"{detail}; the status has {len(obs.status):,} characters"
            finding = TraceFinding(
                line=obs.line, kind=a.kind, state=a.state, observed=observed, detail=detail
            )
            (anomalies if a.kind in REJECTING_KINDS else notes).append(finding)
    report = TraceReport(
        lifecycle=spec.name,
        ok=not anomalies,
        final_state=str(run.state),
        observations=len(observations),
        transitions=len(run.history),
        anomalies=anomalies,
        notes=notes,
    )
    report._run = run
    return report
