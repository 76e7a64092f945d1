import math

import pytest
import torch

import pyg_negdiff.sampling.candidates as candidates
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.nn import NGCF, LightGCN
from pyg_negdiff.nn.base import Embeddings
from pyg_negdiff.sampling import (
    SAMPLERS,
    AHNSSampler,
    DNSSampler,
    MixGCFSampler,
    NegativeSampler,
    PopularitySampler,
    SamplerState,
    UniformSampler,
    build_sampler,
)
from pyg_negdiff.train import Trainer


def toy(U=12, I=40, degree=6, D=8, layers=1, pooling="mean", seed=0, grad=False):
    """Random embeddings (scores known exactly) and random training positives."""
    g = torch.Generator().manual_seed(seed)
    user = torch.randn(U, layers, D, generator=g)
    item = torch.randn(I, layers, D, generator=g)
    if grad:
        item.requires_grad_(True)
    pos = torch.stack([torch.randperm(I, generator=g)[:degree] for _ in range(U)])
    index = torch.stack([torch.arange(U).repeat_interleave(degree), pos.reshape(-1)])
    return Embeddings(user, item, pooling), PairSet(index, U, I), index


def batch(index, n=None):
    users, pos = index[0], index[1]
    return (users, pos) if n is None else (users[:n], pos[:n])


def popularity(I, seed=0):
    return torch.randint(1, 50, (I,), generator=torch.Generator().manual_seed(seed))


def make(name, pairs, **kwargs):
    if name == "popularity":
        kwargs.setdefault("item_popularity", popularity(pairs.num_items))
    return build_sampler(name, pairs, **kwargs)


HEURISTIC = ["uniform", "popularity", "dns", "mixgcf", "ahns"]


# --------------------------------------------------------------------- DNS
def test_dns_returns_the_argmax_of_its_candidates():
    emb, pairs, index = toy()
    users, pos = batch(index)
    sampler = DNSSampler(pairs, num_candidates=7)
    out = sampler(users, pos, SamplerState(emb, generator=torch.Generator().manual_seed(5)))
    # The candidates are the first draw of the generator: recompute them with the same seed.
    cand = pairs.sample_complement(users, 7, torch.Generator().manual_seed(5))
    scores = emb.score(users, cand)
    expected = cand.gather(1, scores.argmax(1, keepdim=True)).squeeze(1)
    assert torch.equal(out.items, expected)
    assert torch.equal(out.probe_items, out.items)
    assert torch.allclose(out.emb, emb.item[expected])
    assert out.logs["neg_score"] == pytest.approx(float(scores.max(1).values.mean()), rel=1e-5)


def test_dns_with_fixed_candidates(monkeypatch):
    emb, pairs, index = toy()
    users, pos = batch(index, 5)
    cand = pairs.sample_complement(users, 4, torch.Generator().manual_seed(1))
    sampler = DNSSampler(pairs, num_candidates=4)
    monkeypatch.setattr(sampler, "uniform_candidates", lambda u, m, g=None: cand)
    out = sampler(users, pos, SamplerState(emb))
    for b in range(5):  # the rule, one pair at a time
        s = [float(emb.user[users[b]] @ emb.item[j]) for j in cand[b]]
        assert int(out.items[b]) == int(cand[b, max(range(4), key=s.__getitem__)])


def test_dns_mn_picks_within_the_top_n():
    emb, pairs, index = toy()
    users, pos = batch(index)
    users, pos = users.repeat(20), pos.repeat(20)
    sampler = DNSSampler(pairs, num_candidates=10, num_top=3)
    out = sampler(users, pos, SamplerState(emb, generator=torch.Generator().manual_seed(2)))
    cand = pairs.sample_complement(users, 10, torch.Generator().manual_seed(2))
    scores = emb.score(users, cand)
    chosen = emb.score(users, out.items.unsqueeze(1)).squeeze(1)
    third = scores.topk(3, dim=1).values[:, -1]
    assert bool((chosen >= third - 1e-6).all())
    # Not always the argmax: the top-3 are all used, about a third of the time each.
    rank = (scores > chosen.unsqueeze(1) + 1e-6).sum(1)
    freq = torch.bincount(rank, minlength=3).float() / rank.numel()
    assert freq.shape == (3,) and bool((freq > 0.2).all())


def test_dns_m_m_is_uniform_over_candidates_and_validates():
    _, pairs, _ = toy()
    with pytest.raises(ValueError):
        DNSSampler(pairs, num_candidates=4, num_top=5)
    with pytest.raises(ValueError):
        DNSSampler(pairs, num_candidates=0)


def test_dns_gradients_flow_into_the_chosen_item_embeddings():
    emb, pairs, index = toy(grad=True, layers=3)
    users, pos = batch(index, 6)
    out = DNSSampler(pairs, num_candidates=8)(users, pos, SamplerState(emb))
    assert out.emb.requires_grad
    out.emb.sum().backward()
    grad = emb.item_layers.grad.abs().sum((1, 2))
    touched = grad.nonzero().view(-1)
    assert set(touched.tolist()) == set(out.items.tolist())


def test_dns_several_negatives():
    emb, pairs, index = toy()
    users, pos = batch(index)
    out = DNSSampler(pairs, num_candidates=5, num_negatives=3)(
        users, pos, SamplerState(emb, generator=torch.Generator().manual_seed(0))
    )
    assert out.items.shape == (users.numel(), 3) and out.emb.shape == (users.numel(), 3, 8)
    cand = pairs.sample_complement(users, 15, torch.Generator().manual_seed(0)).view(-1, 3, 5)
    scores = emb.score(users, cand.view(-1, 15)).view(-1, 3, 5)
    assert torch.equal(out.items, cand.gather(2, scores.argmax(2, keepdim=True)).squeeze(2))


# -------------------------------------------------------------------- AHNS
def naive_ahns(emb, users, pos, cand, alpha, beta, p, eps):
    """The rule written for one pair at a time, in Python floats."""
    out = []
    for b in range(users.numel()):
        u = emb.user[users[b]]
        base = max(float(u @ emb.item[pos[b]]) + alpha, eps)
        target = beta * base ** (p + 1)
        dist = [abs(float(u @ emb.item[j]) - target) for j in cand[b]]
        out.append(min(dist))
    return out


@pytest.mark.parametrize("p", [-2.0, -1.5, 0.5])
def test_ahns_returns_the_candidate_nearest_its_target(p):
    emb, pairs, index = toy(seed=3)
    users, pos = batch(index)
    sampler = AHNSSampler(pairs, num_candidates=9, alpha=1.0, beta=0.5, p=p)
    out = sampler(users, pos, SamplerState(emb, generator=torch.Generator().manual_seed(4)))
    cand = pairs.sample_complement(users, 9, torch.Generator().manual_seed(4))
    assert bool((out.items.unsqueeze(1) == cand).any(1).all())
    best = naive_ahns(emb, users, pos, cand, 1.0, 0.5, p, sampler.eps)
    target = sampler.target(emb.score(users, pos))
    got = (emb.score(users, out.items.unsqueeze(1)).squeeze(1) - target).abs()
    # Equal distances (ties between duplicates) are fine; float32 vs float64 tolerance.
    assert torch.allclose(got, torch.tensor(best), atol=1e-4, rtol=1e-5)


def test_ahns_low_positive_gets_the_hardest_candidate_and_no_nan():
    emb, pairs, index = toy(seed=1)
    users, pos = batch(index)
    # alpha = -100 drives every base below zero: p = -2 wants the hardest candidate.
    sampler = AHNSSampler(pairs, num_candidates=6, alpha=-100.0, p=-2.0)
    out = sampler(users, pos, SamplerState(emb, generator=torch.Generator().manual_seed(0)))
    cand = pairs.sample_complement(users, 6, torch.Generator().manual_seed(0))
    assert torch.equal(
        emb.score(users, out.items.unsqueeze(1)).squeeze(1), emb.score(users, cand).max(1).values
    )
    assert math.isfinite(out.logs["neg_score"])
    t = AHNSSampler(pairs, p=-2.5).target(torch.tensor([-5.0, float("inf")]))
    assert not bool(t.isnan().any())


def test_ahns_target_falls_as_the_positive_score_rises():
    _, pairs, _ = toy()
    t = AHNSSampler(pairs).target(torch.linspace(-0.5, 5.0, 50))
    assert bool((t[1:] < t[:-1]).all())
    assert float(AHNSSampler(pairs).target(torch.tensor(1.0))) == pytest.approx(0.05)


# ------------------------------------------------------------------ MixGCF
def test_mixgcf_is_a_convex_mix_per_layer(monkeypatch):
    L1, D, M = 3, 5, 6
    emb, pairs, index = toy(layers=L1, D=D, pooling="concat", seed=2)
    users, pos = batch(index, 10)
    cand = pairs.sample_complement(users, M, torch.Generator().manual_seed(9))
    sampler = MixGCFSampler(pairs, num_candidates=M)
    monkeypatch.setattr(sampler, "uniform_candidates", lambda u, m, g=None: cand)
    out = sampler(users, pos, SamplerState(emb, generator=torch.Generator().manual_seed(3)))
    assert out.items is None and out.emb.shape == (10, L1 * D)
    layers = out.emb.detach().view(10, L1, D)
    chosen_per_layer = torch.empty(10, L1, dtype=torch.long)
    for b in range(10):
        u = users[b]
        for l in range(L1):
            p, y = emb.item_layers[pos[b], l], layers[b, l]
            fits = []
            for m in range(M):  # y = a p + (1 - a) c  <=>  y - c = a (p - c)
                c = emb.item_layers[cand[b, m], l]
                d = p - c
                a = float((y - c) @ d / (d @ d))
                fits.append((float((y - c - a * d).norm()), a, m))
            res, a, m = min(fits)
            assert res < 1e-5 and -1e-6 <= a <= 1 + 1e-6
            chosen_per_layer[b, l] = cand[b, m]
            # Hop mixing: with this layer's alpha, no other mixed candidate scores higher.
            e_u = emb.user_layers[u, l]  # concat pooling scores layer by layer
            mixed = [a * p + (1 - a) * emb.item_layers[j, l] for j in cand[b]]
            assert float(e_u @ y) >= max(float(e_u @ x) for x in mixed) - 1e-5
    assert torch.equal(out.probe_items, MixGCFSampler.most_chosen(chosen_per_layer))


def test_mixgcf_mean_pooling_and_gradients():
    emb, pairs, index = toy(layers=4, pooling="mean", grad=True)
    users, pos = batch(index, 8)
    out = MixGCFSampler(pairs, num_candidates=5)(users, pos, SamplerState(emb))
    assert out.emb.shape == (8, 8) and out.probe_items.shape == (8,)
    out.emb.sum().backward()
    touched = set(emb.item_layers.grad.abs().sum((1, 2)).nonzero().view(-1).tolist())
    assert set(pos.tolist()) <= touched  # the positive is mixed in at every layer


def test_mixgcf_alpha_per_candidate_and_several_negatives():
    emb, pairs, index = toy(layers=2)
    users, pos = batch(index)
    out = MixGCFSampler(pairs, num_candidates=4, num_negatives=2, mix_per_candidate=True)(
        users, pos, SamplerState(emb, generator=torch.Generator().manual_seed(0))
    )
    assert out.emb.shape == (users.numel(), 2, 8) and out.probe_items.shape == (users.numel(), 2)


def test_mixgcf_most_chosen_breaks_ties_at_the_deepest_layer():
    chosen = torch.tensor([[3, 3, 5, 5], [1, 2, 2, 1], [7, 7, 7, 0], [9, 8, 6, 4]])
    assert MixGCFSampler.most_chosen(chosen).tolist() == [5, 1, 7, 4]


# -------------------------------------------------------------- popularity
def chi_square(counts, probs):
    n = counts.sum()
    mask = probs > 0
    expected = n * probs[mask]
    return float(((counts[mask] - expected) ** 2 / expected).sum()), int(mask.sum()) - 1


@pytest.mark.parametrize("max_rounds", [8, 0])  # 0: every rejected draw takes the exact fallback
def test_popularity_frequencies_follow_pop_to_the_alpha(max_rounds):
    I = 20
    pop = torch.arange(1, I + 1) ** 2
    # user 0 holds the three most popular items: many rejections; user 1 holds few.
    index = torch.tensor([[0, 0, 0, 1, 1], [19, 18, 17, 0, 5]])
    pairs = PairSet(index, 2, I)
    sampler = PopularitySampler(pairs, pop, alpha=0.75, max_rounds=max_rounds)
    g = torch.Generator().manual_seed(0)
    for u in (0, 1):
        items = sampler.sample(torch.full((20000,), u), g)
        assert not bool(pairs.contains(torch.full_like(items, u), items).any())
        counts = torch.bincount(items, minlength=I).double()
        probs = pop.double() ** 0.75
        probs[index[1, index[0] == u]] = 0
        probs /= probs.sum()
        stat, dof = chi_square(counts, probs)
        assert stat < dof + 6 * math.sqrt(2 * dof)  # mean dof, sd sqrt(2 dof)
        assert torch.allclose(
            sampler.probabilities(torch.tensor([u]))[0].double(), probs, atol=1e-6
        )


def test_popularity_zero_counts_and_empty_mass():
    pop = torch.tensor([0, 0, 5, 7])
    pairs = PairSet(torch.tensor([[0, 0, 1], [2, 3, 0]]), 2, 4)
    sampler = PopularitySampler(pairs, pop, alpha=1.0, max_rounds=2)
    g = torch.Generator().manual_seed(0)
    # User 1 never gets items 0 or 1 (count 0); user 0 has only zero-count items left: uniform.
    items1 = sampler.sample(torch.ones(500, dtype=torch.long), g)
    assert set(items1.tolist()) <= {2, 3}
    items0 = sampler.sample(torch.zeros(2000, dtype=torch.long), g)
    share = (items0 == 0).float().mean().item()
    assert set(items0.tolist()) == {0, 1} and 0.45 < share < 0.55
    with pytest.raises(ValueError):
        PopularitySampler(pairs, torch.zeros(4))
    with pytest.raises(ValueError):
        PopularitySampler(pairs, torch.ones(3))


def test_popularity_alpha_zero_is_uniform():
    _, pairs, _ = toy()
    sampler = PopularitySampler(pairs, popularity(pairs.num_items), alpha=0.0)
    probs = sampler.probabilities(torch.arange(pairs.num_users))
    free = pairs.complement_counts(torch.arange(pairs.num_users)).float()
    assert torch.allclose(probs.max(1).values, 1 / free)


# ----------------------------------------------------------------- common
@pytest.mark.parametrize("name", HEURISTIC)
def test_never_returns_a_training_positive(name):
    # Dense: each user holds 24 of 30 items, so a careless sampler would hit positives often.
    emb, pairs, index = toy(U=10, I=30, degree=24, layers=3, seed=7)
    sampler = make(
        name, pairs, **({"num_candidates": 8} if name in ("dns", "mixgcf", "ahns") else {})
    )
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        users, pos = index[0].repeat(4), index[1].repeat(4)
        out = sampler(users, pos, SamplerState(emb, generator=g))
        probe = out.probe_items
        assert probe is not None and probe.shape == users.shape
        assert not bool(pairs.contains(users, probe).any())
        if out.items is not None:
            assert torch.equal(out.items, probe)


@pytest.mark.parametrize("name", HEURISTIC)
def test_deterministic_under_a_seeded_generator(name):
    emb, pairs, index = toy(layers=2)
    users, pos = batch(index)
    sampler = make(name, pairs)
    runs = [
        sampler(users, pos, SamplerState(emb, generator=torch.Generator().manual_seed(s)))
        for s in (11, 11, 12)
    ]
    assert torch.equal(runs[0].emb, runs[1].emb) and torch.equal(
        runs[0].probe_items, runs[1].probe_items
    )
    assert not torch.equal(runs[0].probe_items, runs[2].probe_items)


def test_registry_and_factory():
    _, pairs, _ = toy()
    assert set(HEURISTIC) <= set(SAMPLERS)
    assert all(issubclass(cls, NegativeSampler) for cls in SAMPLERS.values())
    assert isinstance(build_sampler("Uniform", pairs), UniformSampler)
    assert build_sampler("ahns", pairs, p=-3).p == -3
    with pytest.raises(ValueError, match="unknown-sampler"):
        build_sampler("unknown-sampler", pairs)
    with pytest.raises(TypeError):
        build_sampler("dns", pairs, num_candidatez=3)


@pytest.mark.parametrize(
    "name, backbone",
    [
        ("popularity", LightGCN),
        ("dns", LightGCN),
        ("ahns", LightGCN),
        ("mixgcf", LightGCN),
        ("mixgcf", NGCF),
    ],
)
def test_trains_one_epoch_with_a_real_backbone(name, backbone):
    g = torch.Generator().manual_seed(0)
    U, I = 30, 40
    like = torch.rand(U, I, generator=g) < 0.2
    index = like.nonzero().t()
    data = InteractionData(U, I, {"train": index})
    model = backbone(U, I, embedding_dim=8, num_layers=2)
    kwargs = {"item_popularity": data.item_popularity()} if name == "popularity" else {}
    sampler = build_sampler(name, data.train_pairs(), num_negatives=2, **kwargs)
    trainer = Trainer(
        model,
        sampler,
        data,
        batch_size=64,
        epochs=1,
        progress=False,
        fhn_reference=data.train_pairs(),
    )
    stats = trainer.train_epoch(0)
    assert math.isfinite(stats.loss)
    assert stats.fhn_ratio == 0.0  # the training positives are never drawn


@pytest.mark.parametrize("name", ["dns", "ahns", "mixgcf"])
@pytest.mark.parametrize("pooling", ["mean", "concat"])
def test_blocked_scoring_gives_the_same_negatives(name, pooling, monkeypatch):
    emb, pairs, index = toy(layers=3, pooling=pooling)
    users, pos = batch(index)
    sampler = make(name, pairs, num_negatives=2)
    whole = sampler(users, pos, SamplerState(emb, generator=torch.Generator().manual_seed(0)))
    monkeypatch.setattr(candidates, "CHUNK_SIZE", 1)  # one row per block
    rows = sampler(users, pos, SamplerState(emb, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(whole.probe_items, rows.probe_items)
    assert torch.allclose(whole.emb, rows.emb)
