"""Server profiles: named servers that do not share the run controller's assumptions.

Theory of operation
-------------------
A new user drove the controller against an independent Assistants-compatible server and found
defects the simulator could not show, because the simulator answered the way the controller
expected. A :class:`ServerProfile` describes, as data, how a server answers on the wire, apart
from which statuses it serves (that is the job of scenarios and status scripts):

* which run (and ``/v1/responses``) answers carry ``openai-poll-after-ms``, with which value, or
  with which raw text; the ops are named in :data:`ALL_RUN_OPS` and :data:`ALL_RESPONSE_OPS`;
* whether ``stream=true`` is honoured with SSE, or answered with the plain JSON run (response);
* whether some GETs of a run or response are answered 200 with a body that is not one;
* whether responses carry header oddities (upper-case names, a ``charset`` parameter,
  duplicated and unknown headers);
* the two Responses behaviours the API leaves open: what a cancel of a finished background
  response does (returned unchanged, or 400), and whether a previous response's function calls
  may be answered twice (a 400, or a fork of the chain).

Pick one with ``Simulator(profile="no-sse")`` (or a :class:`ServerProfile` of your own). The
profile is applied inside the simulator's ASGI app, so the in-process transports and the loopback
server serve the same bytes and headers.

One limit of HTTP/1.1 itself: optional whitespace around a header value is not part of the value
(RFC 9110, 5.5), h11 refuses to send it and every parser strips it. A raw header text such as
``" 20 "`` therefore reaches every client as ``"20"``, on both transports alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ALL_OPS", "ALL_RESPONSE_OPS", "ALL_RUN_OPS", "PROFILES", "PollAfter", "ServerProfile"]

Json = dict[str, Any]
#: a fixed value, ``None`` (no header), a sequence used in turn (the last one repeats), or a
#: callable over the JSON body being answered (the run; for ``"list"`` the list object)
PollAfter = int | None | Sequence[int] | Callable[[Json], int | None]

#: every kind of run response that may carry ``openai-poll-after-ms``: create (also
#: create-thread-and-run), retrieve (GET the run), update (POST run metadata), submit (tool
#: outputs), cancel, and list (GET the thread's runs)
ALL_RUN_OPS = frozenset({"create", "retrieve", "update", "submit", "cancel", "list"})
#: every ``/v1/responses`` answer that may carry ``openai-poll-after-ms``: ``response.create``
#: (``POST /responses``, background or finished foreground; not an SSE answer),
#: ``response.retrieve`` (``GET /responses/{id}`` as JSON) and ``response.cancel``. Deletes and
#: input-item lists carry no response, so no header.
ALL_RESPONSE_OPS = frozenset({"response.create", "response.retrieve", "response.cancel"})
#: every op a profile may name in ``poll_after_on``
ALL_OPS = ALL_RUN_OPS | ALL_RESPONSE_OPS
#: header text h11 can send: visible ASCII, spaces and tabs
_HEADER_TEXT = re.compile(r"[\x20-\x7e\t]*")


@dataclass(frozen=True)
class ServerProfile:
    """How a simulated server answers on the wire.

    Attributes:
        name: the profile's name (the key in :data:`PROFILES` for shipped ones).
        description: what it models, for listings.
        poll_after_ms: the ``openai-poll-after-ms`` value (see :data:`PollAfter`); an explicit
            ``Simulator(poll_after_ms=...)`` overrides it.
        poll_after_on: which answers carry the header (a subset of :data:`ALL_OPS`: run ops and
            response ops).
        poll_after_raw: when set, the header's exact text instead of the value: one string, or a
            sequence used in turn (the last one repeats). Surrounding whitespace does not survive
            HTTP/1.1 (see the module docstring).
        sse: ``False``: a ``stream=true`` request (create run, create thread-and-run, submit) is
            answered with the plain JSON run (200, ``application/json``), as by a server that
            ignores ``stream``; likewise ``POST /responses`` and ``GET /responses/{id}`` with
            ``stream=true`` answer the plain JSON response (a foreground create once finished).
        garbage_every: every Nth GET of a run or response (one count across the simulator) is
            answered 200 with a body that is not one, in turn: malformed JSON, an HTML page
            (``text/html``), a JSON array, a JSON object without ``status``. Such an answer
            carries no ``openai-poll-after-ms`` and does not count as a read of a status script.
        odd_headers: every response gets header oddities: upper-case names,
            ``application/json; charset=utf-8``, duplicated harmless headers, unknown ``x-``
            headers.
        finished_cancel: ``POST /responses/{id}/cancel`` of a background response that has
            already finished: ``"return"`` it unchanged (200, what compatible servers do), or
            ``"reject"`` it (400 ``Cannot cancel a response that is already <status>.``).
        second_answer: a create answering the function calls of a previous response that
            already has a live answer (queued, in progress or completed): ``"reject"`` it (400,
            the stricter choice, since the docs do not say) or ``"fork"`` the chain (each answer
            continues its own branch, as forking a conversation from any response does).

    Raises:
        ValueError: for an unknown op in ``poll_after_on``, a ``garbage_every`` below 1, an
            empty ``poll_after_raw`` sequence, or raw text no HTTP server can send.
    """

    name: str
    description: str
    poll_after_ms: PollAfter = 20
    poll_after_on: frozenset[str] = ALL_OPS
    poll_after_raw: str | Sequence[str] | None = None
    sse: bool = True
    garbage_every: int | None = None
    odd_headers: bool = False
    finished_cancel: Literal["return", "reject"] = "return"
    second_answer: Literal["reject", "fork"] = "reject"

    def __post_init__(self) -> None:
        on = frozenset(self.poll_after_on)
        unknown = sorted(on - ALL_OPS)
        if unknown:
            raise ValueError(f"unknown ops {unknown}; known: {sorted(ALL_OPS)}")
        if self.finished_cancel not in ("return", "reject"):
            raise ValueError(f"finished_cancel: 'return' or 'reject', not {self.finished_cancel!r}")
        if self.second_answer not in ("reject", "fork"):
            raise ValueError(f"second_answer: 'reject' or 'fork', not {self.second_answer!r}")
        object.__setattr__(self, "poll_after_on", on)
        if isinstance(self.poll_after_ms, Sequence):
            object.__setattr__(self, "poll_after_ms", tuple(self.poll_after_ms))
        raw = self.poll_after_raw
        if raw is not None and not isinstance(raw, str):
            raw = tuple(raw)
            if not raw:
                raise ValueError("poll_after_raw needs at least one text (or None)")
            object.__setattr__(self, "poll_after_raw", raw)
        for text in (raw,) if isinstance(raw, str) else raw or ():
            if _HEADER_TEXT.fullmatch(text) is None:
                raise ValueError(f"{text!r} cannot be sent as a header value")
        if self.garbage_every is not None and self.garbage_every < 1:
            raise ValueError("garbage_every must be at least 1 (or None)")

    def raw_texts(self) -> tuple[str, ...]:
        """``poll_after_raw`` as a tuple (empty when unset)."""
        raw = self.poll_after_raw
        if raw is None:
            return ()
        return (raw,) if isinstance(raw, str) else tuple(raw)


#: The shipped profiles, by name: ``Simulator(profile=name)``.
PROFILES: dict[str, ServerProfile] = {
    p.name: p
    for p in (
        ServerProfile(
            "reference",
            "the simulator's default: openai-poll-after-ms: 20 on every run and response "
            "answer, SSE; a finished response's cancel returns it, a second answer is a 400",
        ),
        ServerProfile(
            "get-only-poll-after",
            "openai-poll-after-ms: 50 only on GET run responses (retrieve, list) and GET "
            "/responses/{id}, never on create, update, submit or cancel; what the independent "
            "server did",
            poll_after_ms=50,
            poll_after_on=frozenset({"retrieve", "list", "response.retrieve"}),
        ),
        ServerProfile(
            "no-poll-after",
            "never any openai-poll-after-ms header",
            poll_after_ms=None,
            poll_after_on=frozenset(),
        ),
        ServerProfile(
            "no-sse",
            "like reference, but stream=true is ignored: the answer is the plain JSON run",
            sse=False,
        ),
        ServerProfile(
            "garbage-bodies",
            "like reference, but every 3rd GET of a run is answered 200 with a body that is "
            "not a run (malformed JSON, HTML, a JSON array, a run without status, in turn)",
            garbage_every=3,
        ),
        ServerProfile(
            "odd-headers",
            "like reference, with upper-case header names, a charset parameter, duplicated and "
            "unknown headers, and openai-poll-after-ms texts nan, inf, -5, 1e12, abc, ' 20 ' "
            "(the last repeating; sent as '20', see the module docstring)",
            poll_after_raw=("nan", "inf", "-5", "1e12", "abc", " 20 "),
            odd_headers=True,
        ),
        ServerProfile(
            "cancel-400-forks",
            "like reference, but with the Responses API's other open choices: a cancel of a "
            "finished background response is 400, and a previous response's function calls "
            "may be answered more than once (each answer forks the chain)",
            finished_cancel="reject",
            second_answer="fork",
        ),
    )
}
