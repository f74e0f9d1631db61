"""``lifecycle simulate``: the simulator on a port until Ctrl-C, with the user's own scenarios.

The simulator is served by :class:`~adapters.simulator.SimulatorServer` (uvicorn in a thread,
on a socket bound here, so a port in use is one error line and ``--port 0`` reports the port it
got). The banner names the base URL with ``/v1``, which is what an OpenAI client is given.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import click

from adapters._cli_common import CliError, CliFailed, one_line

__all__ = ["serve_simulator"]


def serve_simulator(
    *,
    host: str,
    port: int,
    scenario: str | None,
    scenarios_file: Path | None,
    profile: str,
    stop: threading.Event | None = None,
) -> None:
    """Serve until Ctrl-C (or until ``stop`` is set).

    Raises:
        CliError: the scenario file has mistakes (one line each, exit 2), the default scenario
            is unknown (the message lists the known ones), or the address cannot be bound.
    """
    from adapters.simulator import Scenario, Simulator, SimulatorServer
    from adapters.simulator.scenario_file import ScenarioFileError, load_scenarios

    own: dict[str, Scenario] = {}
    default = scenario
    if scenarios_file is not None:
        try:
            loaded = load_scenarios(scenarios_file)
        except ScenarioFileError as exc:
            for problem in exc.problems[:-1]:
                click.echo(f"Error: {scenarios_file}: {one_line(problem)}", err=True)
            raise CliError(f"{scenarios_file}: {exc.problems[-1]}") from None
        own = loaded.scenarios
        default = default or loaded.default
    try:
        sim = Simulator(default_scenario=default or "order-total", scenarios=own, profile=profile)
    except ValueError as exc:
        raise CliError(f"--scenario: {exc}") from None
    server = SimulatorServer(sim, host=host, port=port)
    try:
        server.start()
    except OSError as exc:
        raise CliFailed(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    except RuntimeError as exc:
        raise CliFailed(str(exc)) from None
    try:
        _banner(server.base_url, profile, sim.default_scenario, sorted(own), scenarios_file)
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _banner(base_url: str, profile: str, default: str, own: list[str], source: Path | None) -> None:
    lines = [
        f"Simulator serving {base_url}  (profile {profile}, default scenario {default})",
        f"  export OPENAI_BASE_URL={base_url} OPENAI_API_KEY=sk-sim   (any key is accepted)",
    ]
    if own:
        lines.append(f"  scenarios from {source}: {', '.join(own)}")
    lines.append('  pick one per run with metadata={"scenario": NAME}; Ctrl-C stops the server')
    click.echo("\n".join(lines))
    sys.stdout.flush()
