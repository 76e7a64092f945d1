"""`pyg_negdiff.bench.rows`: rows that tune part of what another row fixes."""

import optuna
import torch

from pyg_negdiff.bench.rows import ADAR_REFERENCE_ROWS, ROWS, resolve_rows
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.experiment import RunConfig
from pyg_negdiff.tune import Objective


def test_the_alpha_row_tunes_the_pool_exponent_and_keeps_the_popularity_pool():
    row = ROWS["cnsdiff-pool-popularity-alpha"]
    base = RunConfig(sampler=row.sampler, sampler_kwargs=dict(row.fixed))
    parts = {"train": torch.tensor([[0, 1], [0, 1]]), "val": torch.tensor([[0], [1]])}
    data = InteractionData(2, 3, parts)
    objective = Objective(data, lambda t: {"sampler_kwargs": row.space(t)}, base)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    alphas = []
    for _ in range(20):
        kwargs = objective.config(study.ask()).sampler_kwargs
        assert kwargs["anchor_pool"] == "popularity" and "cl_weight" in kwargs
        alphas.append(kwargs["pool_alpha"])
    assert 0 <= min(alphas) < 0.25 and 0.75 < max(alphas) <= 1


def test_the_adar_reference_rows_fix_only_the_pool():
    for row in resolve_rows(list(ADAR_REFERENCE_ROWS))[1:]:
        assert row.sampler == "adar" and set(row.fixed) == {"reference_pool"}
        RunConfig(sampler=row.sampler, sampler_kwargs=dict(row.fixed)).validate()
