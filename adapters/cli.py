"""The ``lifecycle`` command line (click).

Subcommands import their implementation lazily, so ``lifecycle check`` does not pay for the HTTP
stack and ``lifecycle --help`` stays fast. ``watch`` is in ``cli_watch.py`` and ``runs`` in
``cli_runs.py``. Bad input and failed requests end a command with one ``Error: ...`` line on
stderr and a nonzero exit (``_cli_common.py``), never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from adapters._cli_common import (
    CliError,
    OneLineErrors,
    one_line,
    without_cycle_collector,
    write_stdout,
)
from adapters.cli_runs import runs
from adapters.cli_watch import watch
from lifecycle import LIFECYCLES

LIFECYCLE_CHOICE = click.Choice(sorted(LIFECYCLES), case_sensitive=False)

#: the ``--lifecycle NAME`` option shared by the commands that read a table
lifecycle_option = click.option(
    "--lifecycle",
    "lifecycle_name",
    type=LIFECYCLE_CHOICE,
    default="assistants-run",
    show_default=True,
    help="Which lifecycle table to use.",
)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="run-lifecycle")
def main() -> None:
    """Explicit state machines for OpenAI-style run lifecycles."""


@main.command()
@click.argument("trace", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@lifecycle_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--live-policy",
    is_flag=True,
    help="Judge client edges as a live controller would: an unrequested submit is a regression.",
)
def check(trace: Path, lifecycle_name: str, as_json: bool, live_policy: bool) -> None:
    """Validate a recorded status TRACE (one status per line, or JSON Lines with "status").

    Exit 0 when every observation is legal, 1 when any is an anomaly, 2 on unreadable input.
    """
    from lifecycle._trace import TraceError, check_trace, read_trace

    with without_cycle_collector():
        try:
            text = sys.stdin.read() if str(trace) == "-" else trace.read_text(encoding="utf-8")
            observations = read_trace(text)
        except (OSError, UnicodeDecodeError, TraceError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise CliError(f"cannot read trace {trace}: {reason}") from None
        spec = LIFECYCLES[lifecycle_name]
        report = check_trace(observations, spec, assume_client=not live_policy)
        write_stdout(report.model_dump_json(indent=2) if as_json else "\n".join(report.lines()))
    sys.exit(0 if report.ok else 1)


@main.command()
@lifecycle_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "svg", "png"]),
    default="mermaid",
    show_default=True,
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--journal",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A snapshot, journal or trace file whose path is highlighted on the diagram.",
)
def diagram(lifecycle_name: str, fmt: str, out: Path | None, journal: Path | None) -> None:
    """Draw a lifecycle from its transition table (Mermaid, DOT, SVG or PNG)."""
    from adapters.diagram_cli import run_diagram

    with without_cycle_collector():
        code = run_diagram(lifecycle_name, fmt, out, journal)
    sys.exit(code)


def _profile_names() -> list[str]:
    from adapters.simulator.profiles import PROFILES

    return sorted(PROFILES)


@main.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="0 picks a free port (the banner says which).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback only by default.")
@click.option(
    "--scenario",
    default=None,
    help="The scenario of runs whose metadata name none [default: the file's default, else "
    "order-total].",
)
@click.option(
    "--scenarios",
    "scenarios_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Your own scenarios (TOML or JSON): what the model calls and answers. See below.",
)
@click.option(
    "--profile",
    type=click.Choice(_profile_names()),
    default="reference",
    show_default=True,
    help="How the server answers on the wire (e.g. no-poll-after, no-sse, garbage-bodies).",
)
def simulate(
    port: int, host: str, scenario: str | None, scenarios_file: Path | None, profile: str
) -> None:
    """Serve the Assistants- and Responses-compatible simulator over HTTP until Ctrl-C.

    The banner prints the base URL (with /v1) to give your OpenAI client. A run picks a scenario
    with metadata={"scenario": NAME} on the run or its assistant (a response: on the create
    that starts its chain). --scenarios FILE adds your own, e.g. scenarios.toml:

    \b
        default = "refund"
        [scenarios.refund]
        steps = [
          { kind = "queue" },
          { kind = "call_tools", calls = [
              { name = "refund_order", arguments = { order_id = "A-1" } } ] },
          { kind = "answer", text = "Refunded: {output}" },
        ]

    Step kinds: queue, work, call_tools (calls: name + arguments), answer (text, with {output}
    and {outputs}), fail (code, message), incomplete (reason, text), hang; each takes an
    optional seconds (default 0.02); the last step is answer, fail, incomplete or hang. JSON
    files have the same shape. Every mistake in the file is reported, one line each. See
    docs/simulator.md.

    Both APIs are served on the same port: /v1/responses plays every scenario (built-in or
    from the file; status scripts serve Assistants runs only) over a chain of background
    responses, e.g.:

    \b
        lifecycle demo --api responses --base-url URL
    """
    from adapters._cli_simulate import serve_simulator

    serve_simulator(
        host=host, port=port, scenario=scenario, scenarios_file=scenarios_file, profile=profile
    )


@main.command()
@click.option(
    "--api",
    type=click.Choice(["assistants", "responses"]),
    default="assistants",
    show_default=True,
    help="Drive an Assistants run, or a Responses API chain of background responses.",
)
@click.option(
    "--base-url",
    envvar="OPENAI_BASE_URL",
    default=None,
    help="A real compatible server, ending in /v1 (the key comes from OPENAI_API_KEY).",
)
@click.option(
    "--model",
    envvar="OPENAI_MODEL",
    default="gpt-4o-mini",
    show_default=True,
    help="The model (env OPENAI_MODEL); the built-in simulator takes any name.",
)
@click.option("--stream/--poll", default=False, help="Follow the run by streaming or polling.")
@click.option(
    "--scenario",
    default="order-total",
    show_default=True,
    help="The built-in simulator's scenario (e.g. fails, incomplete, never-finishes).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds before the run is cancelled [default: 15 with the simulator, 120 with "
    "--base-url].",
)
def demo(
    api: str,
    base_url: str | None,
    model: str,
    stream: bool,
    scenario: str,
    timeout: float | None,
) -> None:
    """Run the order-total job end to end (built-in simulator unless --base-url).

    --api assistants (the default) drives an Assistants run. --api responses drives the same
    job as a Responses API chain: a background response asks for the tool, the tool runs
    once, the next response (previous_response_id) gives the total; the demo shows each
    response of the chain with its status moves. Against any Responses-compatible server:
    --base-url URL --model NAME.

    Exit 0 when the run completed, 1 when it did not (the reason is shown) or the server
    failed, 2 on bad input.
    """
    from adapters.demo import run_demo

    if not model.strip():
        raise CliError("--model must not be empty")
    code = run_demo(
        base_url=base_url, stream=stream, scenario=scenario, timeout_s=timeout, api=api, model=model
    )
    sys.exit(code)


@main.command()
@click.option(
    "--temporal", "target", required=True, metavar="HOST:PORT", help="The Temporal frontend."
)
@click.option("--task-queue", required=True, help="The task queue to serve.")
@click.option(
    "--tools",
    "tools_path",
    default=None,
    metavar="MODULE:ATTR",
    help="The ToolRegistry to serve, by import path (e.g. adapters.demo:ORDER_TOOLS).",
)
@click.option("--namespace", default="default", show_default=True)
@click.option("--max-concurrent-activities", type=int, default=None, help="Activities run at once.")
@click.option(
    "--sticky-timeout",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds a workflow task waits for the worker that has it cached (takeover delay).",
)
def worker(
    target: str,
    task_queue: str,
    tools_path: str | None,
    namespace: str,
    max_concurrent_activities: int | None,
    sticky_timeout: float,
) -> None:
    """Serve the run workflow and its activities on a Temporal task queue (needs the
    ``temporal`` extra). The OpenAI client reads OPENAI_BASE_URL and OPENAI_API_KEY."""
    import asyncio
    import os

    try:
        from adapters.temporal import run_worker
    except ImportError as exc:  # pragma: no cover - the extra is not installed
        raise CliError(f"{one_line(str(exc))}; install run-lifecycle[temporal]") from None
    from adapters._cli_common import load_tools
    from lifecycle import ToolRegistry

    tools = load_tools(tools_path) if tools_path else ToolRegistry()
    try:
        asyncio.run(
            run_worker(
                target,
                task_queue=task_queue,
                tools=tools,
                namespace=namespace,
                max_concurrent_activities=max_concurrent_activities,
                sticky_timeout_s=sticky_timeout,
            )
        )
    except RuntimeError as exc:
        if not str(exc).startswith("Failed client connect"):
            raise
        click.echo(f"Error: cannot reach Temporal at {target}: {one_line(str(exc), 200)}", err=True)
        code = 1
    else:
        code = 0
    sys.stdout.flush()
    sys.stderr.flush()
    # the Temporal runtime can abort at interpreter exit (temporalio/sdk-python #300)
    os._exit(code)


main.add_command(watch)
main.add_command(runs)

if __name__ == "__main__":  # pragma: no cover
    main()
