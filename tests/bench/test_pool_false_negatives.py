"""The Real shifts page's pool-FHN block is what `benchmarks/pool_false_negatives.py` makes of its
committed result file, and the script measures what the library function says."""

import importlib.util
import json
from pathlib import Path

import torch

from pyg_negdiff.data.synthetic import make_synthetic
from pyg_negdiff.sampling import expected_fhn_ratio

ROOT = Path(__file__).resolve().parents[2]
RESULT = ROOT / "benchmarks" / "results" / "pool_false_negatives.json"
PAGE = ROOT / "docs" / "real-shifts.md"


def script():
    spec = importlib.util.spec_from_file_location(
        "pool_false_negatives", ROOT / "benchmarks" / "pool_false_negatives.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_page_block_is_the_table_of_the_result_file():
    module = script()
    text = PAGE.read_text()
    block = text.split(module.DOC_START, 1)[1].split(module.DOC_END, 1)[0].strip()
    assert block == module.markdown(
        json.loads(RESULT.read_text())
    ), "run `python benchmarks/pool_false_negatives.py --docs docs/real-shifts.md`"


def test_result_covers_every_real_scenario_from_a_clean_commit():
    from pyg_negdiff.bench import REAL_SCENARIOS

    result = json.loads(RESULT.read_text())
    assert set(result["scenarios"]) == set(REAL_SCENARIOS)
    assert not result["commit"].endswith("-dirty") and result["commit"] != "unknown"


def test_measure_is_the_library_function_on_the_parts():
    module = script()
    data = make_synthetic(num_users=50, num_items=40, seed=0)
    out = module.measure(data)
    ref = data.parts["test_ood"]
    from pyg_negdiff.data.pairs import PairSet

    counts = data.item_popularity().double()
    expected = expected_fhn_ratio(
        counts.pow(0.5), data.train_pairs(), PairSet(ref, data.num_users, data.num_items)
    )
    assert out["test_ood"]["0.5"] == expected
    assert out["test_ood"]["0"] == expected_fhn_ratio(
        torch.ones_like(counts), data.train_pairs(), PairSet(ref, data.num_users, data.num_items)
    )
