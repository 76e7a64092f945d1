"""Many workers on one Optuna study in a real PostgreSQL server (started by ``.ci/postgres.sh``).

Skipped unless ``PYG_NEGDIFF_PG_URL`` is set:

    source .ci/postgres.sh && python -m pytest -m postgres
"""

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

import optuna  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from pyg_negdiff.tune import finished_trials, load_study, running_trials  # noqa: E402

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def worker(study_name, trials, sampler_seed, log, *extra):
    """One ``pyg-negdiff tune`` process: tiny LightGCN runs on the synthetic data."""
    cmd = [
        sys.executable,
        "-m",
        "pyg_negdiff.cli",
        "tune",
        "--data",
        "synthetic",
        "--sampler",
        "uniform",
        "--model",
        "lightgcn",
        "--layers",
        "1",
        "--dim",
        "8",
        "--batch-size",
        "8192",
        "--fixed-size",
        "--trials",
        str(trials),
        "--storage",
        URL,
        "--study-name",
        study_name,
        "--seed",
        "0",
        "--sampler-seed",
        str(sampler_seed),
        "--pruner",
        "none",
        "--no-progress",
        "--export",
        os.devnull,
        *extra,
    ]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def peek(storage, name):
    """The study's trials, read without creating it (``[]`` until a worker has)."""
    try:
        return storage.get_all_trials(storage.get_study_id_from_name(name), deepcopy=False)
    except KeyError:
        return []


def test_two_workers_share_one_study_without_duplicates_or_losses(tmp_path):
    name = f"two-workers-{uuid.uuid4().hex[:8]}"
    logs = [open(tmp_path / f"worker{i}.log", "w") for i in range(2)]
    procs = [worker(name, 8, seed, log, "--epochs", "3") for seed, log in enumerate(logs)]
    for proc, log in zip(procs, logs):
        proc.wait(timeout=240)
        log.close()
        assert proc.returncode == 0, open(log.name).read()[-3000:]
    study = load_study(name, URL)
    trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials)))  # no duplicate, no gap
    assert all(t.state in FINISHED for t in trials)  # none lost (FAIL or RUNNING)
    # MaxTrialsCallback stops both at 8; a trial the other worker is still running may add one.
    assert 8 <= finished_trials(study) <= 9
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both workers took trials
    assert len({t.user_attrs["seed"] for t in trials}) == len(trials)


def test_killed_worker_leaves_the_study_resumable(tmp_path):
    name = f"killed-{uuid.uuid4().hex[:8]}"
    beat = [
        "--epochs",
        "8",
        "--patience",
        "100",
        "--heartbeat-interval",
        "1",
        "--grace-period",
        "2",
    ]
    storage = optuna.storages.RDBStorage(URL)  # one connection pool for all the polling below
    with open(tmp_path / "killed.log", "w") as log:
        proc = worker(name, 50, 0, log, *beat)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)  # wait until a trial finished and the next one runs, then kill it
            trials = peek(storage, name)
            if sum(t.state in FINISHED for t in trials) >= 1 and any(
                t.state == TrialState.RUNNING for t in trials
            ):
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    study = load_study(name, URL)
    killed = [t.number for t in running_trials(study)]
    done = finished_trials(study)
    assert len(killed) == 1 and 1 <= done < 50, (tmp_path / "killed.log").read_text()[-3000:]
    time.sleep(2.5)  # the killed trial's heartbeat is older than the grace period now

    target = done + 2
    with open(tmp_path / "resume.log", "w") as log:
        resume = worker(name, target, 1, log, *beat)
        resume.wait(timeout=240)
    assert resume.returncode == 0, (tmp_path / "resume.log").read_text()[-3000:]
    trials = load_study(name, URL).get_trials(deepcopy=False)
    assert sum(t.state in FINISHED for t in trials) == target
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    state = {t.number: t.state for t in trials}
    assert state[killed[0]] == TrialState.FAIL  # the stale trial was failed ...
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed[0]]
    assert [t.state for t in retried] == [TrialState.COMPLETE]  # ... and its parameters re-run
    assert not any(t.state == TrialState.RUNNING for t in trials)
