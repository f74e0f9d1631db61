"""Support for mutation runs (``python scripts/mutation.py``, see docs/mutation.md)."""
