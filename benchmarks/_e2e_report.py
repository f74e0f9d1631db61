"""The comparison of ``bench_e2e``: the controller sides against the SDK's loop (the headline,
with the targets' verdicts), the parallel-round ratios, and the Markdown tables."""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks._e2e_sides import (
    REQUESTS_TARGET,
    TARGET_PROFILES,
    TARGET_SCENARIOS,
    WALL_TARGET,
    ratio,
)

__all__ = ["compare_cell", "format_headline", "format_table", "headline", "parallel_ratios"]

# -- comparison -----------------------------------------------------------------------------------


def _paired(ctl: list[dict[str, Any]], sdk: list[dict[str, Any]], key: str) -> float | None:
    """The median of the per-repeat ratios (runs ``i`` of both sides ran back to back)."""
    pairs = [ratio(c[key], s[key]) for c, s in zip(ctl, sdk, strict=False)]
    values = [p for p in pairs if p is not None]
    return statistics.median(values) if values else None


def compare_cell(ctl: dict[str, Any], sdk: dict[str, Any]) -> dict[str, Any]:
    """A controller cell against the SDK's cell of the same profile and scenario."""
    return {
        "wall": ratio(ctl["wall_s"]["median"], sdk["wall_s"]["median"]),
        "wall_paired": _paired(ctl["per_run"], sdk["per_run"], "wall_s"),
        "requests": ratio(ctl["requests_per_run"]["median"], sdk["requests_per_run"]["median"]),
        "detection_actionable_p50": ratio(
            ctl["detection_ms"]["actionable_p50"], sdk["detection_ms"]["actionable_p50"]
        ),
        "client_cpu": ratio(ctl["client_cpu_ms"]["median"], sdk["client_cpu_ms"]["median"]),
    }


def headline(profiles: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The poll-schedule comparison: every controller side vs the SDK loop, per profile and
    scenario, with the targets' verdicts where they apply."""
    rows: list[dict[str, Any]] = []
    for profile, sides in profiles.items():
        sdk = sides.get("sdk", {})
        for side, cells in sides.items():
            if side == "sdk":
                continue
            for scenario, cell in cells.items():
                base = sdk.get(scenario)
                if base is None:
                    continue
                ratios = compare_cell(cell, base)
                targeted = profile in TARGET_PROFILES and scenario in TARGET_SCENARIOS
                row: dict[str, Any] = {
                    "profile": profile,
                    "scenario": scenario,
                    "side": side,
                    "wall_s": cell["wall_s"]["median"],
                    "sdk_wall_s": base["wall_s"]["median"],
                    "requests": cell["requests_per_run"]["median"],
                    "sdk_requests": base["requests_per_run"]["median"],
                    "ratios": ratios,
                    "targeted": targeted,
                }
                if targeted:
                    row["wall_ok"] = ratios["wall"] is not None and ratios["wall"] <= WALL_TARGET
                    row["requests_ok"] = (
                        ratios["requests"] is not None and ratios["requests"] <= REQUESTS_TARGET
                    )
                rows.append(row)
    verdicts: dict[str, Any] = {}
    for side in {r["side"] for r in rows}:
        aimed = [r for r in rows if r["side"] == side and r["targeted"]]
        if aimed:
            verdicts[side] = {
                "wall_ok": all(r["wall_ok"] for r in aimed),
                "requests_ok": all(r["requests_ok"] for r in aimed),
                "missed": [
                    f"{r['profile']}/{r['scenario']}: "
                    + ", ".join(
                        f"{k} {r['ratios'][k]:.2f}x"
                        for k, ok in (("wall", r["wall_ok"]), ("requests", r["requests_ok"]))
                        if not ok
                    )
                    for r in aimed
                    if not (r["wall_ok"] and r["requests_ok"])
                ],
            }
    return {
        "targets": {
            "profiles": list(TARGET_PROFILES),
            "scenarios": list(TARGET_SCENARIOS),
            "wall": f"controller / sdk <= {WALL_TARGET}",
            "requests": f"controller / sdk <= {REQUESTS_TARGET}",
        },
        "verdicts": dict(sorted(verdicts.items())),
        "rows": rows,
    }


def parallel_ratios(profiles: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Tool round span of ``parallel-3`` / ``one-tool`` per profile and side (target <= 1.25)."""
    out: dict[str, Any] = {"target": 1.25}
    for profile, sides in profiles.items():
        for side, cells in sides.items():
            one = cells.get("one-tool", {}).get("tool_round_span_s", {}).get("median")
            three = cells.get("parallel-3", {}).get("tool_round_span_s", {}).get("median")
            if one is not None and three is not None:
                out[f"{profile}/{side}"] = ratio(three, one)
    return out


def _f(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def format_headline(result: dict[str, Any]) -> str:
    """Markdown: the controller/sdk comparison per profile, scenario and side, with verdicts."""
    lines = [
        "| profile | scenario | side | wall s (sdk) | wall ratio | requests (sdk) | "
        "requests ratio | target |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in result["headline"]["rows"]:
        ratios = r["ratios"]
        if r["targeted"]:
            missed = [k for k in ("wall", "requests") if not r[f"{k}_ok"]]
            verdict = "met" if not missed else "MISSED: " + ", ".join(missed)
        else:
            verdict = "-"
        lines.append(
            f"| {r['profile']} | {r['scenario']} | {r['side']} | "
            f"{_f(r['wall_s'], '.3f')} ({_f(r['sdk_wall_s'], '.3f')}) | "
            f"{_f(ratios['wall'], '.2f')}x | "
            f"{_f(r['requests'], '.0f')} ({_f(r['sdk_requests'], '.0f')}) | "
            f"{_f(ratios['requests'], '.2f')}x | {verdict} |"
        )
    return "\n".join(lines)


def format_table(result: dict[str, Any]) -> str:
    """Markdown: every cell's numbers."""
    lines = [
        "| profile | scenario | side | wall s | requests/run | detect p50 / p99 ms | "
        "actionable p50 ms | missed | client CPU ms | tool round s | ok |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for profile, sides in result["profiles"].items():
        for side, cells in sides.items():
            for name, r in cells.items():
                d = r["detection_ms"]
                ok = r["all_completed"] and r["tools_exactly_once"]
                fell_back = f" ({r['stream_fallbacks']} fallbacks)" if r["stream_fallbacks"] else ""
                lines.append(
                    f"| {profile} | {name} | {side} | {_f(r['wall_s']['median'], '.3f')} | "
                    f"{_f(r['requests_per_run']['median'], '.0f')} | "
                    f"{_f(d['p50'], '.1f')} / {_f(d['p99'], '.1f')} | "
                    f"{_f(d['actionable_p50'], '.1f')} | {d['missed_changes']} | "
                    f"{_f(r['client_cpu_ms']['median'], '.1f')} | "
                    f"{_f(r['tool_round_span_s']['median'], '.3f')} | {ok}{fell_back} |"
                )
    return "\n".join(lines)
