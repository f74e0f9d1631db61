"""The tool registries of this process's workers, by task queue, for the workflows to read.

Theory of operation
-------------------
The kernel prepares every tool call itself (``ToolRegistry.prepare``: the name is allowed, the
arguments are valid JSON matching the tool's schema) before it claims the call and asks for it to
run, so a workflow needs the registry's *schemas*, though it never runs a tool. The registry is
the user's code, loaded by the worker (``--tools module:attr``); the workflow sandbox re-imports
the workflow's module for every run, so the registry cannot be a workflow argument or a global
of that module. It lives here instead: this module passes through the sandbox (the same module
object inside and out), the worker installs its registry under its task queue before it starts,
and the workflow looks it up by ``workflow.info().task_queue``.

Preparing is pure (pydantic validation), so the same registry gives the same answers on replay.
Every worker of a task queue must serve the same registry, as they must serve the same workflow
code; the tool activity prepares the call again with its own worker's registry.
"""

from __future__ import annotations

import importlib

from lifecycle import ToolRegistry

__all__ = ["install", "load_registry", "lookup"]

_REGISTRIES: dict[str, ToolRegistry] = {}


def install(task_queue: str, registry: ToolRegistry) -> None:
    """Serve ``registry`` to the workflows of ``task_queue`` run by this process."""
    if not isinstance(registry, ToolRegistry):
        raise TypeError(f"tools must be a ToolRegistry, not {type(registry).__name__}")
    _REGISTRIES[task_queue] = registry


def lookup(task_queue: str) -> ToolRegistry:
    """The registry installed for ``task_queue``.

    Raises:
        LookupError: no worker of this process serves that task queue (a workflow task fails and
            is retried until a worker that has one picks it up).
    """
    registry = _REGISTRIES.get(task_queue)
    if registry is None:
        raise LookupError(f"no tool registry installed for task queue {task_queue!r}")
    return registry


def load_registry(path: str) -> ToolRegistry:
    """The :class:`ToolRegistry` at ``module:attr`` (e.g. ``adapters.demo:ORDER_TOOLS``).

    Raises:
        ValueError: ``path`` is not ``module:attr``.
        TypeError: the attribute is not a ``ToolRegistry``.
        ImportError, AttributeError: the module or attribute does not exist.
    """
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"tools must be given as module:attr, not {path!r}")
    value: object = importlib.import_module(module_name)
    for part in attr.split("."):
        value = getattr(value, part)
    if not isinstance(value, ToolRegistry):
        raise TypeError(f"{path} is a {type(value).__name__}, not a ToolRegistry")
    return value
