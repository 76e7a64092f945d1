"""`pyg_negdiff.sampling.level_selection`: CNSDiff's rules for picking one level per pair."""

import torch

from pyg_negdiff.sampling.cnsdiff import CNSDiffSampler
from pyg_negdiff.sampling.level_selection import gather_levels, select_band, select_hardest


def test_gather_levels_picks_row_b_of_level_index_b():
    c = torch.arange(12.0).view(3, 2, 2)  # [K=3, B=2, D=2]
    rows, index = gather_levels(c, torch.tensor([2, 0]))
    assert rows.tolist() == [[8.0, 9.0], [2.0, 3.0]] and index.tolist() == [2, 0]


def test_band_prefers_the_highest_candidate_below_the_positive():
    c = torch.randn(4, 3, 5)
    scores = torch.tensor([[0.1, 0.9, 2.0], [0.5, 0.2, 3.0], [0.3, 1.5, 4.0], [2.0, 0.0, 5.0]])
    _, k = select_band(c, scores, torch.tensor([1.0, 1.0, 1.0]))
    # pair 0: 0.5 is the highest below 1; pair 1: 0.9; pair 2: none below, so the lowest (2.0)
    assert k.tolist() == [1, 0, 0]
    _, k = select_hardest(c, scores)
    assert k.tolist() == [3, 2, 3]


def test_the_sampler_keeps_them_as_static_methods():
    assert CNSDiffSampler.select_hardest is select_hardest
    assert CNSDiffSampler.select_band is select_band
