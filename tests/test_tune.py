"""Search spaces, the pruning objective, resumable studies and the ``tune`` / ``run`` commands."""

import json
import signal
import subprocess
import sys
import textwrap
import time

import optuna
import pytest
import torch
from optuna.trial import TrialState

from pyg_negdiff.cli import main
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.experiment import RunConfig, make_trainer, run
from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.sampling import SAMPLERS
from pyg_negdiff.sampling.cnsdiff import CNSDiffSampler
from pyg_negdiff.train import NonFiniteLossError
from pyg_negdiff.tune import (
    SAMPLER_SPACES,
    Objective,
    SearchSpace,
    export_best,
    finished_trials,
    load_study,
    run_study,
    running_trials,
)


def small_data(seed=0, U=60, I=50, test=False):
    g = torch.Generator().manual_seed(seed)
    uc, ic = torch.randint(0, 3, (U,), generator=g), torch.randint(0, 3, (I,), generator=g)
    index = ((uc[:, None] == ic[None, :]) & (torch.rand(U, I, generator=g) < 0.4)).nonzero().t()
    index = index[:, torch.randperm(index.size(1), generator=g)]
    n = index.size(1)
    parts = {"train": index[:, : int(0.7 * n)], "val": index[:, int(0.7 * n) : int(0.85 * n)]}
    if test:
        parts["test"] = index[:, int(0.85 * n) :]
    return InteractionData(U, I, parts)


BASE = RunConfig(embedding_dim=8, num_layers=1, epochs=3, batch_size=256, lr=1e-2, patience=None)


def test_every_registered_sampler_has_a_search_space():
    assert set(SAMPLERS) == set(SAMPLER_SPACES)


@pytest.mark.parametrize("sampler", sorted(SAMPLER_SPACES))
def test_every_suggestion_of_each_space_builds_a_trainer(sampler):
    data = small_data()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    objective = Objective(data, SearchSpace("lightgcn", sampler, tune_penalty=True), BASE)
    for _ in range(6):
        config = objective.config(study.ask())
        assert config.sampler == sampler and config.model == "lightgcn"
        assert 1e-3 <= config.lr <= 5e-2 and config.penalty_weight > 0
        make_trainer(config, data, progress=False)  # the constructors accept every suggestion


@pytest.mark.parametrize("hardness", [0.1, 0.5, 0.9])
def test_cnsdiff_space_searches_how_hard_the_curriculum_ends(hardness):
    params = SAMPLER_SPACES["cnsdiff"](
        optuna.trial.FixedTrial({"final_hardness": hardness, "cl_weight": 0.1})
    )
    assert set(params) == {"beta_end", "cl_weight"}  # noise scale and levels stay at the defaults
    a1, b1 = params["beta_end"]
    assert a1 / (a1 + b1) == pytest.approx(hardness)  # ends at the searched mean share
    assert a1 + b1 == pytest.approx(10.0)  # the default start (1, 9) has the same concentration
    sampler = CNSDiffSampler(PairSet(torch.tensor([[0], [0]]), 1, 4), embedding_dim=4, **params)
    assert sampler.beta_params(1.0) == pytest.approx((a1, b1))


def test_space_without_size_keeps_the_base_dimensions():
    trial = optuna.trial.FixedTrial({"lr": 0.01, "l2": 1e-4})
    params = SearchSpace("lightgcn", "uniform", tune_size=False)(trial)
    assert "embedding_dim" not in params and "num_layers" not in params
    assert SearchSpace("mf", "uniform", tune_backbone=False)(trial) == {
        "model": "mf",
        "sampler": "uniform",
        "sampler_kwargs": {},
    }
    with pytest.raises(ValueError, match="no search space"):
        SearchSpace("lightgcn", "nope")


def test_objective_reports_each_epoch_and_prunes():
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=2.0)
    )
    study.optimize(Objective(small_data(), SearchSpace("mf", "uniform"), BASE), n_trials=1)
    trial = study.trials[0]
    assert trial.state == TrialState.PRUNED  # NDCG can never reach 2: pruned after the first report
    assert list(trial.intermediate_values) == [0]


def test_objective_value_is_validation_and_test_is_read_at_the_best_epoch():
    data = small_data(test=True)
    study = optuna.create_study(direction="maximize")
    space = SearchSpace("mf", "uniform", tune_backbone=False)
    study.optimize(Objective(data, space, BASE), n_trials=2)
    t0, t1 = study.trials
    assert list(t0.intermediate_values) == [0, 1, 2]  # one report per epoch
    assert (t0.user_attrs["seed"], t1.user_attrs["seed"]) == (BASE.seed, BASE.seed + 1)
    assert t0.value == max(t0.intermediate_values.values())  # the value is validation's best
    # The stored test metrics are those of the trial's own configuration at its best epoch.
    again = run(RunConfig.from_dict(t1.user_attrs["config"]), data, progress=False)
    assert again.test["test"] == pytest.approx(t1.user_attrs["test_metrics"])
    assert again.best_epoch == t1.user_attrs["best_epoch"]


def test_default_pruner_is_median_and_resumed_sampler_is_reseeded(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = load_study("s", url)
    assert isinstance(study.pruner, optuna.pruners.MedianPruner)
    run_study(study, lambda t: t.suggest_float("x", 0, 1), 3)
    first = [t.params["x"] for t in study.trials]
    resumed = load_study("s", url)  # same seed: must not replay the first random points
    run_study(resumed, lambda t: t.suggest_float("x", 0, 1), 6)
    later = [t.params["x"] for t in resumed.trials[3:]]
    assert not set(first) & set(later)


def test_failed_trials_do_not_count_and_are_replaced():
    study = load_study("fails", "sqlite:///:memory:", pruner="none")

    def objective(trial):
        if trial.number in (1, 2):
            raise NonFiniteLossError("diverged")
        return trial.suggest_float("x", 0, 1)

    assert run_study(study, objective, 4) == 6
    assert finished_trials(study) == 4
    assert [t.state for t in study.trials].count(TrialState.FAIL) == 2


def test_interrupted_study_resumes_to_the_requested_count(tmp_path):
    url = f"sqlite:///{tmp_path / 'interrupted.db'}"
    study = load_study("cb", url, pruner="none")

    def interrupted(trial):
        if trial.number == 3:
            raise KeyboardInterrupt  # Ctrl-C mid-trial: Optuna records FAIL, then re-raises
        return trial.suggest_float("x", 0, 1)

    with pytest.raises(KeyboardInterrupt):
        run_study(study, interrupted, 7)
    study = load_study("cb", url, pruner="none")
    assert finished_trials(study) == 3
    run_study(study, lambda t: t.suggest_float("x", 0, 1), 7)
    assert finished_trials(load_study("cb", url)) == 7
    numbers = [t.number for t in study.trials]
    assert numbers == sorted(set(numbers))


WORKER = textwrap.dedent("""
    import sys, time
    from pyg_negdiff.tune import load_study, run_study
    study = load_study("killed", sys.argv[1], pruner="none", heartbeat_interval=1, grace_period=2)
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        time.sleep(0.6)
        return x
    run_study(study, objective, int(sys.argv[2]))
""")


def peek(storage, name):
    """The study's trials, read without creating the study (``None`` until it exists)."""
    try:
        return storage.get_all_trials(storage.get_study_id_from_name(name), deepcopy=False)
    except KeyError:
        return None


def test_killed_sqlite_worker_leaves_a_resumable_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    script, log_path = tmp_path / "worker.py", tmp_path / "worker.log"
    script.write_text(WORKER)
    storage = optuna.storages.RDBStorage(url)  # the schema exists before the worker starts
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, str(script), url, "8"], stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)  # wait until two trials finished and one is running, then kill it
            trials = peek(storage, "killed") or []
            if sum(t.state == TrialState.COMPLETE for t in trials) >= 2 and any(
                t.state == TrialState.RUNNING for t in trials
            ):
                # Optuna never reclaims a RUNNING trial that has no heartbeat yet (killed in the
                # instant between its creation and the heartbeat thread's first beat): let the
                # first beat land, well inside the trial's 0.6 s.
                time.sleep(0.25)
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    study = load_study("killed", url, pruner="none", heartbeat_interval=1, grace_period=2)
    killed = [t.number for t in running_trials(study)]
    assert len(killed) == 1 and 2 <= finished_trials(study) < 8, log_path.read_text()[-3000:]
    # The killed trial's heartbeat must be older than the 2 s grace period. SQLite stores
    # times to the second, so an elapsed 2.5 s can read as 2 s (not stale): wait 3.5 s.
    time.sleep(3.5)

    run_study(study, lambda t: t.suggest_float("x", 0, 1), 8)
    trials = load_study("killed", url).get_trials(deepcopy=False)
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials) == 8
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    states = {t.number: t.state for t in trials}
    assert states[killed[0]] == TrialState.FAIL  # the stale trial was failed
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed[0]]
    assert (
        len(retried) == 1 and retried[0].state == TrialState.COMPLETE
    )  # ... and its params re-run
    assert retried[0].params == next(t.params for t in trials if t.number == killed[0])
    assert not running_trials(load_study("killed", url))


def test_tune_command_runs_resumes_and_refuses_another_setting(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    argv = [
        "tune",
        "--data",
        "synthetic",
        "--sampler",
        "dns",
        "--model",
        "mf",
        "--epochs",
        "2",
        "--fixed-size",  # --dim is kept, not searched (a searched one is refused)
        "--dim",
        "8",
        "--trials",
        "1",
        "--storage",
        url,
        "--study-name",
        "cli",
        "--export",
        str(tmp_path / "best.json"),
        "--no-progress",
    ]
    assert main(argv) == 0
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["finished_trials"] == 1 and "num_candidates" in best["params"]
    RunConfig.from_dict(best["config"])  # the exported configuration re-trains as is
    argv[argv.index("--trials") + 1] = "2"
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "resuming, 1 of 2 trials already finished" in out
    assert finished_trials(load_study("cli", url)) == 2
    argv[argv.index("--sampler") + 1] = "uniform"
    assert main(argv) == 2  # same study name, another sampler: refused, not mixed
    assert "was created for sampler='dns'" in capsys.readouterr().err


def test_run_command_tunes_the_backbone_then_compares_samplers_and_resumes(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    argv = [
        "run",
        "--samplers",
        "cnsdiff",
        "--heuristics",
        "dns",
        "ahns",
        "--trials",
        "2",
        "--epochs",
        "1",
        "--dim",
        "8",
        "--layers",
        "1",
        "--no-progress",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "new, 2 trials" in out and "sqlite:///runs/pyg_negdiff.db" in out
    table = out[out.index("part") :]
    # One row per sampler, the heuristic with the best validation NDCG@20 marked as the reference.
    assert table.count("(best heuristic)") == 1
    for row in ("uniform", "dns", "ahns", "cnsdiff"):
        assert f"\n{row}" in table
    for column in ("IID ndcg@20", "OOD ndcg@20", "head@20", "vs uniform", "vs best heuristic"):
        assert column in table
    assert (tmp_path / "runs" / "pyg_negdiff.db").exists()
    assert main(argv) == 0
    assert "resuming, it already holds 2 finished trials" in capsys.readouterr().out
    study = load_study("run-synthetic-auto-lightgcn-backbone", "sqlite:///runs/pyg_negdiff.db")
    assert len(study.trials) == 2  # resumed: no trial was run again
    assert set(study.best_params) == {"lr", "l2"}  # the study tunes the backbone only


def test_storage_label_never_shows_a_password():
    from pyg_negdiff.cli.tune import _storage_label

    for url in (
        "postgresql+psycopg2://me:s3cr@t/x@db.example:5432/optuna",
        "postgresql+psycopg2://me:s3cret@db.example:5432/optuna",
    ):
        label = _storage_label(url)
        assert label == "postgresql+psycopg2://***@db.example:5432/optuna", label
    label = _storage_label("postgresql://db.example/optuna?user=me&password=s3cret&sslmode=require")
    assert "s3cret" not in label and "sslmode=require" in label, label
    assert _storage_label(None) == "sqlite:///runs/pyg_negdiff.db"
