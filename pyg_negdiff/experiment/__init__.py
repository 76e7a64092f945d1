"""From a flat configuration to a trained model: the one recipe the CLI and Optuna share.

`RunConfig` and its checks live in ``config.py``; building the run's model, sampler,
environments, graph and trainer, and `run`, in ``recipe.py``.
"""

from pyg_negdiff.experiment.config import CONTEXT_ARGUMENTS, ConfigError, RunConfig
from pyg_negdiff.experiment.recipe import (
    build_environments,
    check_negatives_exist,
    make_trainer,
    run,
    sampler_from_config,
)

__all__ = [
    "CONTEXT_ARGUMENTS",
    "ConfigError",
    "RunConfig",
    "build_environments",
    "check_negatives_exist",
    "make_trainer",
    "run",
    "sampler_from_config",
]
