"""Optuna search spaces: one per backbone, one per sampler, one for the environment penalty.

Every space is a function ``trial -> dict`` whose keys are `RunConfig` fields
(the sampler's own constants go under ``sampler_kwargs``, named as the
sampler's constructor names them). Ranges are chosen for short CPU runs
(tens of epochs, not hundreds): learning rates are higher than the usual
$10^{-3}$ of long GPU schedules.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import optuna

from pyg_negdiff.nn import MODELS

__all__ = ["SpaceFn", "SAMPLER_SPACES", "SearchSpace", "backbone_space", "penalty_space"]

SpaceFn = Callable[[optuna.Trial], dict[str, Any]]


def backbone_space(trial: optuna.Trial, model: str, *, tune_size: bool = True) -> dict[str, Any]:
    """Learning rate, L2 weight and, with ``tune_size``, embedding size and depth.

    Args:
        trial (optuna.Trial): The trial to suggest from.
        model (str): Backbone name; one without layers (``"mf"``) has no depth to tune.
        tune_size (bool): Also suggest ``embedding_dim`` and ``num_layers``.

    Returns:
        dict: ``lr``, ``l2`` (log-uniform) and optionally ``embedding_dim``, ``num_layers``.

    Examples:
        >>> import optuna
        >>> trial = optuna.trial.FixedTrial({"lr": 0.01, "l2": 1e-4})
        >>> backbone_space(trial, "lightgcn", tune_size=False)
        {'lr': 0.01, 'l2': 0.0001}
    """
    params: dict[str, Any] = {
        "lr": trial.suggest_float("lr", 1e-3, 5e-2, log=True),
        "l2": trial.suggest_float("l2", 1e-6, 1e-2, log=True),
    }
    if tune_size:
        params["embedding_dim"] = trial.suggest_categorical("embedding_dim", [32, 64])
        backbone = MODELS.get(model.lower())
        if backbone is None or backbone.has_layers:
            params["num_layers"] = trial.suggest_int("num_layers", 1, 3)
    return params


def _cnsdiff(trial: optuna.Trial) -> dict[str, Any]:
    # How hard the Beta curriculum ends, (1, 9) -> (10 m, 10 (1 - m)), and the contrastive
    # weight: the two constants the diffusion ablation (benchmarks page) tunes for every
    # CNSDiff row. The noise scale and the levels stay at the defaults the ablation chose: a
    # large noise scale moves the negative-anchored candidate onto its positive, where the
    # margin cannot be won (a wider space, searched with a few trials, picked such settings).
    m = trial.suggest_float("final_hardness", 0.1, 0.9)
    return {
        "beta_end": (m * 10.0, (1.0 - m) * 10.0),
        "cl_weight": trial.suggest_float("cl_weight", 0.0, 0.5),
    }


#: Sampler name to the function suggesting its own constants (constructor argument names):
#: DNS's candidate count $M$, AHNS's $\alpha, \beta$, CNSDiff's final curriculum hardness and
#: contrastive weight, ADAR's
#: generation and combination modes and smallest step $t_{\min}$.
SAMPLER_SPACES: dict[str, SpaceFn] = {
    "uniform": lambda trial: {},
    "popularity": lambda trial: {"alpha": trial.suggest_float("alpha", 0.0, 1.0)},
    "dns": lambda trial: {
        "num_candidates": trial.suggest_categorical("num_candidates", [8, 16, 32, 64])
    },
    "mixgcf": lambda trial: {
        "num_candidates": trial.suggest_categorical("num_candidates", [8, 16, 32])
    },
    "ahns": lambda trial: {
        "alpha": trial.suggest_float("alpha", 0.1, 2.0),
        "beta": trial.suggest_float("beta", 0.01, 1.0, log=True),
    },
    "cnsdiff": _cnsdiff,
    "adar": lambda trial: {
        "generation": trial.suggest_categorical("generation", ["forward", "denoise"]),
        "combine": trial.suggest_categorical("combine", ["add", "replace"]),
        "t_min": trial.suggest_int("t_min", 1, 25),
    },
}


def penalty_space(trial: optuna.Trial) -> dict[str, Any]:
    r"""The variance-penalty weight $\lambda$ (log-uniform in $[10^{-2}, 10]$) and the number of environments $K \in [2, 5]$.

    Args:
        trial (optuna.Trial): The trial to suggest from.

    Returns:
        dict: ``penalty_weight`` and ``num_environments``.

    Examples:
        >>> import optuna
        >>> penalty_space(optuna.trial.FixedTrial({"penalty_weight": 0.5, "num_environments": 3}))
        {'penalty_weight': 0.5, 'num_environments': 3}
    """
    return {
        "penalty_weight": trial.suggest_float("penalty_weight", 1e-2, 10.0, log=True),
        "num_environments": trial.suggest_int("num_environments", 2, 5),
    }


class SearchSpace:
    """The search space of one (backbone, sampler) pair, as a callable on a trial.

    Args:
        model (str): Backbone name.
        sampler (str): Sampler name, a key of `SAMPLER_SPACES`.
        tune_penalty (bool): Also search the environment penalty (`penalty_space`).
        tune_backbone (bool): Also search the learning rate and L2 weight.
        tune_size (bool): With ``tune_backbone``, also search embedding size and depth.

    Examples:
        >>> import optuna
        >>> space = SearchSpace("lightgcn", "dns")
        >>> params = space(optuna.trial.FixedTrial({"lr": 1e-3, "l2": 1e-4, "embedding_dim": 32,
        ...                                         "num_layers": 2, "num_candidates": 16}))
        >>> params["sampler_kwargs"], params["num_layers"]
        ({'num_candidates': 16}, 2)
    """

    def __init__(
        self,
        model: str,
        sampler: str,
        *,
        tune_penalty: bool = False,
        tune_backbone: bool = True,
        tune_size: bool = True,
    ) -> None:
        if sampler not in SAMPLER_SPACES:
            raise ValueError(
                f"no search space for sampler {sampler!r}; known: {sorted(SAMPLER_SPACES)}"
            )
        self.model, self.sampler = model, sampler
        self.tune_penalty, self.tune_backbone, self.tune_size = (
            tune_penalty,
            tune_backbone,
            tune_size,
        )

    def __call__(self, trial: optuna.Trial) -> dict[str, Any]:
        """Suggests a partial `RunConfig` as a dict: the backbone and sampler names, the
        sampler's constants (under ``sampler_kwargs``), and the backbone and penalty
        settings that are tuned."""
        params = (
            backbone_space(trial, self.model, tune_size=self.tune_size)
            if self.tune_backbone
            else {}
        )
        params["model"], params["sampler"] = self.model, self.sampler
        params["sampler_kwargs"] = SAMPLER_SPACES[self.sampler](trial)
        if self.tune_penalty:
            params.update(penalty_space(trial))
        return params

    def __repr__(self) -> str:
        return (
            f"SearchSpace(model={self.model!r}, sampler={self.sampler!r}, "
            f"tune_penalty={self.tune_penalty}, tune_backbone={self.tune_backbone}, "
            f"tune_size={self.tune_size})"
        )
