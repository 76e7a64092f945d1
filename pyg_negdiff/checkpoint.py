"""The checkpoint file of a `pyg_negdiff.train.Trainer`: its layout, writing and reading.

A checkpoint holds, at its top level, the best (or last good) weights,
``{"epoch", "model", "sampler", "optimizer"}``, which `Trainer.load_checkpoint`
reads, plus ``"format"`` (`CHECKPOINT_FORMAT`) and, under ``"resume"``,
everything needed to go on from the end of the last epoch:

- ``model``, ``sampler``, ``optimizer``: the state dicts at the end of that epoch;
- ``loop``: the epoch, history and early-stopping counters;
- ``generator``, ``torch_rng`` (and ``ranks``, every rank's own streams under ``torchrun``);
- ``config`` (the run's settings, compared on resume) and ``world_size``;
- ``environments``: `EnvironmentInference.state_dict` (the assignment, the
  update count, a learned strategy's tensors), when there are environments;
- ``penalty``: the penalty's ``state_dict()`` (its warm-up count); files written
  before it was recorded this way hold ``penalty_calls``, which still loads.

Only tensors, numbers, strings, lists and dicts: it loads with ``weights_only=True``.

Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "run.pt")
    >>> write_checkpoint(path, {"epoch": 0, "model": {}, "sampler": {}, "optimizer": {}},
    ...                  {"loop": {"epoch": 0}})
    >>> state = read_checkpoint(path)
    >>> state["format"] == CHECKPOINT_FORMAT, state["resume"]["loop"]["epoch"]
    (True, 0)
"""

from __future__ import annotations

import copy
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "CHECKPOINT_FORMAT",
    "read_checkpoint",
    "write_checkpoint",
    "snapshot",
    "restore",
    "resume_payload",
    "initial_loop",
    "read_resumable",
    "check_resumable",
    "restore_resume_state",
    "plain",
]

#: Version of the checkpoint layout written by `Trainer` (refused when it differs).
CHECKPOINT_FORMAT = 2

#: The keys of a weights snapshot (the top level of a checkpoint).
SNAPSHOT_KEYS = ("epoch", "model", "sampler", "optimizer")


def snapshot(
    epoch: int, model: torch.nn.Module, sampler: torch.nn.Module, optimizer: Any
) -> dict[str, Any]:
    """A copy of the weights and optimizer state, to restore later (`restore`).

    Args:
        epoch (int): The epoch the weights belong to (``-1``: the initial ones).
        model (torch.nn.Module): The backbone.
        sampler (torch.nn.Module): The negative sampler.
        optimizer: The optimizer (anything with ``state_dict``).

    Returns:
        dict: ``epoch``, ``model``, ``sampler`` and ``optimizer`` (deep copies).
    """
    return {
        "epoch": epoch,
        "model": copy.deepcopy(model.state_dict()),
        "sampler": copy.deepcopy(sampler.state_dict()),
        "optimizer": copy.deepcopy(optimizer.state_dict()),
    }


def restore(
    state: dict[str, Any], model: torch.nn.Module, sampler: torch.nn.Module, optimizer: Any
) -> None:
    """Loads a `snapshot` (or a checkpoint's ``resume`` part) into the model, sampler and optimizer.

    Args:
        state (dict): ``model``, ``sampler`` and ``optimizer`` state dicts.
        model (torch.nn.Module): The backbone.
        sampler (torch.nn.Module): The negative sampler.
        optimizer: The optimizer.
    """
    model.load_state_dict(state["model"])
    sampler.load_state_dict(state["sampler"])
    optimizer.load_state_dict(state["optimizer"])


def resume_payload(
    model: torch.nn.Module,
    sampler: torch.nn.Module,
    optimizer: Any,
    loop: dict[str, Any],
    *,
    generator: torch.Generator,
    config: dict[str, Any],
    world_size: int = 1,
    ranks: dict[str, list[Tensor]] | None = None,
    environments: Any = None,
    penalty: Any = None,
) -> dict[str, Any]:
    """The ``resume`` part of a checkpoint: the state at the end of the last epoch.

    Args:
        model (torch.nn.Module): The backbone.
        sampler (torch.nn.Module): The negative sampler.
        optimizer: The optimizer.
        loop (dict): The loop state (epoch, history, early-stopping counters).
        generator (torch.Generator): The training generator.
        config (dict): The run's settings (stored as JSON values, compared on resume).
        world_size (int): Processes of the run.
        ranks (dict, optional): Every rank's own random streams (``torchrun``).
        environments (optional): The environment inference; saved when it has a
            ``state_dict`` (`EnvironmentInference`) and is fitted.
        penalty (optional): The penalty; saved when it is a module (its warm-up count).

    Returns:
        dict: The ``resume`` entry.
    """
    payload: dict[str, Any] = {
        "model": model.state_dict(),
        "sampler": sampler.state_dict(),
        "optimizer": optimizer.state_dict(),
        "loop": loop,
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "config": plain(config),
        "world_size": world_size,
    }
    if ranks is not None:
        payload["ranks"] = ranks
    env_state = environments.state_dict() if hasattr(environments, "state_dict") else None
    if env_state:
        payload["environments"] = env_state
    if isinstance(penalty, torch.nn.Module):
        payload["penalty"] = penalty.state_dict()
    return payload


def write_checkpoint(path: str | Path, best: dict[str, Any], resume: dict[str, Any]) -> None:
    """Writes a checkpoint atomically: a crash never leaves half a file.

    Args:
        path (str or Path): The checkpoint file (its folder is created).
        best (dict): The weights snapshot of the top level (`snapshot`).
        resume (dict): The ``resume`` entry (`resume_payload`).
    """
    path = Path(path)
    state = dict(best)
    state["format"] = CHECKPOINT_FORMAT
    state["resume"] = resume
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def read_checkpoint(
    path: str | Path, map_location: str | torch.device | None = None
) -> dict[str, Any]:
    """Reads a `Trainer` checkpoint safely, with ``torch.load(weights_only=True)``.

    Args:
        path (str or Path): The checkpoint file.
        map_location (str or torch.device, optional): Where to put its tensors.

    Returns:
        dict: ``epoch``, ``model``, ``sampler`` and ``optimizer`` of the best
        weights, and ``resume`` with the state at the end of the last epoch.

    Raises:
        ValueError: The file is not a checkpoint of this library (or of another layout).
    """
    if Path(path).is_file() and Path(path).stat().st_size == 0:  # torch says "list index"
        raise ValueError(
            f"{path} is empty (0 bytes), not a checkpoint: a run was killed before it "
            f"finished writing it; start over"
        )
    try:
        with warnings.catch_warnings():  # "Detected pickle protocol 4": noise beside our message
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location=map_location, weights_only=True)
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - any other failure means: not a safe checkpoint
        # Not torch's advice to pass weights_only=False: that runs whatever the file holds.
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        why = "damaged, or written by something else" if "Weights only" in first else first
        raise ValueError(
            f"{path} is not a pyg_negdiff checkpoint that loads safely ({why}); "
            f"it cannot be resumed: start over"
        ) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else None
        raise ValueError(
            f"{path} is not a pyg_negdiff checkpoint of layout {CHECKPOINT_FORMAT} "
            f"(found {found!r}); it cannot be resumed: start over without resuming"
        )
    return state


def initial_loop() -> dict[str, Any]:
    """The loop state of a run that has not trained yet (what ``resume.loop`` holds later)."""
    return {
        "epoch": -1,
        "history": [],
        "best_value": -math.inf,
        "best_epoch": -1,
        "best_val": {},
        "bad_evals": 0,
        "stopped_early": False,
    }


def read_resumable(
    path: str | Path,
    config: dict[str, Any],
    world_size: int,
    map_location: str | torch.device | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Reads a checkpoint to resume it, refusing one of other settings (`check_resumable`).

    Args:
        path (str or Path): The checkpoint file.
        config (dict): The settings of the run that resumes.
        world_size (int): Its number of processes.
        map_location (str or torch.device, optional): Where to put the tensors.

    Returns:
        tuple[dict, dict]: The best weights (a `snapshot`) and the ``resume`` entry.

    Raises:
        FileNotFoundError: There is no checkpoint at ``path``.
        ValueError: Not a checkpoint of this layout, or of other settings.
    """
    if not Path(path).exists():
        raise FileNotFoundError(
            f"no checkpoint to resume at {path}: "
            f"the interrupted run saved none; start it again without resuming"
        )
    state = read_checkpoint(path, map_location)
    check_resumable(state["resume"], path, config, world_size)
    return {k: state[k] for k in SNAPSHOT_KEYS}, state["resume"]


def check_resumable(
    saved: dict[str, Any], path: str | Path, config: dict[str, Any], world_size: int
) -> None:
    """Refuses to resume a checkpoint written with other settings or another number of processes.

    Args:
        saved (dict): The checkpoint's ``resume`` entry.
        path (str or Path): The file, for the message.
        config (dict): The settings of the run that would resume (``device`` may differ).
        world_size (int): Its number of processes.

    Raises:
        ValueError: Naming the settings that differ, or the two world sizes.
    """
    now = plain(config)
    diff = {
        k: (saved["config"].get(k), v)
        for k, v in now.items()
        if k != "device" and saved["config"].get(k) != v
    }
    if diff:
        what = "; ".join(f"{k}: {old!r} then, {new!r} now" for k, (old, new) in diff.items())
        raise ValueError(
            f"checkpoint {path} was written with other settings ({what}); "
            f"resume with the same settings, or start over without resuming"
        )
    if saved.get("world_size", 1) != world_size:
        raise ValueError(
            f"checkpoint {path} was written by {saved.get('world_size', 1)} "
            f"process(es), this run has {world_size}: resume with the same number "
            f"(torchrun --nproc-per-node), or start over without resuming"
        )


def restore_resume_state(
    saved: dict[str, Any],
    *,
    generator: torch.Generator,
    rank: int = 0,
    sampling: torch.Generator | None = None,
    environments: Any = None,
    penalty: Any = None,
) -> None:
    """Restores the random streams, environments and penalty of a ``resume`` entry.

    Args:
        saved (dict): The checkpoint's ``resume`` entry.
        generator (torch.Generator): The training generator.
        rank (int): This process's rank.
        sampling (torch.Generator, optional): This rank's neighbour-sampling
            generator, given under ``torchrun`` (each rank has its own).
        environments (optional): The environment inference (`EnvironmentInference`).
        penalty (optional): The penalty module.
    """
    generator.set_state(saved["generator"].to(generator.get_state().device))
    torch.set_rng_state(saved["torch_rng"].cpu())  # rank 0's, as it was when it wrote the file
    if sampling is not None:  # each rank's own streams, as gathered at the end of the epoch
        sampling.set_state(saved["ranks"]["sampling"][rank].cpu())
        if rank != 0:
            torch.set_rng_state(saved["ranks"]["torch_rng"][rank].cpu())
    if saved.get("environments") is not None and environments is not None:
        environments.load_state_dict(saved["environments"])
    if penalty is not None and "penalty" in saved:
        penalty.load_state_dict(saved["penalty"])
    elif hasattr(penalty, "set_extra_state") and "penalty_calls" in saved:  # before "penalty"
        penalty.set_extra_state({"num_calls": saved["penalty_calls"]})


def plain(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with JSON-only types (what a checkpoint stores and compares).

    Examples:
        >>> plain({"path": Path("a"), "k": (1, 2)})
        {'path': 'a', 'k': [1, 2]}
    """
    return json.loads(json.dumps(values, default=str))
