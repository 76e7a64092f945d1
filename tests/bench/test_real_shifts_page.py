"""The Real shifts page's block is what `benchmarks/real_shifts.py --report` makes of the committed run logs."""

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "real-shifts.md"
OUT = ROOT / "benchmarks" / "results" / "real"


def script():
    spec = importlib.util.spec_from_file_location(
        "real_shifts", ROOT / "benchmarks" / "real_shifts.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def block(text):
    module = script()
    return text.split(module.DOC_START, 1)[1].split(module.DOC_END, 1)[0].strip()


def test_page_block_is_regenerated_from_the_run_logs(tmp_path, monkeypatch):
    logs = sorted(OUT.glob("*/runs.jsonl"))
    if not logs:
        assert block(PAGE.read_text()) == "", "the page shows results but no run log is committed"
        return
    # Regenerate into a copy of the page: the committed page must equal it.
    copy = tmp_path / "real-shifts.md"
    copy.write_text(PAGE.read_text())
    monkeypatch.chdir(ROOT)  # the block names the folder as the command does: relative to the root
    text, _ = script().report(OUT.relative_to(ROOT))
    script().update_docs(copy, text)
    assert block(PAGE.read_text()) == block(
        copy.read_text()
    ), "run `python benchmarks/real_shifts.py --report --docs docs/real-shifts.md`"


def test_run_logs_come_from_commits_of_this_repository():
    commits = {
        json.loads(line)["commit"]
        for log in OUT.glob("*/runs.jsonl")
        for line in log.read_text().splitlines()
        if line.strip()
    }
    if not commits:
        pytest.skip("no run log committed yet")
    for commit in commits:
        assert not commit.endswith("-dirty"), f"runs from a dirty tree: {commit}"
        known = (
            subprocess.run(
                ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, capture_output=True
            ).returncode
            == 0
        )
        if (
            not known
            and subprocess.run(
                ["git", "rev-parse", "--is-shallow-repository"],
                cwd=ROOT,
                capture_output=True,
                text=True,
            ).stdout.strip()
            == "true"
        ):
            pytest.skip("shallow clone: older commits are not here")
        assert known, f"run logs name commit {commit}, which is not in this repository"
