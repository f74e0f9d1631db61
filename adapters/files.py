"""Path confinement for file-taking tools: a model-supplied path may only name a file under a base.

Theory of operation
-------------------
A tool argument such as ``{"path": "reports/q3.csv"}`` is model output, and a prompt injection can
make it anything. :func:`confine` turns such a string into a real path inside ``base`` or raises
:class:`PathRejected`; there is no switch that turns the check off and no default base.

It works in two stages, and both must pass:

1. **Lexical refusal** of inputs that are ambiguous or only make sense as an attack, before the
   file system is consulted: empty strings, NUL bytes and other control characters, absolute paths
   (``/etc/passwd``), Windows drive and UNC forms (``C:\\x``, ``C:x``, ``\\\\server\\share``,
   ``//server/share``), *any* backslash, any ``..`` component (even one that would stay inside
   the base: the caller gets one simple rule), a leading ``~`` (never expanded, so refused rather
   than silently taken literally), and percent-encoded bytes (``%2e%2e%2f``).

   Percent-encoding: *decided, not decoded.* The helper never URL-decodes, because a path that is
   decoded once here and once more downstream (``%252e``) would change meaning between the check
   and the use. Instead, any ``%XX`` escape is refused outright. A file whose real name contains
   ``%`` followed by two hex digits can therefore not be reached through a tool; that is the price
   of having one meaning per string. Unicode is NFKC-normalised for the check too, so fullwidth
   ``．．／`` lookalikes of ``../`` are refused as well.

2. **Resolution and containment**: the base is resolved with ``os.path.realpath`` (it must exist
   and be a directory), the candidate ``base / user_path`` is resolved the same way (every
   symlink followed, including a dangling final one), and the result must be the base itself or
   lie under it (``os.path.commonpath``). A symlink inside the base that points outside it is
   therefore refused, while one that points elsewhere inside the base is fine.

The check is a point-in-time check (time of check vs time of use): a process that can create
symlinks inside the base *between* :func:`confine` and ``open`` can still race it. Tools that
write should run with a base only they can modify.
"""

from __future__ import annotations

import os
import re
import unicodedata
from enum import StrEnum
from pathlib import Path

from lifecycle import LifecycleError

__all__ = ["PathRejected", "RejectReason", "confine"]

_MAX_LEN = 4096
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_DRIVE = re.compile(r"^[A-Za-z]:")


class RejectReason(StrEnum):
    """Why a path was refused (the machine-readable ``reason`` of :class:`PathRejected`)."""

    EMPTY = "empty"  #: an empty string (or only whitespace)
    TOO_LONG = "too_long"  #: longer than 4096 characters
    NUL_BYTE = "nul_byte"  #: contains ``\\x00``
    CONTROL_CHAR = "control_char"  #: contains another control character
    ABSOLUTE = "absolute"  #: starts at the file-system root
    WINDOWS_FORM = "windows_form"  #: a drive letter, a UNC prefix or a backslash
    HOME = "home"  #: starts with ``~``
    PARENT_REF = "parent_ref"  #: has a ``..`` component
    PERCENT_ENCODED = "percent_encoded"  #: has a ``%XX`` escape
    ESCAPES_BASE = "escapes_base"  #: resolves (through symlinks) outside the base
    BAD_BASE = "bad_base"  #: the base does not exist or is not a directory


class PathRejected(LifecycleError):
    """A user-supplied path was refused by :func:`confine`.

    Attributes:
        reason: the :class:`RejectReason` value.
        user_path: the refused input, shortened to 200 characters for safe display.
    """

    def __init__(self, reason: RejectReason, user_path: str) -> None:
        self.reason = reason
        self.user_path = user_path[:200]
        super().__init__(f"path refused ({reason.value}): {self.user_path!r}")


def _lexical_reason(user_path: str) -> RejectReason | None:
    """The first lexical rule ``user_path`` breaks, or ``None``."""
    if not user_path.strip():
        return RejectReason.EMPTY
    if len(user_path) > _MAX_LEN:
        return RejectReason.TOO_LONG
    if "\x00" in user_path:
        return RejectReason.NUL_BYTE
    if any(unicodedata.category(ch) == "Cc" for ch in user_path):
        return RejectReason.CONTROL_CHAR
    if _PERCENT_ESCAPE.search(user_path):
        return RejectReason.PERCENT_ENCODED
    for text in (user_path, unicodedata.normalize("NFKC", user_path)):
        if "\\" in text or _DRIVE.match(text) or text.startswith("//"):
            return RejectReason.WINDOWS_FORM
        if text.startswith("/"):
            return RejectReason.ABSOLUTE
        if text.startswith("~"):
            return RejectReason.HOME
        if ".." in text.split("/"):
            return RejectReason.PARENT_REF
    return None


def confine(base: Path | str, user_path: str) -> Path:
    """Resolve ``user_path`` under ``base``, or refuse it.

    Args:
        base: the directory tool paths are confined to; it must exist. It is resolved with
            ``realpath`` first, so a base reached through a symlink is fine.
        user_path: the untrusted, relative path from the tool arguments. It need not exist (a
            tool may create it), but every existing symlink on the way is followed.

    Returns:
        The resolved absolute path, inside the resolved base (or the base itself for ``"."``).

    Raises:
        PathRejected: the input breaks a lexical rule (see the module docstring), resolves
            outside the base, or the base is not an existing directory.
        TypeError: ``user_path`` is not a ``str`` (bytes and path objects are not accepted from
            tool arguments).
    """
    if not isinstance(user_path, str):
        raise TypeError(f"user_path must be str, not {type(user_path).__name__}")
    reason = _lexical_reason(user_path)
    if reason is not None:
        raise PathRejected(reason, user_path)
    base_text = os.fspath(base)
    if not base_text or "\x00" in base_text:
        raise PathRejected(RejectReason.BAD_BASE, base_text)
    real_base = os.path.realpath(base_text)
    if not os.path.isdir(real_base):
        raise PathRejected(RejectReason.BAD_BASE, base_text)
    candidate = os.path.realpath(os.path.join(real_base, user_path))
    try:
        inside = os.path.commonpath([real_base, candidate]) == real_base
    except ValueError:  # different drives (Windows) or a mix of absolute and relative
        inside = False
    if not inside:
        raise PathRejected(RejectReason.ESCAPES_BASE, user_path)
    return Path(candidate)
