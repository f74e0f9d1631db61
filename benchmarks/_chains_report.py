"""The comparison of ``bench_chains``: every cell against each hand-written loop, the failed
checks, and the Markdown table."""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks._chains_workload import LOOPS

__all__ = ["comparison", "failures", "format_per_side", "format_table"]

# -- comparison -----------------------------------------------------------------------------------


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _paired(a: list[dict[str, Any]], b: list[dict[str, Any]], key: str) -> float | None:
    """The median of the per-repeat ratios (run ``i`` of both sides ran in the same repeat)."""
    values = [r for x, y in zip(a, b, strict=False) if (r := _ratio(x[key], y[key])) is not None]
    return statistics.median(values) if values else None


def comparison(profiles: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every side's cell against each hand-written loop's cell (same profile and scenario)."""
    rows: list[dict[str, Any]] = []
    for profile, sides in profiles.items():
        for side, cells in sides.items():
            for scenario, cell in cells.items():
                row: dict[str, Any] = {
                    "profile": profile,
                    "scenario": scenario,
                    "side": side,
                    "wall_s": cell["wall_s"]["median"],
                    "requests": cell["requests_per_run"]["median"],
                    "client_cpu_ms": cell["client_cpu_ms"]["median"],
                    "vs": {},
                }
                for loop in LOOPS:
                    base = sides.get(loop, {}).get(scenario)
                    if base is None or loop == side:
                        continue
                    row["vs"][loop] = {
                        "wall": _ratio(cell["wall_s"]["median"], base["wall_s"]["median"]),
                        "wall_paired": _paired(cell["per_run"], base["per_run"], "wall_s"),
                        "requests": _ratio(
                            cell["requests_per_run"]["median"], base["requests_per_run"]["median"]
                        ),
                        "client_cpu": _ratio(
                            cell["client_cpu_ms"]["median"], base["client_cpu_ms"]["median"]
                        ),
                    }
                rows.append(row)
    return rows


def failures(profiles: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Every cell whose checks failed, and every disagreement on the final answer."""
    out: list[str] = []
    for profile, sides in profiles.items():
        answers: dict[str, set[str]] = {}
        for side, cells in sides.items():
            for scenario, cell in cells.items():
                if not cell["ok"]:
                    out.append(f"{profile}/{scenario}/{side}: {'; '.join(cell['problems'])}")
                answers.setdefault(scenario, set()).update(r["answer"] for r in cell["per_run"])
        for scenario, seen in answers.items():
            if len(seen) != 1:
                out.append(f"{profile}/{scenario}: the sides disagree on the answer: {seen}")
    return out


def _f(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def format_table(result: dict[str, Any]) -> str:
    """Markdown: every cell, with its ratios to each hand-written loop."""
    lines = [
        "| profile | scenario | side | wall s | requests | CPU ms | "
        + " | ".join(f"vs {loop}: wall / req / CPU" for loop in LOOPS)
        + " |",
        "| --- | --- | --- | ---: | ---: | ---: |" + " ---: |" * len(LOOPS),
    ]
    for row in result["comparison"]:
        ratios = []
        for loop in LOOPS:
            r = row["vs"].get(loop)
            ratios.append(
                "-"
                if r is None
                else " / ".join(f"{_f(r[k], '.2f')}x" for k in ("wall", "requests", "client_cpu"))
            )
        lines.append(
            f"| {row['profile']} | {row['scenario']} | {row['side']} | "
            f"{_f(row['wall_s'], '.3f')} | {_f(row['requests'], '.0f')} | "
            f"{_f(row['client_cpu_ms'], '.1f')} | {' | '.join(ratios)} |"
        )
    return "\n".join(lines)


def _per_scenario(cells: dict[str, Any], scenarios: list[str], key: str, spec: str) -> str:
    return " / ".join(_f(cells[s][key]["median"], spec) if s in cells else "-" for s in scenarios)


def format_per_side(result: dict[str, Any]) -> str:
    """Markdown: one row per profile and side, each number given for every scenario in turn
    (medians per chain: requests, wall time, client CPU, polls that found nothing new)."""
    scenarios: list[str] = result["settings"]["scenarios"]
    order = " / ".join(scenarios)
    lines = [
        f"| profile | side | requests ({order}) | wall s | client CPU ms | polls nothing new |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for profile, sides in result["profiles"].items():
        for side, cells in sides.items():
            numbers = [
                _per_scenario(cells, scenarios, key, spec)
                for key, spec in (
                    ("requests_per_run", ".0f"),
                    ("wall_s", ".3f"),
                    ("client_cpu_ms", ".1f"),
                    ("polls_nothing_new", ".0f"),
                )
            ]
            lines.append(f"| {profile} | {side} | {' | '.join(numbers)} |")
    return "\n".join(lines)
