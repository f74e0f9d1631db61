"""What a :class:`~adapters.simulator.ServerProfile` does to the bytes: garbage bodies and header
oddities.

Theory of operation
-------------------
The routes (``_app.py``) decide *when* a profile applies (which op carries
``openai-poll-after-ms``, whether ``stream=true`` gets SSE, which GET of a run is garbage); this
module holds *what* goes on the wire then, as pure functions over ASGI messages, so both
transports (in-process and uvicorn) send exactly the same thing:

* :func:`garbage` - the four non-run answers to a GET of a run (or of a response), taken in turn;
* :func:`odd_start` - rewrites a response's ``http.response.start`` headers: the app's own names
  upper-cased (``CONTENT-TYPE``), ``application/json; charset=utf-8``, then duplicated harmless
  headers and unknown ``x-`` headers in Title-Case, as a proxy would add them;
* :func:`header_text` - a header value as HTTP/1.1 can carry it (surrounding whitespace removed,
  as every parser would; h11 refuses to send it at all).
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

__all__ = ["GARBAGE_KINDS", "garbage", "header_text", "odd_start"]

Json = dict[str, Any]
Message = MutableMapping[str, Any]

#: the garbage answers, in the order they are served
GARBAGE_KINDS = ("malformed-json", "html", "json-array", "run-without-status")
_HTML = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><h1>502 Bad Gateway</h1><p>The upstream answered nothing usable.</p></body></html>\n"
)
#: added to every response by ``odd_headers``: duplicated harmless headers and unknown ones
_ODD_EXTRA = (
    (b"Vary", b"Accept-Encoding"),
    (b"Vary", b"Accept-Encoding"),
    (b"X-Content-Type-Options", b"nosniff"),
    (b"X-Content-Type-Options", b"nosniff"),
    (b"X-Envoy-Upstream-Service-Time", b"12"),
    (b"X-Sim-Oddity", b"unknown-header"),
)


def garbage(index: int, run: Json) -> tuple[bytes, bytes]:
    """The ``index``-th garbage answer (0-based, taken in turn) to a GET of ``run``.

    Args:
        index: how many garbage answers were served before this one.
        run: the run (or response) object the server would have sent (for ids and fields).

    Returns:
        ``(content_type, body)``.
    """
    kind = GARBAGE_KINDS[index % len(GARBAGE_KINDS)]
    if kind == "malformed-json":
        return b"application/json", b'{"id": "run_'
    if kind == "html":
        return b"text/html; charset=utf-8", _HTML
    if kind == "json-array":
        item = {k: run[k] for k in ("id", "object", "thread_id") if k in run}
        return b"application/json", json.dumps([item]).encode()
    partial = {k: v for k, v in run.items() if k != "status"}
    return b"application/json", json.dumps(partial).encode()


def header_text(text: str) -> str:
    """A header value as it reaches a client: surrounding spaces and tabs removed."""
    return text.strip(" \t")


def odd_start(message: Message) -> Message:
    """A copy of an ``http.response.start`` message with the ``odd_headers`` oddities."""
    headers: list[tuple[bytes, bytes]] = []
    for name, value in message.get("headers", []):
        if name.lower() == b"content-type" and value == b"application/json":
            value = b"application/json; charset=utf-8"
        headers.append((bytes(name).upper(), bytes(value)))
    headers.extend(_ODD_EXTRA)
    return {**message, "headers": headers}
