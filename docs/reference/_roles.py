"""An mkdocs hook: show the Sphinx roles of the docstrings as plain code names.

The docstrings cross-reference with Sphinx roles (``:class:`Scenario```,
``:meth:`~adapters.store.RunStore.save```), which Markdown renders as the role's text followed by
the name in code. This hook drops the role and, as Sphinx does for a ``~`` target, keeps only the
last dotted component of the name. A paragraph ending in ``::`` (reST's "a literal block
follows", which Markdown renders as an indented code block anyway) ends in one colon.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:attr|class|const|data|exc|func|meth|mod|obj):<code>(~?)([^<]*)</code>")
_LITERAL_MARKER = re.compile(r"::</p>")


def _name(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    return f"<code>{target.rsplit('.', 1)[-1] if short else target}</code>"


def strip_roles(html: str) -> str:
    """``html`` with every rendered Sphinx role shown as its name in code, and reST's ``::``
    literal-block markers as one colon."""
    return _LITERAL_MARKER.sub(":</p>", _ROLE.sub(_name, html))


def on_page_content(html: str, **kwargs: Any) -> str:
    """mkdocs's hook on each page's HTML."""
    return strip_roles(html)
