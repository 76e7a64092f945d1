"""Many workers on one Optuna study in a real PostgreSQL server (started by .ci/postgres.sh)."""
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

pytestmark = pytest.mark.postgres
URL = os.environ.get("PYG_NEGDIFF_PG_URL")
if not URL:
    pytest.skip("PYG_NEGDIFF_PG_URL is not set (source .ci/postgres.sh)", allow_module_level=True)

from optuna.trial import TrialState  # noqa: E402

from pyg_negdiff.tune import finished_trials, load_study  # noqa: E402


def worker(study_name, trials, seed):
    cmd = [sys.executable, "-m", "pyg_negdiff.cli", "tune", "--data", "synthetic", "--sampler", "uniform",
           "--model", "mf", "--epochs", "3", "--dim", "8", "--trials", str(trials), "--storage", URL,
           "--study-name", study_name, "--seed", str(seed), "--pruner", "none", "--no-progress",
           "--export", os.devnull]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_two_workers_share_one_study_without_duplicates_or_losses():
    name = f"two-workers-{uuid.uuid4().hex[:8]}"
    procs = [worker(name, 6, seed) for seed in (0, 1)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-2000:]
    study = load_study(name, URL)
    trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))                       # no duplicate trial numbers
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)  # none lost
    # MaxTrialsCallback stops both at 6; a trial already running in the other worker may add one.
    assert 6 <= finished_trials(study) <= 7
    seeds = {t.user_attrs["seed"] for t in trials}
    assert len(seeds) >= 2  # both workers contributed (their seeds differ)


def test_killed_worker_leaves_the_study_resumable():
    name = f"killed-{uuid.uuid4().hex[:8]}"
    proc = worker(name, 50, 0)
    deadline = time.time() + 240
    while time.time() < deadline:
        time.sleep(0.5)
        try:
            if finished_trials(load_study(name, URL)) >= 1:
                break
        except Exception:  # the study is created by the worker
            continue
    proc.send_signal(signal.SIGKILL)  # mid-trial: its next trial is already RUNNING or starting
    proc.wait()
    study = load_study(name, URL)
    done = finished_trials(study)
    assert 1 <= done < 50
    target = done + 2
    resume = worker(name, target, 2)
    _, err = resume.communicate(timeout=300)
    assert resume.returncode == 0, err.decode()[-2000:]
    study = load_study(name, URL)
    assert finished_trials(study) == target
    numbers = [t.number for t in study.get_trials(deepcopy=False)]
    assert len(numbers) == len(set(numbers))
