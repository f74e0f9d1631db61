"""The sync and async controllers keep the same public surface (httpx/openai-python style check)."""

from __future__ import annotations

import inspect

from adapters.openai import AsyncRunController, RunController


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(fn)
        for name, fn in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_same_public_methods() -> None:
    """Every public method exists on both twins."""
    assert sorted(public_methods(RunController)) == sorted(public_methods(AsyncRunController))


def test_same_parameters_for_every_method() -> None:
    """Each public method takes the same parameters, in the same order, with the same kinds."""
    sync, asyn = public_methods(RunController), public_methods(AsyncRunController)
    for name, sig in sync.items():
        expected = [(p.name, p.kind, p.default) for p in sig.parameters.values()]
        actual = [(p.name, p.kind, p.default) for p in asyn[name].parameters.values()]
        assert actual == expected, name


def test_async_twin_methods_are_awaitable() -> None:
    """The async twin's I/O methods are coroutines or async generators, never blocking calls."""
    for name in ("run", "drive", "cancel"):
        assert inspect.iscoroutinefunction(getattr(AsyncRunController, name)), name
        assert not inspect.iscoroutinefunction(getattr(RunController, name)), name
    assert inspect.isasyncgenfunction(AsyncRunController.events)
    assert inspect.isgeneratorfunction(RunController.events)
