"""Gaps found by mutation testing in the package's lazy exports (issue 14; docs/mutation.md):
a lazy name is the defining module's object and is kept once loaded, a dropped name warns
(pointing past the package) and names where to import it from, ``dir()`` lists every export, and an
unknown name is an AttributeError naming it."""

from __future__ import annotations

import importlib
import warnings

import pytest

import lifecycle


def test_a_lazy_name_is_the_defining_modules_object_and_is_kept() -> None:
    value = lifecycle.ToolRegistry
    from lifecycle._tools import ToolRegistry

    assert value is ToolRegistry
    assert vars(lifecycle)["ToolRegistry"] is ToolRegistry


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("GUARDS", "lifecycle._guards"),
        ("GuardContext", "lifecycle._guards"),
        ("build_machine", "lifecycle._machine"),
        ("Prepared", "lifecycle._dispatch"),
    ],
)
def test_a_dropped_name_warns_outside_the_package_and_names_its_module(
    name: str, module: str
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = getattr(lifecycle, name)
    assert value is getattr(importlib.import_module(module), name)
    (warning,) = caught
    assert warning.category is DeprecationWarning
    assert warning.filename != lifecycle.__file__  # it points past the package (at the caller)
    assert str(warning.message) == (
        f"lifecycle.{name} is internal and no longer exported; import it from {module}"
    )


def test_dir_lists_every_export_and_the_modules_own_names() -> None:
    listed = dir(lifecycle)
    assert listed == sorted(listed)
    assert set(lifecycle.__all__) <= set(listed)
    assert "ToolRegistry" in listed
    assert "__getattr__" in listed


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match=r"^module 'lifecycle' has no attribute 'nope'$"):
        lifecycle.nope  # noqa: B018
