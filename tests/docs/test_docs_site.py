"""The documentation site: what mkdocs.yml builds, how it is installed, where CI builds it.

The build itself (``mkdocs build --strict``) runs in ``.ci/run``, with the ``docs`` extra; these
tests check the pieces it relies on without it.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import tomllib
from types import ModuleType

import pytest

from tests.docs.guide_blocks import ROOT

#: the API reference's pages, one per public package
REFERENCE = (
    "lifecycle",
    "lifecycle.kernel",
    "adapters.openai",
    "adapters.simulator",
    "adapters.store",
    "adapters.temporal",
)


MKDOCS = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


def nav_pages() -> list[str]:
    """The pages of mkdocs.yml's ``nav`` (``- Title: page.md`` lines)."""
    nav = MKDOCS[MKDOCS.index("\nnav:\n") :]
    nav = nav[: re.search(r"\n\S", nav[1:]).end()]  # type: ignore[union-attr]
    return re.findall(r"^\s+- [^:]+: (\S+\.md)$", nav, flags=re.M)


def roles_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("roles", ROOT / "docs/reference/_roles.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_site_is_strict_and_the_nav_holds_the_guides() -> None:
    """Warnings (broken links and anchors included) fail the build; the nav holds the guides
    and the reference (a page it leaves out is still built)."""
    assert re.search(r"^strict: true$", MKDOCS, flags=re.M)
    validation = MKDOCS[MKDOCS.index("\nvalidation:\n") :].split("\n\n")[0]
    assert re.findall(r"^  (\w+): (\w+)$", validation, flags=re.M) == [
        ("omitted_files", "info"),
        ("absolute_links", "warn"),
        ("unrecognized_links", "warn"),
        ("anchors", "warn"),
    ]
    pages = nav_pages()
    assert all((ROOT / "docs" / page).is_file() for page in pages)
    assert pages[:2] == ["index.md", "guide.md"]
    assert {"kernel.md", "temporal.md", "diagrams.md", "faults.md"} <= set(pages)
    assert [p for p in pages if p.startswith("reference/")] == [
        f"reference/{m}.md" for m in REFERENCE
    ]


@pytest.mark.parametrize("module", REFERENCE)
def test_each_public_package_has_a_reference_page(module: str) -> None:
    """``docs/reference/<module>.md`` renders the module's docstrings, and the module imports."""
    page = (ROOT / "docs" / "reference" / f"{module}.md").read_text(encoding="utf-8")
    assert re.search(rf"^::: {re.escape(module)}$", page, flags=re.M)
    assert f"reference/{module}.md" in nav_pages()
    if module == "adapters.temporal":
        pytest.importorskip("temporalio")
    importlib.import_module(module)


def test_the_roles_hook_shows_sphinx_roles_as_names() -> None:
    """``:class:`X``` renders as ``X`` in code; a ``~`` target keeps its last component."""
    strip = roles_hook().strip_roles
    assert strip("see :class:<code>Scenario</code>.") == "see <code>Scenario</code>."
    assert strip(":meth:<code>~adapters.store.RunStore.save</code>") == "<code>save</code>"
    assert strip(":mod:<code>lifecycle.kernel</code>") == "<code>lifecycle.kernel</code>"
    assert strip("<p>Example::</p>\n<pre>") == "<p>Example:</p>\n<pre>"
    assert strip("a:b:<code>x</code> and <code>:class:</code>") == (
        "a:b:<code>x</code> and <code>:class:</code>"
    )


def test_the_docs_extra_pins_each_tool_to_a_range() -> None:
    """``pip install -e '.[docs]'`` brings mkdocs, Material and mkdocstrings, each bounded
    below and above (a new major version never lands unreviewed)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    docs = pyproject["project"]["optional-dependencies"]["docs"]
    names = {re.split(r"[\[<>=!~ ]", r, maxsplit=1)[0] for r in docs}
    assert {"mkdocs", "mkdocs-material", "mkdocstrings"} <= names
    for requirement in docs:
        assert ">=" in requirement, requirement
        assert "<" in requirement.replace("<=", ""), requirement


def test_ci_builds_the_docs_strictly_after_the_lint_step() -> None:
    """``.ci/run`` installs the extra and runs ``mkdocs build --strict`` in its own section,
    after ruff and mypy."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lint = ci.index("ruff check .")
    docs = ci.index("mkdocs build --strict")
    assert lint < ci.index("pip install -q -e '.[docs]'") < docs
    section = ci[ci.rindex('echo "==', 0, docs) : docs]
    assert "docs" in section
