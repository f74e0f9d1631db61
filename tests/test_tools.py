"""Unit tests of the tool registry (schemas, every error output kind, truncation) and the ledger."""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, create_model

from lifecycle import (
    CallState,
    ToolCall,
    ToolDispatchError,
    ToolLedger,
    ToolOutput,
    ToolRegistry,
    redact_secrets,
)


class ItemType(StrEnum):
    BOOKS = "books"
    STATIONERY = "stationery"


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_type: ItemType
    quantity: int


def make_registry(**kw: Any) -> tuple[ToolRegistry, list[str]]:
    reg = ToolRegistry(**kw)
    ran: list[str] = []

    @reg.tool
    def order_total(items: list[Item]) -> dict[str, int]:
        """Compute an order total.

        Args:
            items: the items ordered,
                one entry per item type.
        """
        ran.append("order_total")
        return {"total": sum(i.quantity * 10 for i in items)}

    @reg.tool(name="greet", description="Say hello.")
    def hello(name: str, excited: bool = False) -> str:
        ran.append("greet")
        return f"hello {name}" + ("!" if excited else "")

    @reg.tool
    async def slow_echo(text: str) -> str:
        """Echo text asynchronously."""
        ran.append("slow_echo")
        return text

    @reg.tool
    def boom(code: int) -> str:
        """Always raises."""
        ran.append("boom")
        raise ValueError(f"bad code {code}; api_key=sk-abcdefghijklmnop")

    return reg, ran


def error_of(out: ToolOutput) -> dict[str, Any]:
    body = json.loads(out.output)
    assert set(body) == {"error"}
    err: dict[str, Any] = body["error"]
    return err


def test_definitions_are_openai_function_tools_with_strict_where_valid() -> None:
    """Schemas come from the signature; strict only when all properties are required."""
    reg, _ = make_registry()
    defs = {d["function"]["name"]: d for d in reg.definitions()}
    assert list(defs) == ["order_total", "greet", "slow_echo", "boom"]
    total = defs["order_total"]
    assert total["type"] == "function"
    fn = total["function"]
    assert fn["description"] == "Compute an order total."
    assert fn["strict"] is True
    params = fn["parameters"]
    assert params["type"] == "object"
    assert params["additionalProperties"] is False
    assert params["required"] == ["items"]
    assert params["properties"]["items"]["description"] == (
        "the items ordered, one entry per item type."
    )
    assert params["$defs"]["ItemType"]["enum"] == ["books", "stationery"]
    greet = defs["greet"]["function"]
    assert greet["description"] == "Say hello."
    assert greet["strict"] is False  # `excited` has a default, so it is not required
    assert greet["parameters"]["required"] == ["name"]


def test_definitions_respect_the_allowlist() -> None:
    """Only allowed tools are shown."""
    reg, _ = make_registry()
    assert [d["function"]["name"] for d in reg.definitions({"greet"})] == ["greet"]


class Loose(BaseModel):
    x: int


Wide = create_model("Wide", **{f"field_{i}": (int, ...) for i in range(40)})  # type: ignore[call-overload]


def test_nested_model_without_extra_forbid_is_not_strict() -> None:
    """A nested object that allows extra properties disqualifies strict mode."""
    reg = ToolRegistry()

    @reg.tool
    def f(value: Loose) -> int:
        """Use a loose model."""
        return value.x

    assert reg.definitions()[0]["function"]["strict"] is False


@pytest.mark.parametrize(
    ("name", "fn_src"),
    [
        ("untyped", "def f(a): return a"),
        ("variadic", "def f(*a: int) -> int: return 0"),
        ("kwargs", "def f(**a: int) -> int: return 0"),
        ("posonly", "def f(a: int, /) -> int: return a"),
    ],
)
def test_registration_rejects_undescribable_signatures(name: str, fn_src: str) -> None:
    """Untyped, variadic and positional-only parameters cannot be registered."""
    ns: dict[str, Any] = {}
    exec(fn_src, ns)
    with pytest.raises(ToolDispatchError):
        ToolRegistry().register(ns["f"], name=name)


@pytest.mark.parametrize("bad", ["__class__", "multi_tool_use.parallel", "", "a b", "x" * 65])
def test_registration_rejects_bad_names(bad: str) -> None:
    """Tool names follow the API's rule; dunder names are refused."""

    def f() -> int:
        return 1

    with pytest.raises(ToolDispatchError):
        ToolRegistry().register(f, name=bad)


def test_duplicate_registration_is_refused() -> None:
    """A name is registered once."""
    reg, _ = make_registry()

    def greet(name: str) -> str:
        return name

    with pytest.raises(ToolDispatchError):
        reg.register(greet)


def test_prepare_validates_and_finish_encodes_non_strings_as_json() -> None:
    """A valid call gets typed arguments; a dict result becomes a JSON string."""
    reg, ran = make_registry()
    call = ToolCall("c1", "order_total", '{"items":[{"item_type":"books","quantity":3}]}')
    prepared = reg.prepare(call)
    assert prepared.ready
    assert prepared.kwargs["items"] == [Item(item_type=ItemType.BOOKS, quantity=3)]
    assert ran == []  # prepare never runs the tool
    out = reg.finish(call, prepared.call_tool())
    assert ran == ["order_total"]
    assert out.output == '{"total":30}'
    assert out.ok
    assert out.to_param() == {"tool_call_id": "c1", "output": '{"total":30}'}


def test_async_tools_are_detected_and_return_a_coroutine() -> None:
    """The driver awaits an async tool; the registry only says it is async."""
    reg, _ = make_registry()
    prepared = reg.prepare(ToolCall("c1", "slow_echo", '{"text":"hi"}'))
    assert prepared.is_async
    result = asyncio.run(prepared.call_tool())
    assert reg.finish(prepared.call, result).output == "hi"


@pytest.mark.parametrize(
    ("arguments", "kind"),
    [
        ('{"items": [', "invalid_json"),
        ("", "not_an_object"),
        ("[1, 2]", "not_an_object"),
        ('"text"', "not_an_object"),
        ('{"items": [{"item_type": "pens", "quantity": 1}]}', "invalid_arguments"),
        ('{"items": [{"item_type": "books", "quantity": "1"}]}', "invalid_arguments"),
        ('{"items": []', "invalid_json"),
        ('{"items": [], "discount": 100}', "invalid_arguments"),
        ('{"items": [{"item_type": "books", "quantity": 1, "price": 0}]}', "invalid_arguments"),
        ("{}", "invalid_arguments"),
    ],
)
def test_bad_arguments_get_an_error_output_and_the_tool_never_runs(
    arguments: str, kind: str
) -> None:
    """Invalid JSON, non-objects, schema violations and extra fields are never coerced."""
    reg, ran = make_registry()
    prepared = reg.prepare(ToolCall("c9", "order_total", arguments))
    assert not prepared.ready
    assert prepared.error is not None
    err = error_of(prepared.error)
    assert err["type"] == kind
    assert err["tool"] == "order_total"
    assert prepared.error.tool_call_id == "c9"
    with pytest.raises(RuntimeError):
        prepared.call_tool()
    assert ran == []


def test_extra_field_error_names_the_field() -> None:
    """The structured error says which field was not allowed."""
    reg, _ = make_registry()
    prepared = reg.prepare(ToolCall("c1", "greet", '{"name": "a", "is_admin": true}'))
    assert prepared.error is not None
    errors = error_of(prepared.error)["errors"]
    assert errors == [
        {"loc": ["is_admin"], "type": "extra_forbidden", "msg": "Extra inputs are not permitted"}
    ]


@pytest.mark.parametrize(
    "name", ["multi_tool_use.parallel", "__class__", "__init__", "eval", "order_total_v2", "GREET"]
)
def test_unknown_names_get_an_error_output_listing_allowed_tools(name: str) -> None:
    """No dynamic lookup: anything not registered under exactly that name is refused."""
    reg, ran = make_registry()
    prepared = reg.prepare(ToolCall("c1", name, "{}"))
    assert prepared.error is not None
    err = error_of(prepared.error)
    assert err["type"] == "unknown_tool"
    assert err["allowed"] == ["order_total", "greet", "slow_echo", "boom"]
    assert ran == []


def test_registered_but_not_allowed_is_unknown_for_this_run() -> None:
    """The allowlist is checked at dispatch, not only when tools are shown."""
    reg, ran = make_registry()
    prepared = reg.prepare(ToolCall("c1", "boom", '{"code": 1}'), allowed={"greet"})
    assert prepared.error is not None
    err = error_of(prepared.error)
    assert err["type"] == "unknown_tool"
    assert err["allowed"] == ["greet"]
    assert ran == []


def test_exception_becomes_an_error_output_without_traceback_or_secret() -> None:
    """The type and a redacted message are reported; no traceback, no key."""
    reg, _ = make_registry()
    call = ToolCall("c1", "boom", '{"code": 7}')
    prepared = reg.prepare(call)
    try:
        prepared.call_tool()
    except ValueError as exc:
        out = reg.finish(call, error=exc)
    err = error_of(out)
    assert err["type"] == "tool_error"
    assert err["exception"] == "ValueError"
    assert "bad code 7" in err["message"]
    assert "sk-abcdefghijklmnop" not in out.output
    assert "Traceback" not in out.output
    assert not out.ok


def test_exception_message_can_be_hidden() -> None:
    """With expose_exception_messages=False only the type is reported."""
    reg, _ = make_registry(expose_exception_messages=False)
    out = reg.finish(ToolCall("c1", "boom", "{}"), error=KeyError("secret-ish"))
    assert error_of(out)["message"] == "the tool raised KeyError"


def test_timeout_and_unserializable_results_are_error_outputs() -> None:
    """A timeout and a non-JSON result each have their own error type."""
    reg, _ = make_registry()
    call = ToolCall("c1", "greet", '{"name":"x"}')
    assert error_of(reg.finish(call, timed_out=True))["type"] == "tool_timeout"
    assert error_of(reg.finish(call, object()))["type"] == "unserializable_result"


def test_long_outputs_are_capped_with_a_marker_and_the_full_text_is_kept() -> None:
    """Head and tail are kept around an explicit truncation marker."""
    reg, _ = make_registry(max_output_chars=1000)
    call = ToolCall("c1", "greet", "{}")
    text = "A" * 3000 + "Z" * 3000
    out = reg.finish(call, text)
    assert out.truncated
    assert len(out.output) <= 1000
    assert "[... truncated" in out.output
    assert "of 6000 chars" in out.output
    assert out.output.startswith("AAA")
    assert out.output.endswith("ZZZ")
    assert out.full_output == text
    assert "chars>" in repr(out)  # the repr shows sizes, not content


def test_error_outputs_stay_valid_json_under_the_cap() -> None:
    """Bulky optional parts of an error are dropped rather than cut mid-JSON."""
    reg = ToolRegistry(max_output_chars=300)

    @reg.tool
    def f(payload: Wide) -> int:  # type: ignore[valid-type]
        """Take a wide object."""
        return 0

    prepared = reg.prepare(ToolCall("c1", "f", '{"payload": {}}'))
    assert prepared.error is not None
    err = error_of(prepared.error)  # parses: still valid JSON
    assert err["type"] == "invalid_arguments"
    assert len(prepared.error.output) <= 300


def test_redact_secrets() -> None:
    """Keys, bearer tokens and key=value credentials are masked."""
    text = "key sk-proj-ABCDEF123456 header Bearer abc.def-123456 password=hunter22"
    red = redact_secrets(text)
    assert "ABCDEF123456" not in red
    assert "abc.def-123456" not in red
    assert "hunter22" not in red
    assert red.count("[redacted]") == 3


# -- the ledger -------------------------------------------------------------------------------


def test_ledger_claims_a_call_once() -> None:
    """A started call is never started again, even when a later round repeats its id."""
    ledger = ToolLedger()
    call = ToolCall("c1", "greet", '{"name":"x"}')
    ledger.intend(call, round=1)
    assert ledger.claim("c1") is True
    assert ledger.claim("c1") is False
    ledger.intend(call, round=2)  # a repeat does not reset the entry
    assert ledger.claim("c1") is False
    assert ledger.entries["c1"].round == 1
    assert ledger.claim("unknown") is False


def test_ledger_records_outputs_and_reuses_them() -> None:
    """The recorded output is what a repeated id gets."""
    ledger = ToolLedger()
    call = ToolCall("c1", "greet", "{}")
    ledger.intend(call)
    ledger.claim("c1")
    out = ToolOutput("c1", "hello", "hello")
    ledger.record(out, executed=True)
    assert ledger.state_of("c1") is CallState.FINISHED
    assert ledger.output_for("c1") == out
    ledger.record(ToolOutput("c1", "other", "other"), executed=True)  # never overwritten
    assert ledger.output_for("c1") == out
    ledger.delivered(["c1"])
    assert ledger.state_of("c1") is CallState.DELIVERED
    assert ledger.pending(["c1", "c2"]) == ["c2"]


def test_ledger_states_for_failures_rejections_and_undelivered() -> None:
    """Failed, rejected, executed_undelivered and undelivered are distinct."""
    reg, _ = make_registry()
    ledger = ToolLedger()
    for cid in ("ok", "bad", "rej"):
        ledger.intend(ToolCall(cid, "greet", "{}"))
    ledger.claim("ok")
    ledger.record(ToolOutput("ok", "x", "x"), executed=True)
    ledger.claim("bad")
    ledger.record(reg.finish(ToolCall("bad", "boom", "{}"), error=ValueError()), executed=True)
    rejected = reg.prepare(ToolCall("rej", "nope", "{}")).error
    assert rejected is not None
    ledger.record(rejected, executed=False)
    assert ledger.state_of("bad") is CallState.FAILED
    assert ledger.state_of("rej") is CallState.REJECTED
    ledger.undelivered(["ok", "bad", "rej"], reason="expired")
    assert ledger.state_of("ok") is CallState.EXECUTED_UNDELIVERED
    assert ledger.state_of("bad") is CallState.EXECUTED_UNDELIVERED
    assert ledger.state_of("rej") is CallState.UNDELIVERED
    assert ledger.entries["ok"].reason == "expired"


def test_ledger_late_result_of_a_timed_out_call_is_executed_undelivered() -> None:
    """The stand-in error output is delivered; the real result is kept and flagged."""
    reg, _ = make_registry()
    ledger = ToolLedger()
    call = ToolCall("c1", "greet", "{}")
    ledger.intend(call)
    ledger.claim("c1")
    ledger.record(reg.finish(call, timed_out=True), executed=True, timed_out=True)
    assert ledger.state_of("c1") is CallState.TIMED_OUT
    ledger.delivered(["c1"])
    ledger.record_late(reg.finish(call, "real result"))
    entry = ledger.entries["c1"]
    assert entry.state is CallState.EXECUTED_UNDELIVERED
    assert entry.reason == "late"
    assert entry.late_output == "real result"


def test_ledger_round_trips_through_json() -> None:
    """The ledger is serialisable for a later durable restart."""
    ledger = ToolLedger()
    ledger.intend(ToolCall("c1", "greet", '{"name":"x"}'))
    ledger.claim("c1")
    ledger.record(ToolOutput("c1", "out", "out"), executed=True)
    restored = ToolLedger.model_validate_json(ledger.model_dump_json())
    assert restored.entries == ledger.entries
    assert restored.claim("c1") is False  # still started after a restart
    assert "chars>" in repr(restored.entries["c1"])  # arguments are not shown in reprs


def test_successful_outputs_are_redacted_by_default_and_only_by_choice_kept() -> None:
    """A tool echoing a credential never gets it into the submitted or the kept output."""
    secret = "sk-live-0123456789abcdefXYZ"
    for redact in (True, False):
        reg = ToolRegistry(redact_outputs=redact)

        @reg.tool
        def echo(text: str) -> str:
            """Echo the text back."""
            return f"config: api_key={secret}; note={text}"

        call = ToolCall("call_1", "echo", json.dumps({"text": "hi"}))
        prepared = reg.prepare(call)
        out = reg.finish(call, prepared.call_tool())
        assert (secret in out.output) is not redact
        assert (secret in out.full_output) is not redact
        assert "note=hi" in out.output
