"""Scale out on Temporal: the drive kernel as a durable workflow, any number of workers.

Install the extra (``pip install 'run-lifecycle[temporal]'``). One workflow per run pumps the
same sans-IO kernel as the in-process controllers (:mod:`lifecycle.kernel`): API calls and tool
calls are activities (one attempt each: a tool never runs twice), sleeps and deadlines are durable
timers, cancel is a signal, the state, journal, events and outcome are queries, and the workflow
id derives from the run's op id, so a second start of the same run is refused. Streams are not
supported in the workflow (it polls).

* workers: :func:`build_worker` / :func:`run_worker` (``lifecycle worker --temporal HOST:PORT
  --task-queue Q --tools module:attr``);
* callers: :class:`LifecycleClient` (``start_run``, ``start_chain``, ``attach_run``, ``get``)
  and :class:`RunHandle` (``result``, ``cancel``, ``state``, ``journal``, ``events``,
  ``outcome``);
* the result: :class:`DriveReport`.

Names load on first use, so the workflow sandbox, which imports this package for every workflow
run, does not import the worker or the client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.temporal._activities import LifecycleActivities
    from adapters.temporal._client import LifecycleClient, RunHandle
    from adapters.temporal._data import DriveReport, StartDrive, TemporalOptions, workflow_id
    from adapters.temporal._registry import load_registry
    from adapters.temporal._worker import build_worker, replayer, run_worker, sandbox_runner
    from adapters.temporal._workflow import LifecycleWorkflow

__all__ = [
    "DriveReport",
    "LifecycleActivities",
    "LifecycleClient",
    "LifecycleWorkflow",
    "RunHandle",
    "StartDrive",
    "TemporalOptions",
    "build_worker",
    "load_registry",
    "replayer",
    "run_worker",
    "sandbox_runner",
    "workflow_id",
]

_LAZY = {
    "LifecycleActivities": "adapters.temporal._activities",
    "LifecycleClient": "adapters.temporal._client",
    "RunHandle": "adapters.temporal._client",
    "DriveReport": "adapters.temporal._data",
    "StartDrive": "adapters.temporal._data",
    "TemporalOptions": "adapters.temporal._data",
    "workflow_id": "adapters.temporal._data",
    "load_registry": "adapters.temporal._registry",
    "build_worker": "adapters.temporal._worker",
    "replayer": "adapters.temporal._worker",
    "run_worker": "adapters.temporal._worker",
    "sandbox_runner": "adapters.temporal._worker",
    "LifecycleWorkflow": "adapters.temporal._workflow",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
