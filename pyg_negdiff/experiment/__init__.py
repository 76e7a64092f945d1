"""From a flat configuration to a trained model: the one recipe the CLI and Optuna share.

`RunConfig` and its checks live in ``config.py``; building the run's model, sampler,
environments, graph and trainer, and `run`, in ``recipe.py``.

The names are imported on first use (PEP 562), so that ``pyg_negdiff.experiment.config`` can be
read without the recipe's torch and PyG imports (the command line's ``--help`` does).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "CONTEXT_ARGUMENTS": "pyg_negdiff.experiment.config",
    "ConfigError": "pyg_negdiff.experiment.config",
    "RunConfig": "pyg_negdiff.experiment.config",
    "build_environments": "pyg_negdiff.experiment.recipe",
    "check_negatives_exist": "pyg_negdiff.experiment.recipe",
    "make_trainer": "pyg_negdiff.experiment.recipe",
    "run": "pyg_negdiff.experiment.recipe",
    "sampler_from_config": "pyg_negdiff.experiment.recipe",
}

__all__ = list(_EXPORTS)

if TYPE_CHECKING:  # static tools see the eager imports
    from pyg_negdiff.experiment.config import (  # noqa: F401
        CONTEXT_ARGUMENTS,
        ConfigError,
        RunConfig,
    )
    from pyg_negdiff.experiment.recipe import (  # noqa: F401
        build_environments,
        check_negatives_exist,
        make_trainer,
        run,
        sampler_from_config,
    )


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # import once
        return value
    raise AttributeError(f"module 'pyg_negdiff.experiment' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
