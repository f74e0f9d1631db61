"""Tool registries the Temporal tests and worker processes serve (by import path).

``record_sale`` is the non-idempotent tool of the crash tests: every execution appends a
``start`` line (with the worker's pid) to the file named by ``LIFECYCLE_SALES_LOG`` before its
side effect, sleeps ``LIFECYCLE_SALE_SECONDS``, then appends ``end``: a test counts executions
by reading the file, across processes.
"""

from __future__ import annotations

import asyncio
import os

from adapters.demo import ORDER_TOOLS
from lifecycle import ToolRegistry

__all__ = ["GATED_ORDER_TOOLS", "ORDER_TOOLS", "SALES", "read_sales"]

SALES = ToolRegistry()

#: the demo's order tools, each needing approval before it runs
GATED_ORDER_TOOLS = ToolRegistry()
for _name in ORDER_TOOLS.names:
    _spec = ORDER_TOOLS.get(_name)
    assert _spec is not None
    GATED_ORDER_TOOLS.register(_spec.fn, name=_name, needs_approval=True)


@SALES.tool
async def record_sale(order_id: str) -> str:
    """Record a sale (not idempotent: each execution is one more sale).

    Args:
        order_id: the order.
    """
    path = os.environ["LIFECYCLE_SALES_LOG"]
    with open(path, "a", encoding="utf-8") as log:
        log.write(f"start {order_id} {os.getpid()}\n")
    await asyncio.sleep(float(os.environ.get("LIFECYCLE_SALE_SECONDS", "0")))
    with open(path, "a", encoding="utf-8") as log:
        log.write(f"end {order_id} {os.getpid()}\n")
    return f"sale {order_id} recorded"


def read_sales(path: str) -> list[tuple[str, str, int]]:
    """The sales log: ``(phase, order_id, pid)`` per line."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as log:
        rows = [line.split() for line in log if line.strip()]
    return [(phase, order, int(pid)) for phase, order, pid in rows]
