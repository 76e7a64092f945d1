"""Optuna search spaces, objective and study runner.

- `SearchSpace` (per backbone and sampler, `SAMPLER_SPACES`, `penalty_space`) suggests a
  partial `RunConfig`;
- `Objective` trains it, reports validation NDCG@20 per epoch and prunes;
- `load_study` / `run_study` create or resume a study in SQLite or any RDB
  (PostgreSQL for many workers), and `export_best` writes the best configuration.
"""

from pyg_negdiff.tune.objective import Objective
from pyg_negdiff.tune.space import SAMPLER_SPACES, SearchSpace, backbone_space, penalty_space
from pyg_negdiff.tune.study import (
    check_study_attrs,
    default_storage,
    export_best,
    fail_stale_trials,
    finished_trials,
    load_study,
    make_pruner,
    make_storage,
    refuse_distributed,
    run_study,
    running_trials,
)

__all__ = [
    "SearchSpace",
    "SAMPLER_SPACES",
    "backbone_space",
    "penalty_space",
    "Objective",
    "load_study",
    "run_study",
    "export_best",
    "finished_trials",
    "running_trials",
    "fail_stale_trials",
    "check_study_attrs",
    "default_storage",
    "make_storage",
    "make_pruner",
    "refuse_distributed",
]
