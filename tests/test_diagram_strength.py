"""Gaps found by mutation testing in the diagrams' text handling (issue 14; docs/mutation.md):
a DOT string escapes its backslashes and quotes (an unescaped one would end the string early and
break the file), its newlines become DOT line breaks, and journal text is reduced to a safe
character set, one ``?`` per character dropped, and cut at a bounded length."""

from __future__ import annotations

import pytest

from lifecycle._diagram_dot import _q
from lifecycle._diagram_style import safe_text


def test_a_dot_string_escapes_backslashes_and_quotes() -> None:
    """``a"b\\c`` becomes ``"a\\"b\\\\c"``: the string stays one DOT string."""
    assert _q('a"b\\c') == '"a\\"b\\\\c"'
    assert _q("\\") == '"\\\\"'
    assert _q('"') == '"\\""'


@pytest.mark.parametrize(("left", "brk"), [(False, "\\n"), (True, "\\l")])
def test_dot_newlines_are_centred_or_left_justified_line_breaks(left: bool, brk: str) -> None:
    assert _q("one\ntwo\n", left=left) == f'"one{brk}two{brk}"'


def test_journal_text_keeps_safe_characters_and_marks_each_other_one() -> None:
    """Every character outside the safe set becomes exactly one ``?``; the rest is kept."""
    kept = "Run_1 at 2.5: queued=ok, (x+y)/z -> 'done'"
    assert safe_text(kept) == kept
    assert safe_text('a"b<c>{d}\n|') == "a?b?c>?d???"


def test_journal_text_is_cut_at_sixty_characters() -> None:
    """Up to 60 characters are kept whole; a longer note keeps 57 and ends with ``...``."""
    assert safe_text("x" * 60) == "x" * 60
    assert safe_text("x" * 61) == "x" * 57 + "..."
    assert len(safe_text("y" * 500)) == 60
