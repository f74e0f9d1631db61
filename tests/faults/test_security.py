"""Security rows: no secret in logs, reprs, journals, snapshots or the store (S35, I8)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import openai
import pytest

from adapters.simulator import Answer, CallTools, Fault, Queue, Scenario, ToolCallSpec
from adapters.store import RunStore
from lifecycle import ToolRegistry
from tests.faults.harness import SECRET_KEY, World, iter_text

#: substrings of the key that must never appear (the whole key and distinctive slices of it)
NEEDLES = [SECRET_KEY, SECRET_KEY[3:], SECRET_KEY[-16:], "SECRETSECRET"]


def _assert_clean(texts: list[str], where: str) -> None:
    for text in texts:
        for needle in NEEDLES:
            assert needle not in text, f"secret leaked in {where}: ...{needle[:6]}..."


def test_s35_debug_logs_and_forced_exceptions_never_show_the_key(
    world: World, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """S35: DEBUG everywhere, a tool raising with the key in its message, 5xx storms and an
    exhausted retry: no key substring in logs, reprs, outcomes, journals, snapshots or store."""
    caplog.set_level(logging.DEBUG)  # root: openai, httpx2, adapters.openai, everything
    tools = ToolRegistry()

    @tools.tool
    def leak(order: str) -> str:
        """Raises an exception whose message carries the key (a careless tool)."""
        raise RuntimeError(f"auth failed with api_key={SECRET_KEY} for {order}")

    @tools.tool
    def fine(order: str) -> str:
        """A normal tool."""
        return f"ok {order}"

    calls = (ToolCallSpec.of("leak", {"order": "a"}), ToolCallSpec.of("fine", {"order": "b"}))
    meta = world.scenario("s35", Scenario((Queue(), CallTools(calls), Answer("{outputs}"))))
    world.sim.faults.add(Fault(method="GET", path="/v1/threads/*/runs/*", status=500, times=2))
    controller = world.controller(tools)
    out = controller.run(thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta)
    assert out.status == "completed"

    # a forced exception that escapes: every create and every lookup fails (no run is known)
    world.sim.faults.add(Fault(method="POST", path="/v1/threads/*/runs", status=503, times=None))
    world.sim.faults.add(Fault(method="GET", path="/v1/threads/*/runs", status=503, times=None))
    with pytest.raises(openai.APIError) as info:
        controller.run(thread_id=world.thread(), assistant_id=world.assistant_id)
    world.sim.faults.clear()

    store = RunStore(tmp_path / "runs.db")
    assert out.snapshot is not None
    store.save(out.run_id, thread_id=out.thread_id, lifecycle=out.snapshot, ledger=out.ledger)
    stored = store.load(out.run_id)
    store.close()

    log_text = [r.getMessage() for r in caplog.records] + [
        json.dumps({k: str(v) for k, v in r.__dict__.items()}) for r in caplog.records
    ]
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    _assert_clean(log_text, "logs")
    _assert_clean(list(iter_text(info.value, info.value.args, controller, out)), "reprs")
    _assert_clean([out.to_json(), out.snapshot.model_dump_json()], "outcome/snapshot")
    _assert_clean([out.ledger.model_dump_json()], "ledger")
    _assert_clean(list(iter_text(*out.history, *out.anomalies, *out.tool_calls)), "journal")
    _assert_clean(list(iter_text(stored)), "store")
    raw = (tmp_path / "runs.db").read_bytes()
    wal = tmp_path / "runs.db-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert SECRET_KEY.encode() not in raw
    # what went over the wire as tool outputs is redacted too
    submitted = [o.output for r in world.sim.tool_outputs(out.run_id) for o in r]
    _assert_clean(submitted, "submitted outputs")


def test_the_tool_registry_dispatches_only_registered_allowed_names() -> None:
    """Dispatch only through the registry: dunder and attribute names never resolve."""
    from lifecycle import ToolCall

    tools = ToolRegistry()

    @tools.tool
    def ok(x: int) -> int:
        """Fine."""
        return x

    for name in ["__class__", "__init__", "_tools", "register", "prepare", "ok.__call__", "OK"]:
        prepared = tools.prepare(ToolCall("c1", name, '{"x": 1}'))
        assert not prepared.ready
        assert prepared.error is not None
        assert prepared.error.error == "unknown_tool"
    denied = tools.prepare(ToolCall("c2", "ok", '{"x": 1}'), allowed=[])
    assert denied.error is not None
    assert json.loads(denied.error.output)["error"]["allowed"] == []


def test_a_tool_output_carrying_the_key_is_redacted_everywhere(world: World) -> None:
    """I8: a (careless) tool returns the client's key as a bearer token: it must not reach the
    submitted output, the outcome's repr or its JSON export."""
    tools = ToolRegistry()

    @tools.tool
    def echo_header(order: str) -> str:
        """Returns a text containing the key as a bearer token."""
        return f"Authorization: Bearer {SECRET_KEY}"

    calls = (ToolCallSpec.of("echo_header", {"order": "b"}),)
    meta = world.scenario("i8", Scenario((Queue(), CallTools(calls), Answer("{outputs}"))))
    out = world.controller(tools).run(
        thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
    )
    submitted = [o.output for r in world.sim.tool_outputs(out.run_id) for o in r]
    _assert_clean(submitted, "submitted outputs")
    _assert_clean(list(iter_text(out)), "outcome repr")
    _assert_clean([out.to_json()], "outcome JSON")


#: third-party credentials a tool may come across, in every form redact_secrets knows
FOREIGN = {
    "token=": "tok-foreign-AAAA1111",
    "json api_key": "key-foreign-BBBB2222",
    "basic": "YmFzaWMtZm9yZWlnbi1DQ0NDMzMzMw",
    "secret:": "sec-foreign-DDDD4444",
}


def test_foreign_credentials_in_tool_outputs_and_errors_reach_nothing(
    world: World, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """A tool returns ``token=...`` and a JSON ``"api_key"``, another raises with an
    ``Authorization: Basic`` header and a ``secret:``: none of the values reaches the submitted
    outputs, the logs (DEBUG), the controller's or the outcome's repr, the outcome's JSON, the
    journal, the snapshot, the ledger or the store's file."""
    caplog.set_level(logging.DEBUG)
    tools = ToolRegistry()

    @tools.tool
    def fetch(order: str) -> dict[str, str]:
        """Returns what an upstream service said, credentials included (a careless tool)."""
        return {
            "note": f"called with token={FOREIGN['token=']}",
            "config": json.dumps({"api_key": FOREIGN["json api_key"]}),
        }

    @tools.tool
    def fail(order: str) -> str:
        """Raises with the request's headers in its message."""
        raise RuntimeError(
            f"401 for Authorization: Basic {FOREIGN['basic']} secret: {FOREIGN['secret:']}"
        )

    calls = (ToolCallSpec.of("fetch", {"order": "a"}), ToolCallSpec.of("fail", {"order": "b"}))
    meta = world.scenario("foreign", Scenario((Queue(), CallTools(calls), Answer("{outputs}"))))
    store = RunStore(tmp_path / "runs.db")
    controller = world.controller(tools, store=store)
    out = controller.run(thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta)
    assert out.status == "completed"
    stored = store.load(out.run_id)
    store.close()
    submitted = [o.output for r in world.sim.tool_outputs(out.run_id) for o in r]
    assert len(submitted) == 2
    assert any("[redacted]" in s for s in submitted)
    texts = {
        "submitted outputs": submitted,
        "logs": [r.getMessage() for r in caplog.records]
        + [json.dumps({k: str(v) for k, v in r.__dict__.items()}) for r in caplog.records],
        "reprs": list(iter_text(controller, out)),
        "outcome JSON": [out.to_json()],
        "journal": list(iter_text(*out.history, *out.anomalies, *out.tool_calls)),
        "snapshot and ledger": [
            out.snapshot.model_dump_json() if out.snapshot is not None else "",
            out.ledger.model_dump_json(),
        ],
        "store": list(iter_text(stored)),
    }
    raw = (tmp_path / "runs.db").read_bytes()
    wal = tmp_path / "runs.db-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    for where, found in texts.items():
        for text in found:
            for form, value in FOREIGN.items():
                assert value not in text, f"{form} credential leaked in {where}"
    for form, value in FOREIGN.items():
        assert value.encode() not in raw, f"{form} credential leaked in the store's file"
