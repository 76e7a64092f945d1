"""Optuna search spaces: one per backbone, one per sampler, one for the environment penalty."""
from __future__ import annotations

from typing import Any, Callable

import optuna

SpaceFn = Callable[[optuna.Trial], dict[str, Any]]


def backbone_space(trial: optuna.Trial, model: str) -> dict[str, Any]:
    """Learning rate, L2 weight, embedding size and (for graph backbones) depth."""
    params: dict[str, Any] = {
        "lr": trial.suggest_float("lr", 1e-4, 2e-2, log=True),
        "l2": trial.suggest_float("l2", 1e-6, 1e-2, log=True),
        "embedding_dim": trial.suggest_categorical("embedding_dim", [32, 64]),
    }
    if model != "mf":
        params["num_layers"] = trial.suggest_int("num_layers", 1, 3)
    return params


def _cnsdiff(trial: optuna.Trial) -> dict[str, Any]:
    # Beta endpoints move from (1, c - 1) to (c - 1, 1): one concentration c instead of
    # four free numbers keeps the curriculum's shape (easy to hard) fixed.
    c = trial.suggest_float("beta_concentration", 4.0, 16.0)
    return {
        "start_step": trial.suggest_int("start_step", 2, 14, step=4),
        "step_stride": trial.suggest_int("step_stride", 2, 6, step=2),
        "noise_scale": trial.suggest_float("noise_scale", 0.1, 20.0, log=True),
        "beta_start": (1.0, c - 1.0),
        "beta_end": (c - 1.0, 1.0),
        "cl_weight": trial.suggest_float("cl_weight", 0.0, 0.5),
    }


#: Sampler name to the function suggesting its own constants.
SAMPLER_SPACES: dict[str, SpaceFn] = {
    "uniform": lambda trial: {},
    "popularity": lambda trial: {"alpha": trial.suggest_float("alpha", 0.0, 1.0)},
    "dns": lambda trial: {"num_candidates": trial.suggest_categorical("num_candidates", [8, 16, 32, 64])},
    "mixgcf": lambda trial: {"num_candidates": trial.suggest_categorical("num_candidates", [8, 16, 32])},
    "ahns": lambda trial: {"alpha": trial.suggest_float("alpha", 0.1, 2.0),
                           "beta": trial.suggest_float("beta", 0.01, 1.0, log=True)},
    "cnsdiff": _cnsdiff,
    "adar": lambda trial: {"generation": trial.suggest_categorical("generation", ["forward", "denoise"]),
                           "combine": trial.suggest_categorical("combine", ["add", "replace"])},
}


def penalty_space(trial: optuna.Trial) -> dict[str, Any]:
    r"""The variance-penalty weight $\lambda$ and the number of environments $K$."""
    return {"penalty_weight": trial.suggest_float("penalty_weight", 1e-2, 10.0, log=True),
            "num_environments": trial.suggest_int("num_environments", 2, 5)}


class SearchSpace:
    """The search space of one (backbone, sampler) pair, as a callable on a trial.

    Args:
        model (str): Backbone name.
        sampler (str): Sampler name, a key of `SAMPLER_SPACES`.
        tune_penalty (bool): Also search the environment penalty.
        tune_backbone (bool): Also search learning rate, L2, size and depth.

    Examples:
        >>> import optuna
        >>> space = SearchSpace("lightgcn", "dns")
        >>> params = space(optuna.trial.FixedTrial({"lr": 1e-3, "l2": 1e-4, "embedding_dim": 32,
        ...                                         "num_layers": 2, "num_candidates": 16}))
        >>> params["sampler_kwargs"], params["num_layers"]
        ({'num_candidates': 16}, 2)
    """

    def __init__(self, model: str, sampler: str, *, tune_penalty: bool = False,
                 tune_backbone: bool = True) -> None:
        if sampler not in SAMPLER_SPACES:
            raise ValueError(f"no search space for sampler {sampler!r}; known: {sorted(SAMPLER_SPACES)}")
        self.model, self.sampler = model, sampler
        self.tune_penalty, self.tune_backbone = tune_penalty, tune_backbone

    def __call__(self, trial: optuna.Trial) -> dict[str, Any]:
        """Suggests a partial `RunConfig` as a dict (sampler constants under ``sampler_kwargs``)."""
        params = backbone_space(trial, self.model) if self.tune_backbone else {}
        params["sampler_kwargs"] = SAMPLER_SPACES[self.sampler](trial)
        if self.tune_penalty:
            params.update(penalty_space(trial))
        return params

    def __repr__(self) -> str:
        return (f"SearchSpace(model={self.model!r}, sampler={self.sampler!r}, "
                f"tune_penalty={self.tune_penalty})")
