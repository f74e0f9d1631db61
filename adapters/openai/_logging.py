"""The controller's logger, with a filter that keeps credentials out of every record.

All controller logs go to ``logging.getLogger("adapters.openai")`` with structured ``extra=``
fields (``run_id``, ``thread_id``, ``op``, ...). :class:`RedactingFilter` runs on that logger and
masks API keys, bearer tokens and credential ``key=value`` pairs in the message, its arguments and
every string ``extra`` field, so even a DEBUG log of a request never shows a key.
"""

from __future__ import annotations

import logging
from typing import Any

from lifecycle import redact_secrets

__all__ = ["LOGGER_NAME", "RedactingFilter", "logger"]

LOGGER_NAME = "adapters.openai"

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if str(k).lower() not in _HEADERS}
    if isinstance(value, list | tuple):
        return type(value)(_clean(v) for v in value)
    return value


_HEADERS = frozenset({"authorization", "api-key", "api_key", "openai-api-key"})


class RedactingFilter(logging.Filter):
    """Mask credentials in a record's message, arguments and extra fields (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place and keep it."""
        if isinstance(record.msg, str):
            record.msg = redact_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = _clean(record.args)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD:
                record.__dict__[key] = _clean(value)
        return True


logger = logging.getLogger(LOGGER_NAME)
if not any(isinstance(f, RedactingFilter) for f in logger.filters):
    logger.addFilter(RedactingFilter())
