"""The ``lifecycle`` command line (click).

Subcommands import their implementation lazily, so ``lifecycle check`` does not pay for the HTTP
stack and ``lifecycle --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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

    try:
        text = sys.stdin.read() if str(trace) == "-" else trace.read_text(encoding="utf-8")
        observations = read_trace(text)
    except (OSError, UnicodeDecodeError, TraceError) as exc:
        click.echo(f"error: cannot read trace {trace}: {exc}", err=True)
        sys.exit(2)
    report = check_trace(observations, LIFECYCLES[lifecycle_name], assume_client=not live_policy)
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        for line in report.lines():
            click.echo(line)
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

    sys.exit(run_diagram(lifecycle_name, fmt, out, journal))


def _profile_names() -> list[str]:
    from adapters.simulator.profiles import PROFILES

    return sorted(PROFILES)


@main.command()
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback only by default.")
@click.option("--scenario", default="order-total", show_default=True)
@click.option(
    "--profile",
    type=click.Choice(_profile_names()),
    default="reference",
    show_default=True,
    help="How the server answers on the wire (e.g. no-poll-after, no-sse, garbage-bodies).",
)
def simulate(port: int, host: str, scenario: str, profile: str) -> None:
    """Serve the Assistants-compatible simulator over HTTP."""
    from adapters.simulator.server import serve

    serve(host=host, port=port, scenario=scenario, profile=profile)


@main.command()
@click.option(
    "--base-url", envvar="OPENAI_BASE_URL", default=None, help="A real compatible server."
)
@click.option("--stream/--poll", default=False, help="Follow the run by streaming or polling.")
@click.option("--scenario", default="order-total", show_default=True)
def demo(base_url: str | None, stream: bool, scenario: str) -> None:
    """Run the order-total assistant end to end (built-in simulator unless --base-url)."""
    from adapters.demo import run_demo

    sys.exit(run_demo(base_url=base_url, stream=stream, scenario=scenario))


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
        from adapters.temporal import load_registry, run_worker
    except ImportError as exc:  # pragma: no cover - the extra is not installed
        click.echo(f"error: {exc}; install run-lifecycle[temporal]", err=True)
        sys.exit(2)
    from lifecycle import ToolRegistry

    tools = load_registry(tools_path) if tools_path else ToolRegistry()
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
    sys.stdout.flush()
    sys.stderr.flush()
    # the Temporal client can abort at interpreter exit (temporalio/sdk-python #300)
    os._exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
