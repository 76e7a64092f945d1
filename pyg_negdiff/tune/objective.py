"""The Optuna objective: train one configuration, report validation NDCG@20 per epoch, prune."""

from __future__ import annotations

import os
import socket
from typing import Any, Callable

import optuna

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.experiment import RunConfig, run

__all__ = ["Objective"]


class Objective:
    r"""Trains the configuration a trial suggests and returns its best validation metric.

    The trial's configuration is ``base`` overridden by ``space(trial)``; its
    seed is ``base.seed + trial.number`` (stored as the trial's ``seed`` user
    attribute, beside ``worker``, the ``host:pid`` that ran it), so every trial
    is reproducible on its own and no two trials share a random stream. After
    every validation the ``monitor`` metric (NDCG@20 by default) is reported
    with ``trial.report``, and the trial is
    pruned when the study's pruner says so. The objective's value is

    $$
    \max_{e} \; \mathrm{NDCG@20}_{\text{val}}(e),
    $$

    the validation metric of the best epoch $e$. The test parts are evaluated
    once, with the weights of that epoch, and stored as user attributes
    (``test_metrics``, ``test_ood_metrics``, ...): they are never used to select.

    Args:
        data (InteractionData): Split data with a ``"val"`` part.
        space (callable): Maps a trial to a partial `RunConfig` dict (e.g. `SearchSpace`).
        base (RunConfig, optional): Everything the space does not set.
        progress (bool): Show the trainer's progress bars inside each trial.

    Examples:
        >>> import optuna, torch
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> g = torch.Generator().manual_seed(0)
        >>> edges = torch.stack([torch.randint(0, 20, (200,), generator=g),
        ...                      torch.randint(0, 15, (200,), generator=g)])
        >>> edges = torch.unique(edges, dim=1)
        >>> data = InteractionData(20, 15, {"train": edges[:, ::2], "val": edges[:, 1::2]})
        >>> objective = Objective(data, lambda trial: {"lr": trial.suggest_float("lr", 1e-3, 1e-1)},
        ...                       RunConfig(model="mf", embedding_dim=8, epochs=2))
        >>> study = optuna.create_study(direction="maximize")
        >>> study.optimize(objective, n_trials=2)
        >>> [t.user_attrs["seed"] for t in study.trials]
        [0, 1]
    """

    def __init__(
        self,
        data: InteractionData,
        space: Callable[[optuna.Trial], dict[str, Any]],
        base: RunConfig | None = None,
        *,
        progress: bool = False,
    ) -> None:
        if "val" not in data.parts:
            raise ValueError(
                "tuning needs a validation part; split the data first (e.g. shift='random')"
            )
        self.data, self.space = data, space
        self.base = base or RunConfig()
        self.progress = progress

    def config(self, trial: optuna.Trial) -> RunConfig:
        """The trial's full configuration: ``base``, the space's suggestions, the trial's seed.

        Sampler constants given in ``base.sampler_kwargs`` are kept (for the same
        sampler) unless the space suggests them too.

        Args:
            trial (optuna.Trial): The trial whose suggestions to read.
        """
        values = self.base.to_dict()
        suggested = self.space(trial)
        if (
            "sampler_kwargs" in suggested
            and suggested.get("sampler", values["sampler"]) == values["sampler"]
        ):
            # Fixed constants of the base sampler stay unless the space tunes them.
            suggested["sampler_kwargs"] = {
                **values["sampler_kwargs"],
                **suggested["sampler_kwargs"],
            }
        values.update(suggested)
        values["seed"] = self.base.seed + trial.number
        return RunConfig.from_dict(values)

    def __call__(self, trial: optuna.Trial) -> float:
        config = self.config(trial)
        trial.set_user_attr("seed", config.seed)
        trial.set_user_attr("config", config.to_dict())
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")

        def report(epoch: int, val: dict[str, float]) -> None:
            trial.report(val[config.monitor], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        result = run(config, self.data, callbacks=[report], progress=self.progress)
        trial.set_user_attr("best_epoch", result.best_epoch)
        trial.set_user_attr("epoch_time", result.epoch_time)
        trial.set_user_attr("val_metrics", result.best_val)
        for part, metrics in result.test.items():
            trial.set_user_attr(f"{part}_metrics", metrics)
        return result.best_val[config.monitor]
