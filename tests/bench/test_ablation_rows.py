"""The diffusion ablation's variants are rows of the library's registry, and
``benchmarks/diffusion_ablation.py`` runs them through the library's protocol."""

import importlib.util
import json
import sys
from pathlib import Path

import optuna
import pytest

from pyg_negdiff.bench import Budget, SCENARIOS, Scenario
from pyg_negdiff.bench.rows import ABLATION_ROWS, HEURISTICS, ROWS, resolve_rows
from pyg_negdiff.data.synthetic import make_synthetic
from pyg_negdiff.experiment import RunConfig

ROOT = Path(__file__).resolve().parents[2]


def script(name):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_ablation_variant_is_a_resolvable_row_with_valid_options():
    rows = resolve_rows(ABLATION_ROWS)
    assert [r.name for r in rows] == ["uniform", *ABLATION_ROWS]
    # the names the page's archived table uses, in its order
    assert script("ablation_archive").ROW_ORDER == ("uniform", *HEURISTICS[1:], *ABLATION_ROWS)
    for row in rows[1:]:
        assert row.kind == "synthesized" and row.sampler in ("cnsdiff", "adar")
        RunConfig(sampler=row.sampler, sampler_kwargs=row.fixed, **row.config).validate()
        if row.tunes:
            params = row.space(
                optuna.trial.FixedTrial({"final_hardness": 0.5, "cl_weight": 0.1, "t_min": 3})
            )
            assert params and not set(params) & set(row.fixed)


def test_ablation_rows_change_one_thing_each():
    before = ROWS["cnsdiff-a-before"].fixed
    assert ROWS["cnsdiff-e-band"].fixed == {**before, "selection": "band"}
    assert ROWS["cnsdiff-d-separate"].fixed == {**before, "combine": "separate"}
    assert ROWS["cnsdiff-f-default"].fixed == {} and ROWS["cnsdiff-f-default"].config == {}
    # (h) is (f) with RunConfig fields, not sampler options
    causal = ROWS["cnsdiff-h-default-causal"]
    assert causal.fixed == {} and causal.config["penalty_weight"] == 1.0
    assert causal.config["condition_on_environment"] is True
    # published constants and ADAR as published tune nothing; the others tune their own space
    assert not ROWS["cnsdiff-b-published"].tunes and not ROWS["adar-before"].tunes
    g = ROWS["cnsdiff-g-cl-only"].space(optuna.trial.FixedTrial({"cl_weight": 0.1}))
    assert g == {"cl_weight": 0.1}
    assert ROWS["adar-default"].space(optuna.trial.FixedTrial({"t_min": 4})) == {"t_min": 4}


def test_real_shifts_accepts_the_ablation_rows():
    args = script("real_shifts").build_parser("x").parse_args(["--rows", "cnsdiff-e-band"])
    assert args.rows == ["cnsdiff-e-band"]


@pytest.fixture
def tiny_synthetic(monkeypatch):
    data = make_synthetic(num_users=200, num_items=100, seed=0)
    scenario = Scenario("synthetic", lambda root, seed: data, Budget(2, 1, 512), real=False)
    monkeypatch.setitem(SCENARIOS, "synthetic", scenario)


def test_the_thin_script_runs_the_rows_through_the_protocol(tiny_synthetic, tmp_path, capsys):
    out = tmp_path / "ablation"
    rows = ["uniform", "cnsdiff-e-band", "cnsdiff-h-default-causal", "adar-before"]
    argv = ["--scenarios", "synthetic", "--rows", *rows, "--trials", "1", "--backbone-trials", "1"]
    script("diffusion_ablation").main([*argv, "--seeds", "0", "--out", str(out)])
    text = capsys.readouterr().out
    assert "Mechanism check" in text and all(f"| {r}" in text for r in rows)
    records = [json.loads(line) for line in (out / "synthetic" / "runs.jsonl").open()]
    seeds = {r["row"]: r for r in records if r["kind"] == "seed" and r["selection"] == "iid"}
    assert set(seeds) == set(rows)
    assert seeds["cnsdiff-e-band"]["config"]["sampler_kwargs"]["selection"] == "band"
    assert seeds["cnsdiff-h-default-causal"]["config"]["penalty_weight"] == 1.0
    assert seeds["cnsdiff-h-default-causal"]["config"]["condition_on_environment"] is True
    assert not [r for r in records if r["kind"] == "trial" and r["row"] == "adar-before"]
    assert json.loads((out / "report.json").read_text())["scenarios"]["synthetic"]["rows"]


def test_the_archived_folder_is_only_reported_never_run_into(tmp_path, capsys):
    archive = tmp_path / "ablation"
    archive.mkdir()
    (archive / "runs-x.jsonl").write_text("")
    with pytest.raises(SystemExit):
        script("diffusion_ablation").main(["--out", str(archive)])
    assert "archived" in capsys.readouterr().err


def test_the_activity_penalty_rows_change_one_thing_each():
    """Issue 22, hypothesis 3b's mechanism rows: each differs from the activity row in one field."""
    base = ROWS["cnsdiff-margin-vrex-activity"]
    assert base.config["penalty"] == "margin-vrex" and base.config["environments"] == "activity"

    def diff(name):
        row = ROWS[name]
        keys = set(row.config) | set(base.config)
        changed = {k for k in keys if row.config.get(k) != base.config.get(k)}
        if row.sampler != base.sampler:
            changed.add("sampler")
        return changed

    assert diff("cnsdiff-margin-vrex-activity-w0.1") == {"penalty_weight"}
    assert ROWS["cnsdiff-margin-vrex-activity-w10"].config["penalty_weight"] == 10.0
    assert diff("cnsdiff-margin-vrex-activity-plain-mean") == {"penalty_kwargs"}
    assert ROWS["cnsdiff-margin-vrex-activity-plain-mean"].config["penalty_kwargs"] == {
        "reduction": "interactions"
    }
    assert diff("cnsdiff-balanced-activity") == {"penalty"}
    assert ROWS["cnsdiff-balanced-activity"].config["penalty"] == "balanced"
    assert diff("uniform-margin-vrex-activity") == {"sampler"}
    for name in ("uniform-margin-vrex-activity", "uniform-balanced-activity"):
        assert ROWS[name].sampler == "uniform" and not ROWS[name].tunes
