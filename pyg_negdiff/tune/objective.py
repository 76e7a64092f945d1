"""The Optuna objective: train one configuration, report validation NDCG@20 per epoch, prune."""
from __future__ import annotations

from typing import Any, Callable

import optuna

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.experiment import RunConfig, run


class Objective:
    r"""Trains the configuration a trial suggests and returns its best validation metric.

    The trial's configuration is ``base`` overridden by ``space(trial)``; its
    seed is ``base.seed + trial.number``, so every trial is reproducible on its
    own and two trials never share a random stream. After every validation the
    ``monitor`` metric is reported with ``trial.report``, and the trial is pruned
    when the study's pruner says so. Test metrics are stored as user attributes
    of the trial (read at the best validation epoch), never used to select.

    Args:
        data (InteractionData): Split data with a ``"val"`` part.
        space (callable): Maps a trial to a partial `RunConfig` dict.
        base (RunConfig): Everything the space does not set.
    """

    def __init__(self, data: InteractionData, space: Callable[[optuna.Trial], dict[str, Any]],
                 base: RunConfig | None = None) -> None:
        if "val" not in data.parts:
            raise ValueError("tuning needs a validation part; split the data first (e.g. shift='random')")
        self.data, self.space = data, space
        self.base = base or RunConfig()

    def config(self, trial: optuna.Trial) -> RunConfig:
        values = self.base.to_dict()
        values.update(self.space(trial))
        values["seed"] = self.base.seed + trial.number
        return RunConfig.from_dict(values)

    def __call__(self, trial: optuna.Trial) -> float:
        config = self.config(trial)
        trial.set_user_attr("seed", config.seed)

        def report(epoch: int, val: dict[str, float]) -> None:
            trial.report(val[config.monitor], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        result = run(config, self.data, callbacks=[report], progress=False)
        trial.set_user_attr("config", config.to_dict())
        trial.set_user_attr("best_epoch", result.best_epoch)
        trial.set_user_attr("epoch_time", result.epoch_time)
        for part, metrics in result.test.items():
            trial.set_user_attr(f"{part}_metrics", metrics)
        return result.best_val[config.monitor]
