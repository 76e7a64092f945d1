"""The diffusion ablation on the benchmarks page is what the archived run logs say."""

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from pyg_negdiff.bench.rows import ROWS

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- ablation:start -->", "<!-- ablation:end -->"


def _ablation_module():
    """The reader of the archived logs (``diffusion_ablation.py --report`` on them)."""
    spec = importlib.util.spec_from_file_location(
        "ablation_archive", ROOT / "benchmarks" / "ablation_archive.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _block() -> tuple[str, Path]:
    text = PAGE.read_text()
    assert text.count(START) == 1 and text.count(END) == 1
    block = text.split(START, 1)[1].split(END, 1)[0].strip()
    recorded = re.match(r"Produced by `(?P<command>[^`]+)`", block)
    assert recorded, "the ablation block is empty: run the command of the page"
    argv = shlex.split(recorded.group("command"))
    assert argv[:2] == ["python", "benchmarks/diffusion_ablation.py"] and "--report" in argv
    assert argv[argv.index("--docs") + 1] == "docs/benchmarks.md"
    return block, ROOT / argv[argv.index("--out") + 1]


def test_ablation_block_is_the_report_of_the_run_logs():
    block, out = _block()
    table = (out / "ablation.md").read_text().strip()
    assert block.endswith(
        table
    ), "the block differs from ablation.md: rerun the report, do not edit it"
    # The report itself is regenerated from the raw run logs: no number is typed by hand.
    module = _ablation_module()
    assert module.markdown(module.summarize(module.archived_runs(out))).strip() == table
    image = re.search(r"!\[[^\]]*\]\(([^)\s]+)\)", block).group(1)
    assert (PAGE.parent / image).read_bytes() == (out / "ood_ndcg.png").read_bytes()


def test_ablation_runs_follow_the_protocol():
    """At least three seeds per row, the same trials for every row of a scenario, and a clean commit."""
    _, out = _block()
    module = _ablation_module()
    records = module.archived_runs(out)
    assert records
    rows: dict[tuple[str, str], set[int]] = {}
    for (scenario, row, seed), r in records.items():
        if row == "_backbone":
            continue
        rows.setdefault((scenario, row), set()).add(seed)
        assert not r["commit"].endswith("-dirty"), (scenario, row, seed, r["commit"])
    for key, seeds in rows.items():
        assert len(seeds) >= 3, key
    for scenario in {s for s, _ in rows}:
        budgets = {
            r["trials"]
            for (s, row, _), r in records.items()
            if s == scenario and row != "_backbone" and ROWS[row].tunes
        }
        assert len(budgets) <= 1, (scenario, budgets)


def test_paired_difference_equals_a_naive_loop():
    module = _ablation_module()
    mk = lambda v, val=0.1: {
        "test": {
            "test": {"ndcg@20": 0.2, "recall@20": 0.3},  # noqa: E731
            "test_ood": {"ndcg@20": v, "recall@20": v},
        },
        "val": {"ndcg@20": val},
        "head@20": 0.5,
        "epoch_time": 1.0,
        "best_epoch": 3,
        "diagnostics": {},
        "sampler_kwargs": {},
        "trials": 0,
    }
    records = {("coat", "uniform", s): mk(v) for s, v in enumerate([0.10, 0.12, 0.11])}
    records.update({("coat", "dns", s): mk(v, 0.2) for s, v in enumerate([0.09, 0.10, 0.15])})
    records.update(
        {("coat", "cnsdiff-f-default", s): mk(v) for s, v in enumerate([0.12, 0.11, 0.14])}
    )
    table = {r["row"]: r for r in module.summarize(records)}
    diffs = [0.12 - 0.10, 0.11 - 0.12, 0.14 - 0.11]
    mean = sum(diffs) / 3
    std = (sum((d - mean) ** 2 for d in diffs) / 3) ** 0.5
    assert table["cnsdiff-f-default"]["OOD ndcg@20 - uniform"] == pytest.approx((mean, std))
    assert table["cnsdiff-f-default"]["best_heuristic"] == "dns"
    heur = [0.12 - 0.09, 0.11 - 0.10, 0.14 - 0.15]
    assert table["cnsdiff-f-default"]["OOD ndcg@20 - heuristic"][0] == pytest.approx(sum(heur) / 3)
