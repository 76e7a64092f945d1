"""Optuna search spaces, objective and study runner."""
from pyg_negdiff.tune.objective import Objective
from pyg_negdiff.tune.space import SAMPLER_SPACES, SearchSpace, backbone_space, penalty_space
from pyg_negdiff.tune.study import (
    default_storage,
    export_best,
    finished_trials,
    load_study,
    make_pruner,
    make_storage,
    run_study,
)

__all__ = [
    "SearchSpace", "SAMPLER_SPACES", "backbone_space", "penalty_space", "Objective",
    "load_study", "run_study", "export_best", "finished_trials", "default_storage", "make_storage",
    "make_pruner",
]
