"""``pyg-negdiff bench`` end to end on a split folder the test writes."""

import json

import pytest
import torch

from pyg_negdiff.cli import main


def write_split_folder(root, U=60, I=40, seed=0):
    """train.txt, valid.txt, test_iid.txt and an OOD test.txt, one 'user item' pair per line."""
    g = torch.Generator().manual_seed(seed)
    weight = 1.0 / torch.arange(1, I + 1).double()
    lines = {name: [] for name in ("train.txt", "valid.txt", "test_iid.txt", "test.txt")}
    for u in range(U):
        items = torch.multinomial(weight, 12, generator=g).tolist()
        ood = torch.randperm(I, generator=g)[:2].tolist()
        for j, i in enumerate(items):
            name = "train.txt" if j < 8 else "valid.txt" if j < 10 else "test_iid.txt"
            lines[name].append(f"{u} {i}")
        lines["test.txt"] += [f"{u} {i}" for i in ood if i not in items]
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in lines.items():
        (root / name).write_text("\n".join(rows) + "\n")
    return root


ARGS = [
    "--trials",
    "1",
    "--backbone-trials",
    "1",
    "--seeds",
    "0",
    "--epochs",
    "2",
    "--no-progress",
    "--samplers",
    "uniform",
    "popularity",
    "dns",
]


def test_bench_runs_end_to_end_and_prints_the_table_with_reference_rows(tmp_path, capsys):
    folder = write_split_folder(tmp_path / "split")
    out = tmp_path / "bench"
    assert main(["bench", "--data", str(folder), "--out", str(out), *ARGS]) == 0
    text = capsys.readouterr().out
    for row in ("| uniform |", "| popularity", "dns", "*popularity ranking*", "*random ranking*"):
        assert row in text
    assert "oracle selection" in text
    report = json.loads((out / "report.json").read_text())
    assert report["best_sampler"] in ("uniform", "popularity", "dns")
    assert (
        f"Best sampler by validation: **{report['best_sampler']}**"
        in (out / "report.md").read_text()
    )
    assert (out / "optuna-journal.log").stat().st_size > 0
    runs = (out / "runs.jsonl").read_text().splitlines()
    kinds = [json.loads(line)["kind"] for line in runs]
    assert kinds.count("reference") == 2 and kinds.count("seed") >= 3 and kinds.count("trial") >= 3

    # The same command resumes: nothing is trained again.
    assert main(["bench", "--data", str(folder), "--out", str(out), *ARGS]) == 0
    assert (out / "runs.jsonl").read_text().splitlines() == runs


def test_bench_refuses_a_folder_of_another_benchmark_and_unknown_rows(tmp_path, capsys):
    folder = write_split_folder(tmp_path / "split")
    out = tmp_path / "bench"
    assert main(["bench", "--data", str(folder), "--out", str(out), *ARGS]) == 0
    before = (out / "runs.jsonl").read_text()
    capsys.readouterr()
    assert (
        main(
            ["bench", "--data", str(folder), "--out", str(out), *ARGS[:-4], "--samplers", "uniform"]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "other settings (rows)" in err and "new --out" in err
    assert (out / "runs.jsonl").read_text() == before

    assert (
        main(["bench", "--data", str(folder), "--out", str(tmp_path / "b2"), "--samplers", "nope"])
        == 2
    )
    err = capsys.readouterr().err
    assert "unknown benchmark row(s) nope" in err and not (tmp_path / "b2").exists()

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert main(["bench", "--data", str(folder), "--out", str(tmp_path / "other"), *ARGS]) == 2
    assert "not a benchmark folder" in capsys.readouterr().err
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("flag,value", [("--trials", "-1"), ("--epochs", "0"), ("--seeds", "-3")])
def test_bench_refuses_bad_budgets_before_any_work(tmp_path, capsys, flag, value):
    folder = write_split_folder(tmp_path / "split")
    assert main(["bench", "--data", str(folder), "--out", str(tmp_path / "b"), flag, value]) == 2
    assert flag in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_bench_refuses_data_without_test_or_validation_and_keeps_the_folder_free(tmp_path, capsys):
    folder = write_split_folder(tmp_path / "split")
    (folder / "test.txt").unlink()
    (folder / "test_iid.txt").unlink()
    out = tmp_path / "bench"
    assert main(["bench", "--data", str(folder), "--shift", "none", "--out", str(out), *ARGS]) == 2
    err = capsys.readouterr().err
    assert "a test part missing" in err and "--shift" in err
    assert not (out / "plan.json").exists()
    # the folder is not claimed: the corrected command runs there
    full = write_split_folder(tmp_path / "split2")
    assert main(["bench", "--data", str(full), "--out", str(out), *ARGS]) == 0
