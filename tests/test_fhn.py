import math

import pytest
import torch

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.nn import LightGCN
from pyg_negdiff.nn.base import Embeddings
from pyg_negdiff.sampling import DNSSampler, FHNRatio, SamplerState, UniformSampler
from pyg_negdiff.train import Trainer


def naive_fhn(reference_pairs, batches):
    """The ratio written as a loop over every sampled negative, with a Python set."""
    truth = set(map(tuple, reference_pairs.t().tolist()))
    hits = count = 0
    for users, items in batches:
        for b, u in enumerate(users.tolist()):
            row = items[b].view(-1).tolist()
            for j in row:
                hits += (u, j) in truth
                count += 1
    return hits / count


def random_case(seed, U=25, I=60, P=300):
    g = torch.Generator().manual_seed(seed)
    ref = torch.stack(
        [torch.randint(0, U, (P,), generator=g), torch.randint(0, I, (P,), generator=g)]
    )
    batches = []
    for k in range(4):
        users = torch.randint(0, U, (50,), generator=g)
        shape = (50,) if k % 2 == 0 else (50, 3)  # [B] and [B, K] negatives mixed
        batches.append((users, torch.randint(0, I, shape, generator=g)))
    return ref, PairSet(ref, U, I), batches


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fhn_ratio_equals_the_naive_loop(seed):
    ref, pairs, batches = random_case(seed)
    metric = FHNRatio(pairs)
    for users, items in batches:
        metric.update(users, items)
    assert metric.count == sum(items.numel() for _, items in batches)
    assert metric.compute() == pytest.approx(naive_fhn(ref, batches), abs=0, rel=1e-12)
    assert 0 < metric.compute() < 1


def test_fhn_reset_and_empty():
    ref, pairs, batches = random_case(0)
    metric = FHNRatio(pairs)
    assert math.isnan(metric.compute()) and metric.hits == 0
    metric.update(*batches[0])
    metric.reset()
    assert math.isnan(metric.compute()) and metric.count == 0
    metric.update(*batches[1])
    assert metric.compute() == pytest.approx(naive_fhn(ref, batches[1:2]))


def test_fhn_rejects_mismatched_shapes():
    _, pairs, _ = random_case(0)
    with pytest.raises(ValueError):
        FHNRatio(pairs).update(torch.tensor([0, 1]), torch.tensor([0, 1, 2]))


def test_fhn_of_all_reference_pairs_is_one():
    ref, pairs, _ = random_case(3)
    metric = FHNRatio(pairs)
    metric.update(ref[0], ref[1])
    assert metric.compute() == 1.0


def test_dns_finds_more_false_hard_negatives_than_uniform():
    """A model that already ranks the held-out likes high: DNS picks them, uniform rarely does."""
    g = torch.Generator().manual_seed(0)
    U, I, D = 40, 200, 8
    user = torch.randn(U, 1, D, generator=g)
    item = torch.randn(I, 1, D, generator=g)
    emb = Embeddings(user, item)
    scores = emb.user @ emb.item.t()
    top = scores.topk(20, dim=1).indices  # each user's 20 best items
    train = torch.stack([torch.arange(U).repeat_interleave(10), top[:, :10].reshape(-1)])
    liked = torch.stack([torch.arange(U).repeat_interleave(10), top[:, 10:].reshape(-1)])
    train_pairs, reference = PairSet(train, U, I), PairSet(liked, U, I)
    ratios = {}
    for name, sampler in (
        ("uniform", UniformSampler(train_pairs)),
        ("dns", DNSSampler(train_pairs, num_candidates=32)),
    ):
        metric = FHNRatio(reference)
        state = SamplerState(emb, generator=torch.Generator().manual_seed(1))
        for _ in range(10):
            out = sampler(train[0], train[1], state)
            metric.update(train[0], out.probe_items)
        ratios[name] = metric.compute()
    base = 10 / (I - 10)
    assert ratios["uniform"] == pytest.approx(base, abs=0.03)
    assert ratios["dns"] > 5 * ratios["uniform"]


def test_fhn_ratio_matches_the_trainer_log(monkeypatch):
    g = torch.Generator().manual_seed(0)
    U, I = 20, 30
    index = (torch.rand(U, I, generator=g) < 0.3).nonzero().t()
    data = InteractionData(U, I, {"train": index})
    held_out = (torch.rand(U, I, generator=g) < 0.3).nonzero().t()
    reference = PairSet(held_out, U, I)
    sampler = DNSSampler(data.train_pairs(), num_candidates=4, num_negatives=2)
    metric = FHNRatio(reference)
    forward = sampler.forward

    def spy(users, pos, state):
        out = forward(users, pos, state)
        metric.update(users, out.probe_items)
        return out

    monkeypatch.setattr(sampler, "forward", spy)
    trainer = Trainer(
        LightGCN(U, I, embedding_dim=8, num_layers=1),
        sampler,
        data,
        batch_size=32,
        epochs=1,
        progress=False,
        fhn_reference=reference,
    )
    stats = trainer.train_epoch(0)
    assert metric.compute() == pytest.approx(stats.fhn_ratio)


def test_expected_fhn_ratio_matches_the_pools_own_draws():
    from pyg_negdiff.sampling import PopularitySampler, expected_fhn_ratio

    g = torch.Generator().manual_seed(0)
    U, I = 40, 60
    train = PairSet(
        torch.stack(
            [torch.randint(0, U, (400,), generator=g), torch.randint(0, I, (400,), generator=g)]
        ),
        U,
        I,
    )
    ref = PairSet(
        torch.stack(
            [torch.randint(0, U, (300,), generator=g), torch.randint(0, I, (300,), generator=g)]
        ),
        U,
        I,
    )
    counts = torch.randint(1, 50, (I,), generator=g).double()
    users = torch.repeat_interleave(torch.arange(U), train.degree()).repeat(200)  # 200 epochs
    # alpha = 0 is uniform sampling (the sampler's own docstring): both through its exact draw.
    for alpha, weights in ((0.0, torch.ones(I)), (1.0, counts)):
        sampler = PopularitySampler(train, counts, alpha=alpha)
        fhn = FHNRatio(ref)
        fhn.update(users, sampler.sample(users, torch.Generator().manual_seed(1)))
        expected = expected_fhn_ratio(weights, train, ref)
        assert abs(fhn.compute() - expected) < 0.1 * expected, (alpha, fhn.compute(), expected)
    with pytest.raises(ValueError, match="non-negative"):
        expected_fhn_ratio(-torch.ones(I), train, ref)
