"""RunConfig's training defaults are the ones benchmarks/training_defaults.py chose, and the page shows its table."""

import importlib.util
import json
from pathlib import Path

from pyg_negdiff.experiment import RunConfig
from pyg_negdiff.train import Trainer

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"


def script():
    spec = importlib.util.spec_from_file_location(
        "training_defaults", ROOT / "benchmarks" / "training_defaults.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def records():
    return [
        json.loads(line)
        for line in (RESULTS / "training_defaults.jsonl").read_text().splitlines()
        if line.strip()
    ]


def test_run_config_and_trainer_defaults_are_the_chosen_candidate():
    chosen = script().summarize(records())["chosen"]
    d = RunConfig()
    assert (d.lr, d.epochs, d.patience) == (chosen["lr"], chosen["epochs"], chosen["patience"])
    import inspect

    params = inspect.signature(Trainer.__init__).parameters
    assert (params["lr"].default, params["epochs"].default, params["patience"].default) == (
        d.lr,
        d.epochs,
        d.patience,
    )


def test_with_the_defaults_the_best_epoch_is_never_in_the_first_tenth():
    d = RunConfig()
    summary = script().summarize(records())
    row = next(
        r
        for r in summary["rows"]
        if (r["lr"], r["epochs"], r["patience"]) == (d.lr, d.epochs, d.patience)
    )
    assert len(row["scenarios"]) >= 4
    for scenario, v in row["scenarios"].items():
        assert v["best_epoch_min"] >= d.epochs / 10, scenario


def test_page_block_is_the_report_of_the_run_log():
    module = script()
    page = (ROOT / "docs" / "real-shifts.md").read_text()
    block = page.split(module.DOC_START, 1)[1].split(module.DOC_END, 1)[0]
    assert module.markdown(module.summarize(records())).strip() in block
