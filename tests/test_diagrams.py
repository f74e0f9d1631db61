"""Diagrams drawn from the transition table: Mermaid, DOT, SVG/PNG, the run overlay and the CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from adapters.cli import main
from adapters.diagram_cli import committed_diagrams, graphviz_version, load_run, render
from lifecycle import LIFECYCLES, Driver, EdgeKind, LifecycleSpec, RunLifecycle, ToolCall
from lifecycle.diagram import RunPath, anomaly_note, edge_id, run_path, to_dot, to_mermaid

ROOT = Path(__file__).resolve().parents[1]
DIAGRAMS = ROOT / "diagrams"
SPECS = sorted(LIFECYCLES.items())
SPEC_IDS = [name for name, _ in SPECS]
HAS_DOT = shutil.which("dot") is not None
#: CI sets this so that a missing Graphviz fails the rendering tests instead of skipping them.
REQUIRE_DOT = os.environ.get("RUN_LIFECYCLE_REQUIRE_GRAPHVIZ") == "1"
needs_dot = pytest.mark.skipif(
    not HAS_DOT and not REQUIRE_DOT,
    reason="Graphviz `dot` is not installed (apt-get install graphviz / brew install graphviz)",
)
RUN = LIFECYCLES["assistants-run"]
CALLS = [ToolCall("call_1", "get_order_total", "{}")]

_DOT_EDGE = re.compile(r'^    "(?P<src>[a-z_]+)" -> "(?P<dst>[a-z_]+)" \[(?P<attrs>.*)\];$')
_DOT_NODE = re.compile(r'^    "(?P<name>[a-z_]+)" \[(?P<attrs>.*)\];$')
_DOT_ATTR = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def dot_edges(text: str) -> dict[str, dict[str, str]]:
    """The table edges of a DOT text, by id, with their attributes."""
    out: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        m = _DOT_EDGE.match(line)
        if m:
            attrs = dict(_DOT_ATTR.findall(m["attrs"]))
            attrs["_pair"] = f"{m['src']}->{m['dst']}"
            out[attrs["id"]] = attrs
    return out


def dot_nodes(text: str) -> dict[str, dict[str, str]]:
    """The state nodes of a DOT text, by name, with their attributes."""
    out: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        m = _DOT_NODE.match(line)
        if m:
            out[m["name"]] = dict(_DOT_ATTR.findall(m["attrs"]))
    return out


def marked(text: str, cls: str = "path") -> set[str]:
    """Ids of the DOT edges carrying class ``cls``."""
    return {i for i, a in dot_edges(text).items() if cls in a.get("class", "").split()}


def two_tool_rounds() -> RunLifecycle:
    """A run with two tool rounds, one of them seen only by a poll, and a stale read."""
    run = RunLifecycle()
    run.observe("in_progress", via="stream")
    run.observe("requires_action", tool_calls=CALLS)
    run.trigger("submit_tool_outputs", tool_call_ids=["call_1"])
    second = (ToolCall("call_2", "calculate_order_total", "{}"),)
    run.observe("requires_action", tool_calls=second)  # queued -> in_progress inferred
    run.trigger("submit_tool_outputs", tool_call_ids=["call_2"])
    run.observe("in_progress")
    run.observe("queued")  # a stale read: an anomaly, not a transition
    run.observe("completed")
    return run


# -- every state and edge, in each format ------------------------------------------------------


@pytest.mark.parametrize(("name", "spec"), SPECS, ids=SPEC_IDS)
def test_mermaid_has_every_state_edge_start_and_end(name: str, spec: LifecycleSpec[Any]) -> None:
    """Mermaid: each state declared, each edge labelled with trigger and tags, [*] in and out."""
    text = to_mermaid(spec)
    lines = text.splitlines()
    assert lines[3] == "stateDiagram-v2"
    for s in spec.states:
        assert any(re.fullmatch(rf'    state "{s.value}( \(.*\))?" as {s.value}', x) for x in lines)
    for e in spec.edges:
        tags = [e.ref]
        tags += ["client"] if e.driver is Driver.CLIENT else []
        tags += ["tolerated"] if e.kind is EdgeKind.TOLERATED else []
        assert f"    {e.source} --> {e.dest}: {e.trigger} ({', '.join(tags)})" in lines
    edge_lines = [x for x in lines if " --> " in x and "[*]" not in x]
    assert len(edge_lines) == len(spec.edges)
    assert [x for x in lines if x.startswith("    [*] --> ")] == [f"    [*] --> {spec.initial}"]
    ends = {x.split()[0] for x in lines if x.endswith(" --> [*]")}
    assert ends == {s.value for s in spec.terminal}
    awaiting = [x for x in lines if x.startswith("    class ") and x.endswith(" awaiting")]
    assert awaiting == (
        [f"    class {','.join(sorted(s.value for s in spec.awaiting_client))} awaiting"]
        if spec.awaiting_client
        else []
    )
    assert "Legend" in text


@pytest.mark.parametrize(("name", "spec"), SPECS, ids=SPEC_IDS)
def test_dot_has_every_state_and_edge_styled_by_driver_and_kind(
    name: str, spec: LifecycleSpec[Any]
) -> None:
    """DOT: one node per state, one edge per table edge; client bold blue, tolerated dashed."""
    text = to_dot(spec)
    nodes = dot_nodes(text)
    assert set(nodes) == {s.value for s in spec.states}
    for s in spec.states:
        attrs = nodes[s.value]
        assert attrs["label"].split("\\n")[0] == s.value
        assert (attrs.get("peripheries") == "2") == (s in spec.terminal)
        assert ("awaiting" in attrs["class"].split()) == (s in spec.awaiting_client)
    edges = dot_edges(text)
    assert len(edges) == len(spec.edges)
    for e in spec.edges:
        attrs = edges[edge_id(e)]
        assert attrs["_pair"] == f"{e.source}->{e.dest}"
        assert attrs["label"] == f"{e.trigger}\\n{e.ref}"
        style = attrs.get("style", "").split(",")
        assert ("dashed" in style) == (e.kind is EdgeKind.TOLERATED)
        assert ("bold" in style) == (e.driver is Driver.CLIENT)
        assert e.driver.value in attrs["class"].split()
    assert f'__start__ -> "{spec.initial}"' in text
    assert 'legend [id="legend"' in text
    has_client = any(e.driver is Driver.CLIENT for e in spec.edges)
    assert ("client-driven edge" in text) == has_client
    assert ("awaiting client" in text) == bool(spec.awaiting_client)


def test_diagrams_are_byte_stable_across_hash_seeds() -> None:
    """Same table, same bytes: two interpreters with different hash seeds render identically."""
    code = (
        "import sys; from adapters.diagram_cli import committed_diagrams as c; "
        "[sys.stdout.buffer.write(v) for _, v in sorted(c(with_svg=False).items())]"
    )
    outputs = []
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, check=True, timeout=60
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0] == b"".join(v for _, v in sorted(committed_diagrams(with_svg=False).items()))


# -- the committed folder ----------------------------------------------------------------------


def test_committed_mermaid_and_dot_are_fresh() -> None:
    """diagrams/*.mmd and *.dot equal a regeneration; run `python diagrams/generate.py` if not."""
    expected = committed_diagrams(with_svg=False)
    on_disk = {p.name for p in [*DIAGRAMS.glob("*.mmd"), *DIAGRAMS.glob("*.dot")]}
    assert on_disk == set(expected)
    stale = [n for n, content in expected.items() if (DIAGRAMS / n).read_bytes() != content]
    assert stale == [], "stale diagrams; run `python diagrams/generate.py`"


def test_readme_embeds_the_current_assistants_run_diagram() -> None:
    """The Mermaid block after README's `<!-- diagram:assistants-run -->` marker is not stale."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    marker = "<!-- diagram:assistants-run -->\n"
    if marker not in readme:
        pytest.skip("README has no diagram marker")
    after = readme.split(marker, 1)[1]
    if not after.startswith("```mermaid\n"):
        pytest.skip("no Mermaid block after the README marker yet")
    block = after.removeprefix("```mermaid\n").split("```\n", 1)[0]
    assert block == (DIAGRAMS / "assistants-run.mmd").read_text(encoding="utf-8")


@needs_dot
def test_committed_svgs_are_fresh_and_parse() -> None:
    """Each committed SVG parses, names every state, and equals a regeneration (same Graphviz)."""
    recorded = (DIAGRAMS / "graphviz-version.txt").read_text(encoding="utf-8").strip()
    same_graphviz = graphviz_version() == recorded
    for name, spec in SPECS:
        committed = (DIAGRAMS / f"{name}.svg").read_bytes()
        assert b"Generated by graphviz" not in committed
        assert_svg_shows(committed, spec)
        if same_graphviz:
            assert committed == render(spec, "svg"), f"stale {name}.svg; run diagrams/generate.py"


def assert_svg_shows(svg: bytes, spec: LifecycleSpec[Any]) -> ET.Element:
    """The SVG parses as XML, has a node per state and an edge group per table edge."""
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    groups = {g.get("id"): g for g in root.iter(f"{ns}g")}
    for s in spec.states:
        node = groups[f"state_{s.value}"]
        texts = " ".join(t.text or "" for t in node.iter(f"{ns}text"))
        assert s.value in texts
    for e in spec.edges:
        edge = groups[edge_id(e)]
        assert e.trigger in " ".join(t.text or "" for t in edge.iter(f"{ns}text"))
    return root


@needs_dot
@pytest.mark.parametrize(("name", "spec"), SPECS, ids=SPEC_IDS)
def test_svg_render_parses_and_names_every_state(name: str, spec: LifecycleSpec[Any]) -> None:
    """A fresh SVG render parses as XML and contains every state and edge."""
    assert_svg_shows(render(spec, "svg"), spec)


# -- the run overlay ---------------------------------------------------------------------------


def journal_edge_ids(steps: Any) -> set[str]:
    """The DOT ids of the table edges a journal went through (each step must be in the table)."""
    ids = set()
    for step in steps:
        edge = RUN.edge(step.source, step.trigger)
        assert edge is not None
        ids.add(edge_id(edge))
    return ids


def path_of(run: RunLifecycle) -> RunPath:
    return run_path(
        run.spec,
        run.history,
        final=str(run.state),
        notes=[anomaly_note(a) for a in run.anomalies],
    )


def test_overlay_marks_exactly_the_journal_edges_with_counts() -> None:
    """Two tool rounds: the four edges taken are marked, with x2/x3 counts; nothing else is."""
    run = two_tool_rounds()
    text = to_dot(RUN, path_of(run))
    journal_ids = journal_edge_ids(run.history)
    assert marked(text) == journal_ids
    assert journal_ids == {
        "edge_queued__start",
        "edge_in_progress__require_action",
        "edge_requires_action__submit_tool_outputs",
        "edge_in_progress__complete",
    }
    edges = dot_edges(text)
    assert edges["edge_queued__start"]["label"].endswith("taken x3 (1 inferred)")
    assert edges["edge_requires_action__submit_tool_outputs"]["label"].endswith("taken x2")
    assert edges["edge_in_progress__complete"]["label"].endswith("\\ntaken")
    nodes = dot_nodes(text)
    assert "final" in nodes["completed"]["class"].split()
    assert [n for n, a in nodes.items() if "final" in a["class"].split()] == ["completed"]
    visited = {n for n, a in nodes.items() if "visited" in a["class"].split()}
    assert visited == {"queued", "in_progress", "requires_action"}
    assert "regression: observed 'queued' in in_progress" in text


def test_overlay_marks_inferred_steps() -> None:
    """A poll that jumps queued -> completed marks both steps; the skipped one as inferred."""
    run = RunLifecycle()
    run.observe("completed")
    text = to_dot(RUN, path_of(run))
    assert marked(text) == {"edge_queued__start", "edge_in_progress__complete"}
    assert marked(text, "inferred") == {"edge_queued__start"}
    assert 'style="dotted"' in text
    mermaid = to_mermaid(RUN, path_of(run))
    assert "    queued --> in_progress: start (R2) - inferred" in mermaid
    assert "    in_progress --> completed: complete (R5) - taken" in mermaid


def test_overlay_without_a_path_marks_nothing() -> None:
    """The plain diagram has no path classes, and an empty journal marks no edge."""
    assert marked(to_dot(RUN)) == set()
    empty = run_path(RUN, [])
    assert empty.final == "queued"
    text = to_dot(RUN, empty)
    assert marked(text) == set()
    assert "final" in dot_nodes(text)["queued"]["class"].split()


def test_step_not_in_table_is_a_note_not_an_edge() -> None:
    """A journal step the table lacks is listed in the note and draws nothing."""
    run = two_tool_rounds()
    steps = [*run.history]
    bogus = type(steps[0])(source="completed", dest="queued", trigger="start", via="poll", at=None)
    path = run_path(RUN, [*steps, bogus], final="completed")
    assert path.notes == ("not in the table: completed -> queued (start)",)
    text = to_dot(RUN, path)
    assert marked(text) == journal_edge_ids(steps)
    assert "not in the table: completed -> queued (start)" in text


def test_anomaly_text_is_sanitised() -> None:
    """Odd observed strings cannot break out of a DOT string or a Mermaid note."""
    run = RunLifecycle()
    run.observe('weird"}; evil -> x [label="<b>\n')
    path = path_of(run)
    dot_text = to_dot(RUN, path)
    mermaid = to_mermaid(RUN, path)
    assert "evil -> x [" not in dot_text
    assert '"}' not in dot_text.split("anomalies [", 1)[1]
    note = mermaid.split("note right of queued", 1)[1]
    assert "end note" in note
    assert all(c not in note for c in '"{};<')


@st.composite
def observations(draw: st.DrawFn) -> tuple[str, list[str]]:
    name = draw(st.sampled_from(SPEC_IDS))
    spec = LIFECYCLES[name]
    values = [s.value for s in spec.states]
    seen = draw(st.lists(st.sampled_from([*values, "bogus"]), max_size=12))
    return name, seen


@given(observations())
def test_overlay_marks_exactly_the_journal_edges_for_any_run(case: tuple[str, list[str]]) -> None:
    """For any observed sequence, the marked edges are exactly the journal's, counts included."""
    name, seen = case
    spec = LIFECYCLES[name]
    run = RunLifecycle(spec)
    for status in seen:
        run.observe(status)
    path = path_of(run)
    counts = Counter((e.source, e.trigger) for e in run.history)
    text = to_dot(spec, path)
    expected = {edge_id(e) for e in spec.edges if (e.source, e.trigger) in counts}
    assert marked(text) == expected
    mermaid = to_mermaid(spec, path)
    taken_lines = [x for x in mermaid.splitlines() if re.search(r" - (taken|inferred)", x)]
    assert len(taken_lines) == len(expected)
    for e in spec.edges:
        n = counts.get((e.source, e.trigger), 0)
        if n > 1:
            assert f"x{n}" in dot_edges(text)[edge_id(e)]["label"]
    assert [n for n, a in dot_nodes(text).items() if "final" in a["class"]] == [str(run.state)]


# -- reading journals --------------------------------------------------------------------------


def test_load_run_reads_snapshot_journal_and_trace_alike() -> None:
    """A snapshot, an exported history and a trace of the same run give the same path."""
    run = two_tool_rounds()
    snap = load_run(run.snapshot().model_dump_json(), RUN)
    history = [
        {"source": e.source, "dest": e.dest, "trigger": e.trigger, "inferred": e.inferred}
        for e in run.history
    ]
    as_list = load_run(json.dumps(history), RUN)
    as_object = load_run(json.dumps({"history": history, "state": "completed"}), RUN)
    trace = load_run(
        "queued\nin_progress\nrequires_action\nqueued\nin_progress\ncompleted\nin_progress\n", RUN
    )
    assert snap.source == "snapshot"
    assert as_list.source == as_object.source == "journal"
    assert trace.source == "trace"
    assert snap.path.taken == as_list.path.taken == as_object.path.taken
    assert snap.path.final == as_object.path.final == as_list.path.final == "completed"
    assert snap.path.notes == ("regression: observed 'queued' in in_progress",)
    assert trace.path.final == "completed"
    assert trace.path.taken == {
        ("queued", "start"): 2,
        ("in_progress", "require_action"): 1,
        ("requires_action", "submit_tool_outputs"): 1,
        ("in_progress", "complete"): 1,
    }
    assert trace.path.notes == ("line 7: after_terminal: observed 'in_progress' in completed",)


# -- the CLI -----------------------------------------------------------------------------------


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, ["diagram", *args])


@pytest.mark.parametrize(("fmt", "ext"), [("mermaid", "mmd"), ("dot", "dot")])
@pytest.mark.parametrize("name", SPEC_IDS)
def test_cli_text_formats_print_the_committed_diagram(fmt: str, ext: str, name: str) -> None:
    """`lifecycle diagram --format F` prints exactly the committed file to stdout."""
    result = invoke("--lifecycle", name, "--format", fmt)
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == (DIAGRAMS / f"{name}.{ext}").read_bytes()


def test_cli_writes_out_file(tmp_path: Path) -> None:
    """--out writes the file and says so on stderr."""
    out = tmp_path / "run.dot"
    result = invoke("--format", "dot", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == (DIAGRAMS / "assistants-run.dot").read_bytes()
    assert f"wrote {out}" in result.stderr


def test_cli_overlays_a_snapshot_of_another_lifecycle(tmp_path: Path) -> None:
    """A snapshot's lifecycle wins over the default, with a note; its path is drawn."""
    run = RunLifecycle(LIFECYCLES["response"])
    run.observe("in_progress")
    run.observe("completed")
    snap = tmp_path / "snap.json"
    snap.write_text(run.snapshot().model_dump_json(), encoding="utf-8")
    result = invoke("--format", "dot", "--journal", str(snap))
    assert result.exit_code == 0, result.output
    assert "drawing lifecycle 'response'" in result.stderr
    assert marked(result.stdout) == {"edge_queued__start", "edge_in_progress__complete"}


def test_cli_overlays_a_trace_file(tmp_path: Path) -> None:
    """A `lifecycle check` trace is replayed and drawn, anomalies listed in the Mermaid note."""
    trace = tmp_path / "run.jsonl"
    trace.write_text(
        '{"status": "queued"}\n{"status": "in_progress"}\n{"status": "completed"}\n'
        '{"status": "queued"}\n',
        encoding="utf-8",
    )
    result = invoke("--journal", str(trace))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "note right of completed" in out
    assert "line 4: after_terminal: observed 'queued' in completed" in out
    assert "    in_progress --> completed: complete (R5) - taken" in out


def test_cli_rejects_an_unreadable_journal(tmp_path: Path) -> None:
    """A journal that is none of the accepted forms exits 2 with a message."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"what": 1}', encoding="utf-8")
    result = invoke("--journal", str(bad))
    assert result.exit_code == 2
    assert "cannot read journal" in result.stderr


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_cli_without_dot_says_how_to_install_and_exits_3(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no `dot` on PATH, svg/png exit 3 and name both install commands."""
    monkeypatch.setenv("PATH", str(tmp_path))
    result = invoke("--format", fmt, "--out", str(tmp_path / f"x.{fmt}"))
    assert result.exit_code == 3
    assert "apt-get install graphviz" in result.stderr
    assert "brew install graphviz" in result.stderr
    assert not (tmp_path / f"x.{fmt}").exists()


def test_cli_reports_a_failing_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `dot` that fails gives exit 1 and its stderr."""
    fake = tmp_path / "dot"
    fake.write_text("#!/bin/sh\necho 'syntax error in line 1' >&2\nexit 1\n", encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(tmp_path))
    result = invoke("--format", "svg")
    assert result.exit_code == 1
    assert "syntax error in line 1" in result.stderr


@needs_dot
def test_cli_renders_svg_and_png_with_overlay(tmp_path: Path) -> None:
    """svg to stdout parses and marks the journal's edges; png goes to --out or stdout."""
    snap = tmp_path / "snap.json"
    snap.write_text(two_tool_rounds().snapshot().model_dump_json(), encoding="utf-8")
    result = invoke("--format", "svg", "--journal", str(snap))
    assert result.exit_code == 0, result.output
    root = assert_svg_shows(result.stdout_bytes, RUN)
    ns = "{http://www.w3.org/2000/svg}"
    on_path = {g.get("id") for g in root.iter(f"{ns}g") if "path" in (g.get("class") or "").split()}
    assert on_path == marked(to_dot(RUN, path_of(two_tool_rounds())))
    png = tmp_path / "run.png"
    result = invoke("--format", "png", "--journal", str(snap), "--out", str(png))
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    piped = invoke("--format", "png")
    assert piped.exit_code == 0
    assert piped.stdout_bytes[:8] == b"\x89PNG\r\n\x1a\n"
