"""The RecBole side by side on the benchmarks page is what benchmarks/results/peer_recbole.json
holds, from clean commits, and the benchmark runs end to end (where RecBole is installed)."""

import importlib
import importlib.util
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "benchmarks" / "results"


def _peer():
    sys.path.insert(0, str(ROOT / "benchmarks"))  # peer_recbole.py imports its sibling _common
    return importlib.import_module("peer_recbole")


def test_page_block_and_md_are_the_report_of_the_json():
    peer = _peer()
    report = json.loads((RESULTS / "peer_recbole.json").read_text())
    text = PAGE.read_text()
    assert text.count(peer.DOC_START) == 1 and text.count(peer.DOC_END) == 1
    block = text.split(peer.DOC_START, 1)[1].split(peer.DOC_END, 1)[0].strip()
    assert (
        block == peer.markdown(report).strip()
    ), "rerun: python benchmarks/peer_recbole.py --report --docs docs/benchmarks.md"
    assert (RESULTS / "peer_recbole.md").read_text() == peer.markdown(report)


def test_results_cover_the_issue_on_clean_commits():
    peer = _peer()
    report = json.loads((RESULTS / "peer_recbole.json").read_text())
    assert "ml-1m" in report and "cnsdiff" in report
    for key, entry in report.items():
        if key != "cnsdiff":  # both libraries and both samplers, for every seed, in one run
            runs = {(r["library"], r["sampler"], r["seed"]) for r in entry["records"]}
            libraries = entry["settings"].get("libraries", peer.LIBRARIES)
            assert runs == {
                (lib, s, seed)
                for lib in libraries
                for s in entry["settings"]["samplers"]
                for seed in entry["settings"]["seeds"]
            }
            # An entry of its own tag may add runs to its data's main entry: some libraries (a
            # diagnostic of ours) or some samplers (more seeds of one), never both missing there.
            supplement = key != entry["data"] and entry["data"] in report
            assert set(entry["settings"]["samplers"]) == set(peer.SAMPLERS) or supplement, key
            assert set(libraries) == set(peer.LIBRARIES) or supplement, key
            assert all(r["threads"] == 1 and len(r["affinity"]) == 1 for r in entry["records"])
        commit = entry["commit"]
        assert not commit.endswith("-dirty"), f"{key}: a result of an uncommitted tree: {commit}"
        known = subprocess.run(
            ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, capture_output=True
        )
        assert (
            known.returncode == 0 or not (ROOT / ".git").exists()
        ), f"{commit} is not in this repository"
    assert any(
        len(e["settings"]["seeds"]) >= 3 for k, e in report.items() if k != "cnsdiff"
    ), "accuracy parity needs 3 seeds on at least one dataset"
    assert report["cnsdiff"]["record"]["threads"] == report["cnsdiff"]["authors"]["threads"] == 2
    text = " ".join(re.sub(r"\\\n\s*", " ", PAGE.read_text()).split())  # joined continuation lines
    for key, entry in report.items():  # the page shows the commands that were run
        assert (
            entry["command"].split("python ", 1)[1] in text
        ), f"{key}: the page lacks {entry['command']}"


def test_atomic_files_hold_the_split(tmp_path):
    import torch

    from pyg_negdiff.data import InteractionData

    data = InteractionData(
        3,
        4,
        {"train": torch.tensor([[0, 1, 2], [0, 1, 3]]), "test": torch.tensor([[0, 2], [2, 1]])},
    )
    folder = _peer().write_atomic(data, tmp_path / "peer")
    assert (
        folder / "peer.train.inter"
    ).read_text() == "user_id:token\titem_id:token\n0\t0\n1\t1\n2\t3\n"
    assert (folder / "peer.test.inter").read_text() == "user_id:token\titem_id:token\n0\t2\n2\t1\n"
    assert (folder / "peer.valid.inter").read_text() == "user_id:token\titem_id:token\n0\t2\n"


def _tiny_dataset(folder: Path) -> Path:
    """30 users, 40 items, LightGCN adjacency lists; 2 test items per user."""
    rng = random.Random(0)
    train, test = [], []
    for u in range(30):
        items = rng.sample(range(40), rng.randint(6, 12))
        train.append(f"{u} " + " ".join(map(str, items[2:])))
        test.append(f"{u} " + " ".join(map(str, items[:2])))
    folder.mkdir()
    (folder / "train.txt").write_text("\n".join(train) + "\n")
    (folder / "test.txt").write_text("\n".join(test) + "\n")
    return folder


@pytest.mark.skipif(
    importlib.util.find_spec("recbole") is None,
    reason="RecBole is not installed (see benchmarks/peer_recbole.py for its LightGCN path)",
)
def test_benchmark_runs_end_to_end_on_a_tiny_dataset(tmp_path):
    data = _tiny_dataset(tmp_path / "tiny")
    page = tmp_path / "page.md"
    peer = _peer()
    page.write_text(f"# Page\n\n{peer.DOC_START}\nold\n{peer.DOC_END}\n\ntail\n")
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "peer_recbole.py"),
        "--data",
        str(data),
        "--epochs",
        "2",
        "--seeds",
        "0",
        "--dim",
        "8",
        "--layers",
        "1",
        "--batch-size",
        "64",
        "--candidates",
        "4",
        "--eval-repeats",
        "1",
        "--out",
        str(tmp_path / "out" / "peer"),
        "--docs",
        str(page),
    ]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "peer.json").read_text())
    entry = report["tiny"]
    assert (entry["users"], entry["items"], entry["test"]) == (30, 40, 60)
    assert len(entry["records"]) == 4
    for r in entry["records"]:
        assert len(r["epoch_times"]) == 2 and r["peak_rss_mib"] > r["rss_after_imports_mib"] > 0
        assert 0 <= r["metrics"]["recall@20"] <= 1
        if r["library"] == "recbole":  # same embeddings, same metric definitions
            assert r["missing"] == {"users": 0, "items": 0}
            for name in ("recall@20", "ndcg@20"):
                assert r["metrics"][name] == pytest.approx(
                    r["metrics_our_evaluator"][name], abs=1e-6
                )
    text = page.read_text()
    assert "old" not in text and text.endswith(f"{peer.DOC_END}\n\ntail\n")
    assert "| dns | recbole |" in text and "| uniform | pyg_negdiff |" in text


def _entry(seeds, samplers, recalls, **settings):
    """A result entry of ml-100k with one record per (library, sampler, seed)."""
    records = [
        {
            "library": lib,
            "sampler": s,
            "seed": seed,
            "epoch_cpu": [1.0],
            "epoch_times": [1.0],
            "eval_cpu": [0.1],
            "eval_times": [0.1],
            "peak_rss_mib": 1.0,
            "rss_after_imports_mib": 1.0,
            "setup_s": 1.0,
            "affinity": [1],
            "metrics": {"recall@20": recalls[lib][i], "ndcg@20": 0.3},
            "metrics_our_evaluator": {"recall@20": recalls[lib][i], "ndcg@20": 0.3},
        }
        for s in samplers
        for i, seed in enumerate(seeds)
        for lib in ("pyg_negdiff", "recbole")
    ]
    base = {"epochs": 20, "dim": 64, "layers": 3, "lr": 1e-3, "l2": 1e-4, "batch_size": 2048}
    base.update(candidates=32, threads=1, split_seed=0, seeds=seeds, samplers=samplers)
    return {
        "data": "ml-100k",
        "data_repr": "ml-100k",
        "settings": {**base, **settings},
        "records": records,
        "versions": {"torch": "2", "recbole": "1.2.1", "numpy": "2", "scipy": "1"},
        "command": "python benchmarks/peer_recbole.py",
        "commit": "0" * 40,
        "date": "2026-12-04",
    }


def test_entries_that_add_seeds_are_pooled_with_their_data():
    peer = _peer()
    ours, theirs = [0.30, 0.32, 0.34], [0.31, 0.31, 0.31]
    base = _entry([0, 1], ["uniform", "dns"], {"pyg_negdiff": ours, "recbole": theirs})
    more = _entry([2], ["dns"], {"pyg_negdiff": ours[2:], "recbole": theirs[2:]})
    assert peer.poolable(more, base)
    assert not peer.poolable(_entry([2], ["dns"], {"pyg_negdiff": [0], "recbole": [0]}, l2=0), base)
    assert not peer.poolable(base, base)  # the same seeds again
    text = peer.markdown({"ml-100k": base, "ml-100k-dns-seed-2": more})
    pooled = text.split("**ml-100k pooled with `ml-100k-dns-seed-2`**", 1)[1]
    assert "seeds [0, 1, 2]" in pooled
    assert (
        "| dns | pyg_negdiff | 3 | 0.3200 ± 0.0200 | 0.3000 ± 0.0000 | 0.3000, 0.3200, 0.3400 |"
        in pooled
    )
    assert "| dns | +0.0100 | +0.9 | +0.0000 | – | yes |" in pooled
    assert "| uniform |" not in pooled.split("**ml-100k-dns-seed-2:")[0]  # not run for seed 2
