import os
import signal
import subprocess
import sys
import textwrap
import time

import optuna
import pytest
import torch

from pyg_negdiff.cli import main
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.experiment import RunConfig
from pyg_negdiff.tune import Objective, SearchSpace, finished_trials, load_study, run_study
from pyg_negdiff.tune.space import SAMPLER_SPACES
from pyg_negdiff.sampling import SAMPLERS


def small_data(seed=0, U=60, I=50):
    g = torch.Generator().manual_seed(seed)
    uc, ic = torch.randint(0, 3, (U,), generator=g), torch.randint(0, 3, (I,), generator=g)
    index = ((uc[:, None] == ic[None, :]) & (torch.rand(U, I, generator=g) < 0.4)).nonzero().t()
    index = index[:, torch.randperm(index.size(1), generator=g)]
    n = index.size(1)
    return InteractionData(U, I, {"train": index[:, : int(0.8 * n)], "val": index[:, int(0.8 * n):]})


BASE = RunConfig(embedding_dim=8, num_layers=1, epochs=3, batch_size=256, lr=1e-2)


def test_every_registered_sampler_has_a_search_space():
    assert set(SAMPLERS) == set(SAMPLER_SPACES)


@pytest.mark.parametrize("sampler", sorted(SAMPLER_SPACES))
def test_each_space_builds_a_trainable_config(sampler):
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    objective = Objective(small_data(), SearchSpace("lightgcn", sampler), BASE)
    trial = study.ask()
    config = objective.config(trial)
    assert config.sampler == BASE.sampler  # the space sets constants, not the sampler's name
    config.sampler = sampler
    from pyg_negdiff.experiment import make_trainer
    make_trainer(config, small_data(), progress=False)  # constructor accepts every suggestion


def test_objective_reports_each_epoch_and_prunes():
    data = small_data()
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    study.optimize(Objective(data, SearchSpace("mf", "uniform"), BASE), n_trials=1)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.PRUNED  # NDCG can never reach 2
    assert list(trial.intermediate_values) == [0]


def test_trial_seed_and_test_metrics_are_recorded_but_not_used_for_selection():
    data = small_data()
    data = InteractionData(data.num_users, data.num_items, {**data.parts, "test": data.parts["val"][:, :20]})
    study = optuna.create_study(direction="maximize")
    study.optimize(Objective(data, SearchSpace("mf", "uniform", tune_backbone=False), BASE), n_trials=2)
    t0, t1 = study.trials
    assert (t0.user_attrs["seed"], t1.user_attrs["seed"]) == (BASE.seed, BASE.seed + 1)
    assert "test_metrics" in t0.user_attrs
    assert t0.value == max(t0.intermediate_values.values())  # the value is validation's best


WORKER = textwrap.dedent("""
    import sys, time
    from pyg_negdiff.tune import load_study, run_study
    study = load_study("interrupted", sys.argv[1], seed=0, pruner="none")
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        time.sleep(0.4)
        return x
    run_study(study, objective, int(sys.argv[2]))
""")


def test_killed_sqlite_study_resumes_to_the_requested_count(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    proc = subprocess.Popen([sys.executable, str(script), url, "8"])
    study = None
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until some trials are done, then kill mid-trial
        time.sleep(0.2)
        try:
            study = load_study("interrupted", url, pruner="none")
        except Exception:
            continue
        if finished_trials(study) >= 2:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    study = load_study("interrupted", url, pruner="none")
    before = finished_trials(study)
    assert 2 <= before < 8

    def objective(trial):
        return trial.suggest_float("x", 0, 1)

    run_study(study, objective, 8)
    study = load_study("interrupted", url, pruner="none")
    assert finished_trials(study) == 8
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))


def test_tune_command_runs_and_resumes(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    argv = ["tune", "--data", "synthetic", "--sampler", "dns", "--epochs", "2", "--dim", "8",
            "--layers", "1", "--trials", "2", "--storage", url, "--study-name", "cli",
            "--export", str(tmp_path / "best.json"), "--no-progress"]
    assert main(argv) == 0
    assert (tmp_path / "best.json").exists()
    argv[argv.index("--trials") + 1] = "3"
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "resuming study 'cli': 2 of 3" in out
    assert finished_trials(load_study("cli", url)) == 3
