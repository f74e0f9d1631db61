"""Redaction: every credential form ``redact_secrets`` knows, the client-key redactor, and where
both are applied (tool outputs, tool errors, log records, failures).

Each form is its own case so that removing one alternative from the pattern (a mutant, or a
regression) fails exactly the cases it covered; see docs/mutation.md.
"""

from __future__ import annotations

import json
import logging

import httpx2
import openai
import pytest

from adapters.openai._base import key_redactor
from adapters.openai._logging import RedactingFilter
from adapters.openai._tools import ToolRunner
from adapters.openai._wire import failure_of
from lifecycle import ToolCall, ToolRegistry, redact_secrets

#: (text, the secret in it): every form the pattern must mask
FORMS = [
    pytest.param("token=tok-A1", "tok-A1", id="token="),
    pytest.param("token: tok-A2", "tok-A2", id="token:"),
    pytest.param("token = tok-A3", "tok-A3", id="token = (spaces)"),
    pytest.param("access_token=tok-A4", "tok-A4", id="access_token="),
    pytest.param("TOKEN=tok-A5", "tok-A5", id="TOKEN= (case)"),
    pytest.param("api_key=key-B1", "key-B1", id="api_key="),
    pytest.param("api_key: key-B2", "key-B2", id="api_key:"),
    pytest.param("api-key=key-B3", "key-B3", id="api-key="),
    pytest.param("x-api-key: key-B4", "key-B4", id="x-api-key:"),
    pytest.param("apikey=key-B5", "key-B5", id="apikey="),
    pytest.param("apiKey: key-B6", "key-B6", id="apiKey: (case)"),
    pytest.param("access_key=key-B7", "key-B7", id="access_key="),
    pytest.param("accesskey: key-B8", "key-B8", id="accesskey:"),
    pytest.param("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz", id="authorization: basic"),
    pytest.param("authorization=Digest dig-C2", "dig-C2", id="authorization= digest"),
    pytest.param("Authorization: tok-C3", "tok-C3", id="authorization: bare"),
    pytest.param("authorization: Bearer bearer-C4xyz", "bearer-C4xyz", id="authorization: bearer"),
    pytest.param("secret=sec-D1", "sec-D1", id="secret="),
    pytest.param("client_secret: sec-D2", "sec-D2", id="client_secret:"),
    pytest.param("SECRET_KEY=sec-D3", "sec-D3", id="SECRET_KEY="),
    pytest.param("password=pw-E1", "pw-E1", id="password="),
    pytest.param("Password: pw-E2", "pw-E2", id="password:"),
    pytest.param('{"token": "tok F1"}', "tok F1", id="json token"),
    pytest.param('{"token":"tok-F2","user":"bob"}', "tok-F2", id="json compact"),
    pytest.param('{"api_key": "key-F3"}', "key-F3", id="json api_key"),
    pytest.param('{"password": "pw-F4"}', "pw-F4", id="json password"),
    pytest.param('{"token": "pw\\"F5"}', 'F5"', id="json escaped quote"),
    pytest.param('{"body": "{\\"token\\": \\"tok-F6\\"}"}', "tok-F6", id="json in json"),
    pytest.param("{'token': 'tok-F7'}", "tok-F7", id="python repr"),
    pytest.param("Bearer abc.def-123456", "abc.def-123456", id="bearer"),
    pytest.param("header: BEARER xyz~+/=789", "xyz~+/=789", id="bearer (case)"),
    pytest.param("key sk-proj-ABCDEF123456", "ABCDEF123456", id="sk- key"),
    pytest.param("key sk-live_0123456789", "0123456789", id="sk- key underscore"),
]


@pytest.mark.parametrize(("text", "secret"), FORMS)
def test_every_credential_form_is_masked(text: str, secret: str) -> None:
    """The secret is gone and a marker stands in its place."""
    red = redact_secrets(text)
    assert secret not in red
    assert "[redacted]" in red


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("token=abc123 rest", "token=[redacted] rest"),
        ("API_KEY = abc123", "API_KEY = [redacted]"),
        ('{"token": "a b", "user": "bob"}', '{"token": "[redacted]", "user": "bob"}'),
        ('{"token":"a\\"b","n":1}', '{"token":"[redacted]","n":1}'),
        ("{'secret': 'x y', 'n': 1}", "{'secret': '[redacted]', 'n': 1}"),
        ('"{\\"token\\": \\"v\\"}"', '"{\\"token\\": \\"[redacted]\\"}"'),
        ('{"msg": "failed: token=abc"}', '{"msg": "failed: token=[redacted]"}'),
        ("Authorization: Basic dXNlcjpw next", "Authorization: [redacted] next"),
        ("call sk-abcdef1234 now", "call [redacted] now"),
        ("Bearer abcdef.123", "Bearer [redacted]"),
    ],
)
def test_the_name_and_the_quoting_around_a_secret_are_kept(text: str, expected: str) -> None:
    """Only the value goes: the name, the quotes and what follows stay (JSON stays JSON)."""
    assert redact_secrets(text) == expected


def test_a_redacted_json_output_is_still_json() -> None:
    """A tool's JSON result with credentials in it parses after redaction, with the rest intact."""
    doc = {
        "token": "tok with spaces",
        "nested": {"api_key": "k-1", "note": "password=p1 for bob"},
        "body": json.dumps({"secret": "s-2", "ok": True}),
        "count": 3,
    }
    red = json.loads(redact_secrets(json.dumps(doc)))
    assert red["token"] == "[redacted]"
    assert red["nested"] == {"api_key": "[redacted]", "note": "password=[redacted] for bob"}
    assert json.loads(red["body"]) == {"secret": "[redacted]", "ok": True}
    assert red["count"] == 3


@pytest.mark.parametrize(
    "text",
    [
        "max_tokens=100",
        '{"input_tokens": 12, "output_tokens": 3}',
        "tokens: 5",
        "the token was refreshed",
        "a secret garden",
        "sk-short",
        "Bearer abc",
        "key=value",
        "skip-this-one",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    """Words that only look like credential names (counts, prose, short values) are kept."""
    assert redact_secrets(text) == text


def test_every_secret_in_a_long_text_is_masked() -> None:
    """Several forms in one text: all go, the prose between them stays."""
    text = (
        "GET /v1?token=t-1 with api-key: k-2 and "
        '{"password": "p-3"} then Authorization: Bearer b-4xyzzz, key sk-5abcdefgh.'
    )
    red = redact_secrets(text)
    for secret in ("t-1", "k-2", "p-3", "b-4xyzzz", "sk-5abcdefgh"):
        assert secret not in red
    assert red.startswith("GET /v1?token=[redacted] with api-key: [redacted] and ")


# -- the client's own key ----------------------------------------------------------------------


def test_the_key_redactor_removes_a_key_of_any_shape() -> None:
    """A key ``redact_secrets`` cannot know by its shape goes by its exact value."""
    key = "azure0123456789abcdefKEY"
    redact = key_redactor(key)
    assert redact is not None
    assert redact(f"echo {key}, twice: {key}") == "echo [redacted], twice: [redacted]"
    assert redact("nothing to see") == "nothing to see"
    assert redact_secrets(f"echo {key}") == f"echo {key}"  # why the key redactor exists


@pytest.mark.parametrize("key", [None, "", "short7_"])
def test_no_key_or_a_short_key_gives_no_redactor(key: str | None) -> None:
    """Without a key, or with one under 8 characters (it would match ordinary text), none."""
    assert key_redactor(key) is None


def test_a_key_of_exactly_eight_characters_is_searched_for() -> None:
    """The length limit is 8 inclusive."""
    redact = key_redactor("k8chars!")
    assert redact is not None
    assert redact("x k8chars! y") == "x [redacted] y"


def _runner(key: str, max_chars: int = 16 * 1024) -> tuple[ToolRunner, ToolRegistry]:
    registry = ToolRegistry(max_output_chars=max_chars)

    @registry.tool
    def echo(text: str) -> str:
        """Echo the text back."""
        return text

    return ToolRunner(registry, key_redactor(key)), registry


def test_the_tool_runner_removes_the_key_from_output_and_full_output() -> None:
    """The controller's runner applies the key redactor to both texts of an output."""
    key = "azure0123456789abcdefKEY"
    runner, registry = _runner(key)
    call = ToolCall("c1", "echo", json.dumps({"text": f"key is {key}"}))
    out = runner.output(registry.prepare(call), f"key is {key}")
    assert out.output == out.full_output == "key is [redacted]"
    boom = runner.output(registry.prepare(call), error=RuntimeError(f"failed with {key}"))
    assert key not in boom.output
    assert key not in boom.full_output
    assert boom.error == "tool_error"


def test_a_key_cut_by_the_truncation_marker_leaves_no_part_of_it() -> None:
    """An output over the cap whose key straddles the cut must not show the key's head."""
    key = "azure0123456789abcdefKEY"
    runner, registry = _runner(key, max_chars=256)
    call = ToolCall("c1", "echo", "{}")
    # the head kept is 3/4 of the room left by the marker: put the key across that point
    probe = registry.finish(call, "x" * 1000)
    head = probe.output.index("\n[... truncated")
    text = "x" * (head - 8) + key + "y" * 1000
    out = runner.output(registry.prepare(call), text)
    assert out.truncated
    assert key[:8] not in out.output


# -- where redaction is applied -----------------------------------------------------------------


@pytest.mark.parametrize(("text", "secret"), FORMS)
def test_tool_outputs_and_tool_errors_carry_no_secret(text: str, secret: str) -> None:
    """A tool returning or raising with a credential in it: neither output shows it."""
    registry = ToolRegistry()
    call = ToolCall("c1", "x", "{}")
    out = registry.finish(call, f"result: {text}")
    assert secret not in out.output
    assert secret not in out.full_output
    failed = registry.finish(call, error=RuntimeError(f"upstream said {text}"))
    assert secret not in failed.output
    assert secret not in failed.full_output
    dict_out = registry.finish(call, {"detail": text})
    assert secret not in dict_out.output
    json.loads(dict_out.output)  # still JSON


@pytest.mark.parametrize(("text", "secret"), FORMS)
def test_log_records_carry_no_secret(text: str, secret: str) -> None:
    """The controller's log filter masks the message, its arguments and every extra field."""
    record = logging.LogRecord("adapters.openai", logging.INFO, "f", 1, f"saw {text}", None, None)
    record.__dict__["detail"] = {"body": text, "items": [text]}
    args_record = logging.LogRecord(
        "adapters.openai", logging.INFO, "f", 1, "saw %s", (text,), None
    )
    assert RedactingFilter().filter(record)
    assert RedactingFilter().filter(args_record)
    for shown in (record.getMessage(), json.dumps(record.__dict__["detail"])):
        assert secret not in shown
    assert secret not in args_record.getMessage()


def test_log_records_drop_credential_headers() -> None:
    """A header mapping in a record loses its credential headers whatever their value's shape."""
    record = logging.LogRecord("adapters.openai", logging.DEBUG, "f", 1, "request", None, None)
    headers = {"Authorization": "plainvalue", "api-key": "x", "openai-api-key": "y", "a": "b"}
    record.__dict__["headers"] = headers
    RedactingFilter().filter(record)
    assert record.__dict__["headers"] == {"a": "b"}


@pytest.mark.parametrize(("text", "secret"), FORMS)
def test_api_failures_carry_no_secret(text: str, secret: str) -> None:
    """An SDK error whose message quotes a credential becomes a failure without it."""
    request = httpx2.Request("GET", "http://127.0.0.1/v1/threads/t/runs/r")
    response = httpx2.Response(401, request=request, json={"error": {"message": text}})
    exc = openai.AuthenticationError(f"rejected: {text}", response=response, body=None)
    failure = failure_of(exc)
    assert failure is not None
    assert secret not in failure.message
