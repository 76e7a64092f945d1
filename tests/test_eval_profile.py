"""The evaluation profile on the benchmarks page is what benchmarks/results/eval_profile.json
holds, from a clean commit, and the profiler's two loops rank alike on a small dataset."""

import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _profile():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    return importlib.import_module("eval_profile")


def test_page_block_is_the_report_of_the_json():
    prof = _profile()
    report = json.loads((RESULTS / "eval_profile.json").read_text())
    assert "ml-1m" in report
    assert all(not e["commit"].endswith("-dirty") for e in report.values())
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    block = text.split(prof.DOC_START, 1)[1].split(prof.DOC_END, 1)[0].strip()
    assert (
        block == prof.markdown(report).strip()
    ), "rerun: python benchmarks/eval_profile.py --report --docs docs/benchmarks.md"
    assert (RESULTS / "eval_profile.md").read_text() == prof.markdown(report)


def test_old_and_new_loops_agree(tmp_path):
    import torch

    from pyg_negdiff.data import InteractionData
    from pyg_negdiff.metrics import Evaluator
    from pyg_negdiff.nn.base import Embeddings

    prof = _profile()
    g = torch.Generator().manual_seed(0)
    pairs = torch.stack(
        [torch.randint(0, 40, (600,), generator=g), torch.randint(0, 30, (600,), generator=g)]
    )
    data = InteractionData(40, 30, {"train": pairs[:, :400], "test": pairs[:, 400:]})
    emb = Embeddings.from_tensors(torch.randn(40, 8, generator=g), torch.randn(30, 8, generator=g))
    ev = Evaluator(data, ks=(20,), metrics=("recall", "ndcg"))
    old = prof.old_loop(ev, emb, "test", prof.Parts())
    new = prof.new_loop(ev, emb, "test", prof.Parts())
    assert old == new == ev.evaluate(emb, "test")
