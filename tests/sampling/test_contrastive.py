"""`pyg_negdiff.sampling.contrastive.info_nce_loss`: CNSDiff's contrastive term."""

import math

import pytest
import torch

from pyg_negdiff.sampling.contrastive import info_nce_loss


def test_pair_scope_matches_the_formula_by_hand():
    pos = torch.tensor([[1.0, 0.0]])
    rand = torch.tensor([[0.0, 1.0]])  # cos 0
    hard = torch.tensor([[1.0, 1.0]])  # cos 1/sqrt(2)
    loss = info_nce_loss(pos, hard, rand, positive_noise=0.0, temperature=0.5)
    logits = torch.tensor([1.0, 1 / math.sqrt(2), 0.0]) / 0.5
    assert loss.item() == pytest.approx(-torch.log_softmax(logits, 0)[0].item(), abs=1e-6)


def test_batch_scope_contrasts_with_every_negative_of_the_batch():
    g = torch.Generator().manual_seed(0)
    pos, hard, rand = (torch.randn(5, 4, generator=g) for _ in range(3))
    pair = info_nce_loss(pos, hard, rand, positive_noise=0.0, temperature=1.0)
    batch = info_nce_loss(pos, hard, rand, positive_noise=0.0, temperature=1.0, scope="batch")
    assert batch.item() > pair.item()  # 10 negatives per row instead of 2


def test_the_view_noise_comes_from_the_generator():
    pos, rand = torch.randn(3, 4), torch.randn(3, 4)
    a, b = (
        info_nce_loss(
            pos,
            None,
            rand,
            positive_noise=0.5,
            temperature=1.0,
            generator=torch.Generator().manual_seed(1),
        )
        for _ in range(2)
    )
    assert a.item() == b.item()
