"""Path confinement (``adapters.files.confine``): an attack corpus over real dirs and symlinks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.files import PathRejected, RejectReason, confine
from lifecycle import LifecycleError


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A base dir with files and symlinks (in and out), next to a secret dir outside it.

    Yields ``(base, outside)``; after the test, asserts nothing outside the base changed.
    """
    base = tmp_path / "base"
    outside = tmp_path / "outside"
    (base / "sub").mkdir(parents=True)
    outside.mkdir()
    (base / "ok.txt").write_text("ok")
    (base / "sub" / "nested.txt").write_text("nested")
    (outside / "secret.txt").write_text("secret")
    os.symlink(outside / "secret.txt", base / "link_out")  # file symlink pointing out
    os.symlink(outside, base / "dir_out")  # dir symlink pointing out
    os.symlink(base / "ok.txt", base / "link_in")  # symlink staying inside
    os.symlink(base / "sub", base / "sub_link")  # dir symlink staying inside
    os.symlink(outside / "not-yet", base / "dangling_out")  # dangling, pointing out
    os.symlink("../../outside/secret.txt", base / "sub" / "rel_out")  # relative link out
    os.symlink(base / "loop_b", base / "loop_a")  # a symlink loop inside the base
    os.symlink(base / "loop_a", base / "loop_b")
    before = _tree(outside)
    yield base, outside
    assert _tree(outside) == before, "something outside the base was touched"


def _tree(root: Path) -> dict[str, tuple[int, float]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime)
        for p in sorted(root.rglob("*"))
    }


# -- the attack corpus: (input, expected reason) -------------------------------------------------

LEXICAL_ATTACKS: list[tuple[str, RejectReason]] = [
    ("", RejectReason.EMPTY),
    ("   ", RejectReason.EMPTY),
    ("a" * 5000, RejectReason.TOO_LONG),
    ("ok.txt\x00.png", RejectReason.NUL_BYTE),
    ("\x00", RejectReason.NUL_BYTE),
    ("ok\n.txt", RejectReason.CONTROL_CHAR),
    ("ok\x1b[2J.txt", RejectReason.CONTROL_CHAR),
    ("..", RejectReason.PARENT_REF),
    ("../outside/secret.txt", RejectReason.PARENT_REF),
    ("../../../../etc/passwd", RejectReason.PARENT_REF),
    ("sub/../../outside/secret.txt", RejectReason.PARENT_REF),
    ("sub/..", RejectReason.PARENT_REF),  # stays inside, still refused: one simple rule
    ("./../outside", RejectReason.PARENT_REF),
    ("sub//..//..//outside", RejectReason.PARENT_REF),
    ("/etc/passwd", RejectReason.ABSOLUTE),
    ("/", RejectReason.ABSOLUTE),
    ("//etc/passwd", RejectReason.WINDOWS_FORM),  # also a UNC-like prefix
    ("C:\\Windows\\win.ini", RejectReason.WINDOWS_FORM),
    ("C:/Windows/win.ini", RejectReason.WINDOWS_FORM),
    ("c:secret.txt", RejectReason.WINDOWS_FORM),
    ("\\\\server\\share\\x", RejectReason.WINDOWS_FORM),
    ("//server/share/x", RejectReason.WINDOWS_FORM),
    ("..\\..\\outside\\secret.txt", RejectReason.WINDOWS_FORM),
    ("sub\\..\\..\\x", RejectReason.WINDOWS_FORM),
    ("~/.ssh/id_rsa", RejectReason.HOME),
    ("~root", RejectReason.HOME),
    ("%2e%2e/outside/secret.txt", RejectReason.PERCENT_ENCODED),
    ("%2E%2E%2Foutside", RejectReason.PERCENT_ENCODED),
    ("..%2foutside", RejectReason.PERCENT_ENCODED),
    ("%252e%252e/outside", RejectReason.PERCENT_ENCODED),  # double-encoded
    ("%2fetc%2fpasswd", RejectReason.PERCENT_ENCODED),
    ("sub/%00", RejectReason.PERCENT_ENCODED),
    ("\uff0e\uff0e/outside/secret.txt", RejectReason.PARENT_REF),  # fullwidth dots
    ("\uff0e\uff0e\uff0foutside", RejectReason.PARENT_REF),  # fullwidth dots and slash
    ("\uff0fetc/passwd", RejectReason.ABSOLUTE),  # fullwidth slash
    ("\uff3c\uff3cserver\uff3cshare", RejectReason.WINDOWS_FORM),  # fullwidth backslashes
]

SYMLINK_ATTACKS = [
    "link_out",
    "dir_out",
    "dir_out/secret.txt",
    "dir_out/new-file.txt",
    "dangling_out",
    "sub/rel_out",
]

LEGIT = [
    ("ok.txt", "ok.txt"),
    ("./ok.txt", "ok.txt"),
    ("sub/nested.txt", "sub/nested.txt"),
    ("sub//nested.txt", "sub/nested.txt"),
    ("sub/./nested.txt", "sub/nested.txt"),
    ("link_in", "ok.txt"),
    ("sub_link/nested.txt", "sub/nested.txt"),
    ("new-file.txt", "new-file.txt"),  # need not exist yet
    ("sub/deeper/new.txt", "sub/deeper/new.txt"),
    (".", ""),
    ("sub/", "sub"),
    ("file..name.txt", "file..name.txt"),  # ".." inside a name is not a component
    ("...", "..."),
    ("100% done.txt", "100% done.txt"),  # a bare % is fine; only %XX escapes are refused
    ("café.txt", "café.txt"),
    ("notes:v2.txt", "notes:v2.txt"),  # not a drive: the colon is not second
]


@pytest.mark.parametrize(("attack", "reason"), LEXICAL_ATTACKS)
def test_lexical_attacks_are_refused_with_their_reason(
    layout: tuple[Path, Path], attack: str, reason: RejectReason
) -> None:
    """Every lexical attack raises PathRejected with the expected machine-readable reason."""
    base, _ = layout
    with pytest.raises(PathRejected) as info:
        confine(base, attack)
    assert info.value.reason is reason
    assert isinstance(info.value, LifecycleError)
    assert len(info.value.user_path) <= 200


@pytest.mark.parametrize("attack", SYMLINK_ATTACKS)
def test_symlinks_pointing_outside_are_refused(layout: tuple[Path, Path], attack: str) -> None:
    """A path that resolves outside the base through any symlink is refused."""
    base, _ = layout
    with pytest.raises(PathRejected) as info:
        confine(base, attack)
    assert info.value.reason is RejectReason.ESCAPES_BASE


@pytest.mark.parametrize(("user_path", "expected"), LEGIT)
def test_legitimate_paths_resolve_inside_the_base(
    layout: tuple[Path, Path], user_path: str, expected: str
) -> None:
    """Ordinary relative paths (and symlinks staying inside) resolve to the real target."""
    base, _ = layout
    got = confine(base, user_path)
    assert got == Path(os.path.realpath(base / expected))
    assert got.is_absolute()


def test_a_symlink_loop_inside_the_base_stays_inside(layout: tuple[Path, Path]) -> None:
    """A symlink loop does not crash the check; it resolves inside the base."""
    base, _ = layout
    got = confine(base, "loop_a")
    assert os.path.commonpath([os.path.realpath(base), got]) == os.path.realpath(base)


def test_a_base_reached_through_a_symlink_is_resolved_first(
    layout: tuple[Path, Path], tmp_path: Path
) -> None:
    """The base itself may be a symlink; containment is checked against its real path."""
    base, _ = layout
    alias = tmp_path / "alias"
    os.symlink(base, alias)
    assert confine(alias, "ok.txt") == Path(os.path.realpath(base / "ok.txt"))
    with pytest.raises(PathRejected):
        confine(alias, "link_out")


@pytest.mark.parametrize("bad", ["missing-dir", "ok.txt", ""])
def test_a_missing_or_non_directory_base_is_refused(layout: tuple[Path, Path], bad: str) -> None:
    """There is no default base and no way to confine to nothing: a bad base is refused."""
    base, _ = layout
    with pytest.raises(PathRejected) as info:
        confine(base / bad if bad else "", "ok.txt")
    assert info.value.reason is RejectReason.BAD_BASE


def test_non_str_input_is_a_type_error(layout: tuple[Path, Path]) -> None:
    """Bytes or Path objects are not tool arguments; they are refused with TypeError."""
    base, _ = layout
    with pytest.raises(TypeError):
        confine(base, b"ok.txt")  # type: ignore[arg-type]


def test_a_file_tool_using_the_guard_never_touches_outside(layout: tuple[Path, Path]) -> None:
    """A writing tool guarded by confine: every attack refused, legit writes land in the base."""
    base, outside = layout
    written: list[Path] = []

    def write_tool(path: str, text: str) -> str:
        target = confine(base, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        written.append(target)
        return str(target)

    attacks = [a for a, _ in LEXICAL_ATTACKS if a.strip() and len(a) < 4096] + SYMLINK_ATTACKS
    refused = 0
    for attack in attacks:
        try:
            write_tool(attack, "pwned")
        except PathRejected:
            refused += 1
    assert refused == len(attacks)
    assert written == []
    assert "pwned" not in (outside / "secret.txt").read_text()
    assert not (outside / "not-yet").exists()
    assert not (outside / "new-file.txt").exists()
    write_tool("sub/report.txt", "fine")
    assert (base / "sub" / "report.txt").read_text() == "fine"


def test_error_message_shows_a_shortened_repr() -> None:
    """The error carries the reason and a bounded, repr-quoted copy of the input."""
    err = PathRejected(RejectReason.PARENT_REF, "../" * 200)
    assert err.reason is RejectReason.PARENT_REF
    assert len(err.user_path) == 200
    assert "parent_ref" in str(err)
