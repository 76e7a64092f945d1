"""Creating, resuming and sharing Optuna studies (SQLite by default, any RDB URL for many workers)."""
from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Literal

import optuna
import sqlalchemy.exc
from optuna.storages import RDBStorage, RetryFailedTrialCallback
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

from pyg_negdiff.train import NonFiniteLossError

PrunerName = Literal["median", "hyperband", "none"]

#: Trials that count towards a study's requested size.
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def default_storage(path: str | Path = "runs/pyg_negdiff.db") -> str:
    """A SQLite URL for ``path``, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def make_storage(url: str, *, heartbeat_interval: int = 10, grace_period: int = 30) -> RDBStorage:
    """An RDB storage (SQLite, PostgreSQL, ...) with Optuna's trial heartbeat.

    A worker that dies mid-trial stops beating; once ``grace_period`` seconds
    pass, the next worker to start or finish a trial marks that trial FAIL and
    `optuna.storages.RetryFailedTrialCallback` enqueues its parameters
    again, so nothing is lost and the study stays resumable.
    """
    for attempt in range(5):
        try:
            with warnings.catch_warnings():  # the heartbeat API is marked experimental; we rely on it
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period,
                                  heartbeat_stale_trial_callback=RetryFailedTrialCallback(max_retry=1))
        except sqlalchemy.exc.DBAPIError:
            # Workers started together race to create the schema; the loser finds it
            # half-made (a unique violation). Once the winner commits, connecting succeeds.
            if attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def make_pruner(name: PrunerName = "median") -> optuna.pruners.BasePruner:
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"unknown pruner {name!r}")


def load_study(study_name: str, storage: str | None = None, *, seed: int = 0,
               pruner: PrunerName = "median") -> optuna.Study:
    """Creates the study, or loads it when it exists (``load_if_exists=True``)."""
    return optuna.create_study(
        study_name=study_name, storage=make_storage(storage or default_storage()),
        sampler=optuna.samplers.TPESampler(seed=seed), pruner=make_pruner(pruner),
        direction="maximize", load_if_exists=True)


def finished_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def run_study(study: optuna.Study, objective: Callable[[optuna.Trial], float], n_trials: int, *,
              show_progress_bar: bool = False) -> int:
    """Runs trials until the study holds ``n_trials`` finished (complete or pruned) ones.

    Trials already in the study count, so calling it again after an interruption
    resumes instead of starting over; several workers calling it on one shared
    storage stop together at the requested total (`MaxTrialsCallback`). A trial
    whose loss diverged is recorded as FAIL and does not stop the study.

    Returns:
        int: The number of trials this call ran.
    """
    before = len(study.trials)
    remaining = n_trials - finished_trials(study)
    if remaining > 0:
        study.optimize(objective, n_trials=remaining, catch=(NonFiniteLossError,),
                       callbacks=[MaxTrialsCallback(n_trials, states=FINISHED)],
                       show_progress_bar=show_progress_bar)
    return len(study.trials) - before


def export_best(study: optuna.Study, path: str | Path) -> dict[str, Any]:
    """Writes the best trial's value, parameters and full configuration to JSON."""
    best = study.best_trial
    out = {"study": study.study_name, "trial": best.number, "value": best.value,
           "params": best.params, "config": best.user_attrs.get("config"),
           "test": {k: v for k, v in best.user_attrs.items() if k.endswith("_metrics")},
           "finished_trials": finished_trials(study)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    return out
