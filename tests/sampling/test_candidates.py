import pytest
import torch

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.nn.base import Embeddings
from pyg_negdiff.sampling import AHNSSampler, DNSSampler, MixGCFSampler, SamplerState
from pyg_negdiff.sampling.candidates import (
    CandidateSampler,
    block_size,
    draw_candidates,
    gather_rows,
    score_candidates,
)


def pairs():
    return PairSet(torch.tensor([[0, 0, 1], [0, 1, 2]]), num_users=2, num_items=8)


@pytest.mark.parametrize("cls", [DNSSampler, AHNSSampler, MixGCFSampler])
def test_the_candidate_samplers_share_the_base(cls):
    sampler = cls(pairs(), num_candidates=5, num_negatives=3)
    assert isinstance(sampler, CandidateSampler)
    assert sampler.num_candidate_items == 15
    with pytest.raises(ValueError, match="num_candidates and num_negatives must be >= 1"):
        cls(pairs(), num_candidates=0)


def test_draw_matches_the_function_and_never_returns_a_positive():
    sampler = DNSSampler(pairs(), num_candidates=6, num_negatives=2)
    users = torch.tensor([0, 1, 0])
    a = sampler.draw(users, torch.Generator().manual_seed(3))
    b = draw_candidates(sampler, users, 2, 6, torch.Generator().manual_seed(3))
    assert a.shape == (3, 2, 6) and torch.equal(a, b)
    positives = {(0, 0), (0, 1), (1, 2)}
    assert not any((int(u), int(i)) in positives for u, row in zip(users, a) for i in row.flatten())


def test_blocked_scores_equal_a_naive_loop():
    emb = Embeddings(torch.randn(2, 1, 4), torch.randn(8, 1, 4))
    users = torch.tensor([0, 1, 1])
    cand = torch.randint(8, (3, 2, 5), generator=torch.Generator().manual_seed(0))
    scores = score_candidates(SamplerState(emb), users, cand, chunk_size=1)
    naive = torch.stack(
        [torch.stack([emb.item[row] @ emb.user[u] for row in c]) for u, c in zip(users, cand)]
    )
    assert torch.allclose(scores, naive)
    assert torch.equal(gather_rows(emb.item, cand), emb.item[cand])
    assert block_size(7, 1) == 1 and block_size(2, 9) == 4
