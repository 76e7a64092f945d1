"""The Scaling out page shows what benchmarks/results/scale.json holds, and the benchmark runs."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "scaling.md"
RESULTS = ROOT / "benchmarks" / "results"


def _scale():
    sys.path.insert(0, str(ROOT / "benchmarks"))  # scale.py imports its sibling _common
    return importlib.import_module("scale")


def test_page_block_and_scale_md_are_the_report_of_scale_json():
    scale = _scale()
    report = json.loads((RESULTS / "scale.json").read_text())
    text = PAGE.read_text()
    assert text.count(scale.DOC_START) == 1 and text.count(scale.DOC_END) == 1
    block = text.split(scale.DOC_START, 1)[1].split(scale.DOC_END, 1)[0].strip()
    assert block == scale.docs_block(
        report
    ), "rerun: python benchmarks/scale.py --only report --docs docs/scaling.md"
    assert (RESULTS / "scale.md").read_text() == scale.markdown(report)


def test_scale_results_cover_what_the_issue_asks_on_clean_commits():
    report = json.loads((RESULTS / "scale.json").read_text())
    runs = _scale().measure_runs(report)
    assert runs and report["accuracy_runs"]
    for run in runs:
        rows = {(m["dataset"], m["mode"]): m for m in run["measure"]}
        graphs = {d for d, _ in rows}
        for dataset in graphs:  # both modes measured on every graph, in one run
            assert {(dataset, "full"), (dataset, "neighbor")} <= rows.keys()
    assert max(m["interactions"] for run in runs for m in run["measure"]) >= 9_000_000
    assert any(m["dataset"] == "ml-1m" for run in runs for m in run["measure"])
    assert any(run["args"]["epochs"] >= 3 for run in report["accuracy_runs"])
    for commit in {run["commit"] for run in runs + report["accuracy_runs"]}:
        assert not commit.endswith("-dirty"), f"a result of an uncommitted tree: {commit}"
        known = subprocess.run(
            ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, capture_output=True
        )
        assert (
            known.returncode == 0 or not (ROOT / ".git").exists()
        ), f"{commit} is not in this repository"


def test_benchmark_runs_end_to_end_on_a_small_graph(tmp_path):
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "scale.py"),
        "--no-ml1m",
        "--sizes",
        "20000",
        "--steps",
        "1",
        "--epochs",
        "0",
        "--dim",
        "8",
        "--batch-size",
        "256",
        "--fanout",
        "5",
        "3",
        "--out",
        str(tmp_path),
    ]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "scale.json").read_text())
    (run,) = report["measure_runs"]
    full, nb = run["measure"]
    assert (full["mode"], nb["mode"]) == ("full", "neighbor")
    assert 0 < nb["subgraph_nodes"] <= nb["num_users"] + nb["num_items"]
    assert run["ratios"][0]["step_memory"] == pytest.approx(
        nb["step_peak_mib"] / max(full["step_peak_mib"], 1e-9)
    )
    assert "| synthetic-20000 |" in (tmp_path / "scale.md").read_text()
