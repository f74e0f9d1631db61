"""What every ``lifecycle`` command shares: one error style, SDK failures as one line, and loading a
user's tool registry by import path.

Theory of operation
-------------------
A command that cannot do its job prints exactly one line on stderr, ``Error: <what went wrong>``
(the prefix click uses for its own usage errors), and exits nonzero; it never shows a traceback.
The controllers' own log records stay off stderr (:func:`quiet_library_logs`): a command says
how a run ended itself.
Commands raise :class:`CliError` (a ``click.ClickException`` with an exit code) and click prints
it. :func:`api_errors` turns what the ``openai`` SDK raises (a refused connection, a 404 from a
base URL without ``/v1``, a 401, any other refusal) into such an error, naming the server and the
request but never the API key. :func:`load_tools` imports ``module:attr`` the way ``python -m``
would see it (the current directory first on the path), with an error line for each way it can
go wrong.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from lifecycle import ToolRegistry

__all__ = [
    "CliError",
    "CliFailed",
    "OneLineErrors",
    "api_errors",
    "load_tools",
    "one_line",
    "quiet_library_logs",
    "without_cycle_collector",
    "write_stdout",
]

#: exit status of bad input (click's own usage errors exit 2 too)
BAD_INPUT = 2
#: exit status of a server or a file that failed us
FAILED = 1


class CliError(click.ClickException):
    """Bad input: click prints ``Error: <message>`` on stderr and exits 2."""

    exit_code = BAD_INPUT

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class CliFailed(CliError):
    """A server or a file failed us: ``Error: <message>`` on stderr, exit 1."""

    exit_code = FAILED


class OneLineErrors(click.Group):
    """The top-level group: every click error, a usage error included, is one line,
    ``Error: <message> (see: lifecycle CMD --help)``, instead of the usage block and the error."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            rv = super().main(*args, **kwargs)
        except click.UsageError as exc:
            where = f" (see: {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
            click.echo(f"Error: {one_line(exc.format_message())}{where}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Error: {one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def write_stdout(text: str) -> None:
    """Write ``text`` and a newline to stdout at once (one write, not one per line).

    Raises:
        CliError: stdout cannot take it (a full disk: ``Error: cannot write stdout``); a reader
            that went away (``| head``) ends the command quietly instead. Nothing more is
            written to that stdout, not even at exit.
    """
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except OSError as exc:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        if isinstance(exc, BrokenPipeError):
            sys.exit(1)
        raise CliError(f"cannot write stdout: {exc.strerror or exc}") from None


@contextmanager
def without_cycle_collector() -> Iterator[None]:
    """Python's cycle collector off for a block: checking a trace allocates one finding per
    anomaly (hundreds of thousands, none in a cycle), and the collector would walk them all
    again and again (a quarter of the time of ``check`` on 200,000). Restored after."""
    import gc

    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def quiet_library_logs() -> None:
    """Keep the controllers' log records (``deadline passed``...) off a command's stderr: the
    command reports the outcome itself. A handler the user configured still gets them."""
    import logging

    from adapters.openai._logging import LOGGER_NAME

    logging.getLogger(LOGGER_NAME).addHandler(logging.NullHandler())


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, cut to ``limit`` characters (with ``...`` when cut)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return str(getattr(exc, "message", exc))


@contextmanager
def api_errors(base_url: str) -> Iterator[None]:
    """Turn the SDK's exceptions into one :class:`CliError` line naming ``base_url``.

    Raises:
        CliError: the server could not be reached or refused a request (exit 1), or answered
            404 at a base URL that does not end in ``/v1`` (exit 2, with that hint).
    """
    import openai

    try:
        yield
    except openai.APIConnectionError as exc:  # includes APITimeoutError
        cause = exc.__cause__ or exc.__context__
        why = f": {one_line(str(cause), 120)}" if cause is not None and str(cause) else ""
        raise CliFailed(f"cannot reach the server at {base_url}{why}") from None
    except openai.AuthenticationError:
        raise CliFailed(
            f"the server at {base_url} refused the API key (401); set OPENAI_API_KEY"
        ) from None
    except openai.APIStatusError as exc:
        request = f"{exc.request.method} {exc.request.url.path}"
        if exc.status_code == 404 and not base_url.rstrip("/").endswith("/v1"):
            raise CliError(
                f"{base_url} answered 404 to {request}: the base URL of an OpenAI-compatible "
                f"API usually ends in /v1 (try {base_url.rstrip('/')}/v1)"
            ) from None
        raise CliFailed(
            f"the server at {base_url} answered {exc.status_code} to {request}: "
            f"{_server_message(exc)}"
        ) from None


def load_tools(path: str) -> ToolRegistry:
    """The :class:`~lifecycle.ToolRegistry` named ``module:attr`` (e.g. ``myapp.tools:TOOLS``).

    The current directory comes first on the import path, as for ``python -m``, so a
    ``tools.py`` next to you is found as ``tools:REGISTRY``.

    Raises:
        CliError: not ``module:attr``, the module cannot be imported, the attribute is missing or
            is not a ``ToolRegistry``.
    """
    from lifecycle import ToolRegistry

    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise CliError(f"--tools must be module:attr (e.g. myapp.tools:TOOLS), not {path!r}")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        value: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise CliError(f"--tools {path}: cannot import {module_name}: {exc}") from None
    except Exception as exc:  # the user's module raised while importing
        raise CliError(
            f"--tools {path}: importing {module_name} raised {type(exc).__name__}: {exc}"
        ) from None
    for part in attr.split("."):
        if not hasattr(value, part):
            raise CliError(f"--tools {path}: {module_name} has no attribute {attr!r}")
        value = getattr(value, part)
    if not isinstance(value, ToolRegistry):
        raise CliError(f"--tools {path} is a {type(value).__name__}, not a lifecycle.ToolRegistry")
    return value
