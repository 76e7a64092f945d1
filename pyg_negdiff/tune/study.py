"""Creating, resuming and sharing Optuna studies (SQLite by default, any RDB URL for many workers).

A study lives in an RDB storage: a SQLite file on one machine, or a server
(PostgreSQL, MySQL) that many worker processes and machines share. The
functions here make every run of a study *resumable*:

- `load_study` creates the study or loads it (``load_if_exists=True``);
- `run_study` counts the trials already finished (complete or pruned) and runs
  only the rest, so a study always ends at the requested size, however many
  times it was interrupted and however many workers share it;
- a worker killed mid-trial leaves its trial RUNNING; Optuna's trial heartbeat
  (`make_storage`) marks it FAIL once the grace period passes and re-queues its
  parameters, so no trial is lost and none is counted twice.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Callable, Literal

import optuna
from optuna.storages import RDBStorage
from optuna.study import MaxTrialsCallback
from optuna.trial import FrozenTrial, TrialState

from pyg_negdiff.train import NonFiniteLossError

# The storage half moved to `pyg_negdiff.tune.storage`; its names stay importable from here.
from pyg_negdiff.tune.storage import (  # noqa: F401
    DEFAULT_DB,
    SECRET_KEYS,
    HeartbeatStorage,
    StorageError,
    default_storage,
    make_storage,
    mask_url,
    resolve_url,
)

__all__ = [
    "FINISHED",
    "PrunerName",
    "StorageError",
    "default_storage",
    "mask_url",
    "resolve_url",
    "make_storage",
    "make_pruner",
    "load_study",
    "check_study_attrs",
    "finished_trials",
    "running_trials",
    "fail_stale_trials",
    "refuse_distributed",
    "run_study",
    "export_best",
]

PrunerName = Literal["median", "hyperband", "none"]

#: Trials that count towards a study's requested size.
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def make_pruner(
    name: PrunerName = "median", *, n_startup_trials: int = 3, n_warmup_steps: int = 5
) -> optuna.pruners.BasePruner:
    """The pruner called by name: ``"median"`` (default), ``"hyperband"`` or ``"none"``.

    The median pruner stops a trial whose validation NDCG@20 at an epoch is
    below the median of earlier trials at that epoch, once ``n_startup_trials``
    trials have finished and after ``n_warmup_steps`` epochs (recommenders often
    sit on a popularity plateau for their first epochs).

    Args:
        name (str): ``"median"``, ``"hyperband"`` or ``"none"`` (no pruning).
        n_startup_trials (int): Finished trials before the median pruner prunes
            (unused by the others).
        n_warmup_steps (int): Epochs before the median pruner prunes a trial; the
            Hyperband pruner's minimum resource (at least 1).

    Returns:
        optuna.pruners.BasePruner: The pruner.

    Raises:
        ValueError: On an unknown ``name``.

    Examples:
        >>> type(make_pruner("median")).__name__
        'MedianPruner'
    """
    if name == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=n_startup_trials, n_warmup_steps=n_warmup_steps
        )
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, n_warmup_steps))
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"unknown pruner {name!r}; choose from 'median', 'hyperband', 'none'")


def load_study(
    study_name: str,
    storage: str | RDBStorage | None = None,
    *,
    seed: int = 0,
    pruner: PrunerName = "median",
    pruner_warmup: int = 5,
    n_startup_trials: int = 10,
    heartbeat_interval: int = 10,
    grace_period: int = 30,
) -> optuna.Study:
    """Creates the study, or loads it when it exists (``load_if_exists=True``).

    The study maximizes. Its sampler is `optuna.samplers.TPESampler` with the
    constant liar (parallel workers do not all explore the same point) and
    the seed ``seed + (trials already in the study)``: a fresh study is
    reproducible, and a resumed one does not replay the random start-up points
    of the interrupted run. Give each parallel worker its own ``seed``.

    Args:
        study_name (str): Fixed name; the same name in the same storage is the same study.
        storage (str or RDBStorage, optional): A URL (see `make_storage`) or a storage.
        seed (int): Seed of the TPE sampler.
        pruner (str): See `make_pruner`.
        pruner_warmup (int): Epochs before a trial can be pruned (``n_warmup_steps``).
        n_startup_trials (int): Random trials before TPE models the results.
        heartbeat_interval (int): See `make_storage`.
        grace_period (int): See `make_storage`.

    Examples:
        >>> study = load_study("doc", "sqlite:///:memory:")
        >>> study.study_name, study.direction.name
        ('doc', 'MAXIMIZE')
    """
    if not isinstance(storage, RDBStorage):
        storage = make_storage(
            storage, heartbeat_interval=heartbeat_interval, grace_period=grace_period
        )
    try:
        existing = len(
            storage.get_all_trials(storage.get_study_id_from_name(study_name), deepcopy=False)
        )
    except KeyError:
        existing = 0
    with warnings.catch_warnings():  # constant_liar is experimental in Optuna < 5
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            seed=seed + existing, n_startup_trials=n_startup_trials, constant_liar=True
        )
    return optuna.create_study(
        study_name=study_name,
        storage=storage,
        sampler=sampler,
        pruner=make_pruner(pruner, n_warmup_steps=pruner_warmup),
        direction="maximize",
        load_if_exists=True,
    )


def check_study_attrs(study: optuna.Study, attrs: dict[str, Any]) -> None:
    """Records what a study is about, and refuses to resume it for something else.

    On a new study the ``attrs`` (data, shift, backbone, sampler, ...) are stored as
    study user attributes; on an existing one they must match what is stored,
    otherwise trials of two different problems would be mixed in one study.

    Args:
        study (optuna.Study): The study, new or loaded.
        attrs (dict[str, Any]): What the study is about (JSON-serializable values).
            Keys not yet stored are added; stored keys must match.

    Raises:
        ValueError: When a stored attribute differs from ``attrs``.
    """
    stored = study.user_attrs
    clash = {k: (stored[k], v) for k, v in attrs.items() if k in stored and stored[k] != v}
    if clash:
        what = ", ".join(f"{k}={old!r} (now {new!r})" for k, (old, new) in clash.items())
        raise ValueError(
            f"study {study.study_name!r} was created for {what}; "
            f"pass another --study-name (or storage) for a different setting"
        )
    for key, value in attrs.items():
        if key not in stored:
            study.set_user_attr(key, value)


def finished_trials(study: optuna.Study) -> int:
    """The number of trials that count towards the requested size (complete or pruned).

    Args:
        study (optuna.Study): The study.

    Returns:
        int: Its COMPLETE and PRUNED trials.
    """
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def running_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Trials marked RUNNING: run by a live worker, or left by one that was killed.

    A killed worker's trial stays RUNNING until its heartbeat is older than the
    grace period; then `fail_stale_trials` (which Optuna calls before every
    trial of an ``optimize`` loop, and `run_study` once before it starts) turns
    it into FAIL.

    Args:
        study (optuna.Study): The study.

    Returns:
        list[FrozenTrial]: Its RUNNING trials (not deep-copied).
    """
    return study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))


def fail_stale_trials(study: optuna.Study) -> int:
    """Marks the RUNNING trials whose heartbeat stopped as FAIL and re-queues them.

    Re-queueing is done by the storage's stale-trial callback (see `make_storage`);
    a storage without a heartbeat fails nothing.

    Args:
        study (optuna.Study): The study.

    Returns:
        int: How many trials were failed.
    """
    before = {t.number for t in running_trials(study)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    return len(before - {t.number for t in running_trials(study)})


def refuse_distributed() -> None:
    """Refuses to run a study in one of several ``torchrun`` processes.

    Under ``torchrun`` every rank would run its own copy of the study (each
    asking for trials of its own) or, with the trials' trainers joining one
    process group, ranks would wait on each other's unrelated trials. A study
    scales *across* trials instead: several single-process workers on one
    shared storage. Call it before opening a storage or loading data.

    Raises:
        ValueError: ``WORLD_SIZE`` (or the initialized process group) says
            more than one process, with the fix in the message.

    Examples:
        >>> refuse_distributed()  # one process: nothing to refuse
    """
    from pyg_negdiff.distributed import launched_world_size

    world_size = launched_world_size()
    if world_size > 1:
        raise ValueError(
            f"an Optuna study does not run under torchrun (WORLD_SIZE={world_size}): every rank would run "
            f"its own copy. Scale a study with several workers on one shared storage (one `pyg-negdiff tune "
            f"--storage postgresql://...` per worker), and use torchrun for `pyg-negdiff train`"
        )


def run_study(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    n_trials: int,
    *,
    show_progress_bar: bool = False,
    max_failures: int | None = None,
) -> int:
    """Runs trials until the study holds ``n_trials`` finished (complete or pruned) ones.

    Trials already in the study count, so calling it again after an interruption
    resumes instead of starting over; several workers calling it on one shared
    storage stop together at the requested total (`optuna.study.MaxTrialsCallback`;
    a trial another worker is still running when the total is reached may add
    one more). A trial whose loss diverged (`NonFiniteLossError`) is recorded as
    FAIL, does not count, and does not stop the study; a FAIL is replaced by a new
    trial, up to ``max_failures`` of them (default: ``n_trials``).

    Args:
        study (optuna.Study): The study (see `load_study`).
        objective (callable): Maps a trial to the value to maximize.
        n_trials (int): Finished trials the study should hold at the end.
        show_progress_bar (bool): Optuna's tqdm bar over this call's trials.
        max_failures (int, optional): Failed trials this call tolerates before it stops.

    Returns:
        int: The number of trials this call ran.

    Raises:
        ValueError: Under ``torchrun`` with more than one process (`refuse_distributed`).

    Examples:
        >>> study = load_study("doc-run", "sqlite:///:memory:", pruner="none")
        >>> run_study(study, lambda trial: trial.suggest_float("x", 0, 1), 3)
        3
        >>> run_study(study, lambda trial: trial.suggest_float("x", 0, 1), 5)  # resumes: 2 more
        2
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    refuse_distributed()
    max_failures = n_trials if max_failures is None else max_failures
    fail_stale_trials(study)
    ran = failures = 0
    states: list[TrialState] = []

    def record(_: optuna.Study, trial: FrozenTrial) -> None:
        states.append(trial.state)

    stop = MaxTrialsCallback(n_trials, states=FINISHED)
    while (remaining := n_trials - finished_trials(study)) > 0 and failures <= max_failures:
        states.clear()
        study.optimize(
            objective,
            n_trials=remaining,
            catch=(NonFiniteLossError,),
            callbacks=[record, stop],
            show_progress_bar=show_progress_bar,
        )
        ran += len(states)
        failures += sum(s == TrialState.FAIL for s in states)
        if not states:
            break  # defensive: nothing ran (the study was stopped), so looping would not progress
    if failures > max_failures:
        warnings.warn(
            f"study {study.study_name!r} stopped after {failures} failed trials with "
            f"{finished_trials(study)} of {n_trials} finished",
            RuntimeWarning,
            stacklevel=2,
        )
    return ran


def export_best(study: optuna.Study, path: str | Path | None = None) -> dict[str, Any]:
    """The best trial's value, parameters, full configuration and test metrics, as JSON.

    Test metrics are those the objective stored at the best validation epoch
    (``<part>_metrics`` user attributes); they were never used to choose.

    Args:
        study (optuna.Study): A study with at least one complete trial.
        path (str or Path, optional): Where to write the JSON (folders are created).

    Returns:
        dict: ``study``, ``trial``, ``value``, ``params``, ``config``, ``seed``,
        ``val``, ``test`` (``{part: {metric: value}}``), ``finished_trials`` and
        ``study_attrs`` (what the study is about, see `check_study_attrs`).
    """
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise ValueError(f"study {study.study_name!r} has no complete trial yet")
    best = study.best_trial
    attrs = best.user_attrs
    out = {
        "study": study.study_name,
        "trial": best.number,
        "value": best.value,
        "params": best.params,
        "config": attrs.get("config"),
        "seed": attrs.get("seed"),
        "val": attrs.get("val_metrics"),
        "test": {
            k[: -len("_metrics")]: v
            for k, v in attrs.items()
            if k.endswith("_metrics") and k != "val_metrics"
        },
        "finished_trials": finished_trials(study),
        "study_attrs": study.user_attrs,
    }
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2))
    return out
