import pytest
import torch

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.nn.base import Embeddings
from pyg_negdiff.sampling import CNSDiffSampler
from pyg_negdiff.sampling.anchors import AnchorPool
from pyg_negdiff.sampling.base import SamplerState
from pyg_negdiff.sampling.uniform import UniformSampler


def pairs(U=30, I=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    index = torch.unique(
        torch.stack(
            [torch.randint(0, U, (300,), generator=g), torch.randint(0, I, (300,), generator=g)]
        ),
        dim=1,
    )
    return PairSet(index, U, I)


def state(U=30, I=50, D=8, seed=1, generator_seed=5):
    g = torch.Generator().manual_seed(seed)
    emb = Embeddings(torch.randn(U, 1, D, generator=g), torch.randn(I, 1, D, generator=g))
    return SamplerState(emb, generator=torch.Generator().manual_seed(generator_seed))


def test_uniform_pool_is_the_owners_uniform_draw_on_the_same_stream():
    p = pairs()
    owner = UniformSampler(p)
    users = torch.arange(30).repeat(4)
    a = AnchorPool(p, "uniform")(owner, users, state())
    b = owner.uniform_candidates(users, 1, state().generator).squeeze(-1)
    assert torch.equal(a, b)


def test_popularity_pool_follows_n_to_the_alpha_and_never_returns_positives():
    p = pairs()
    pop = torch.arange(1, 51).double()
    pool = AnchorPool(p, "popularity", item_popularity=pop, alpha=1.0)
    users = torch.arange(30).repeat(400)
    items = pool(UniformSampler(p), users, state())
    assert not bool(p.contains(users, items).any())
    counts = torch.bincount(items, minlength=50).double()
    # item 49 is 50x as popular as item 0: drawn far more often (exact ratio varies with masking)
    assert counts[40:].sum() > 5 * counts[:10].sum()


def test_dns_pool_is_the_argmax_of_its_candidates_like_a_loop():
    p = pairs()
    st = state()
    owner = UniformSampler(p)
    users = torch.arange(30)
    chosen = AnchorPool(p, "dns", num_candidates=6)(owner, users, st)
    cand = owner.uniform_candidates(users, 6, state().generator)  # the same stream, redrawn
    for b in range(30):
        scores = [float(st.emb.user[users[b]] @ st.emb.item[j]) for j in cand[b].tolist()]
        assert chosen[b] == cand[b][max(range(6), key=lambda k: scores[k])]


def test_mixture_takes_both_and_bad_options_are_refused():
    p = pairs()
    pool = AnchorPool(p, "mixture", item_popularity=torch.ones(50), mix=1.0)
    assert not pool.subgraph_ready and AnchorPool(p, "dns").subgraph_ready
    with pytest.raises(ValueError, match="needs item_popularity"):
        AnchorPool(p, "popularity")
    with pytest.raises(ValueError, match="anchor_pool must be one of"):
        AnchorPool(p, "hardest")
    with pytest.raises(ValueError, match="pool_mix"):
        AnchorPool(p, "mixture", item_popularity=torch.ones(50), mix=2.0)


def test_cnsdiff_default_is_unchanged_and_pools_change_only_the_anchor():
    p = pairs()
    default = CNSDiffSampler(p, embedding_dim=8)
    assert "anchor_pool" not in repr(default) and default.num_candidate_items == 1
    popular = CNSDiffSampler(
        p, embedding_dim=8, anchor_pool="popularity", item_popularity=torch.ones(50)
    )
    assert "anchor_pool='popularity'" in repr(popular) and not popular.subgraph_ready
    assert (
        CNSDiffSampler(
            p, embedding_dim=8, anchor_pool="dns", pool_candidates=16
        ).num_candidate_items
        == 16
    )
    assert set(popular.state_dict()) == set(default.state_dict())
    out = popular(torch.arange(30), torch.zeros(30, dtype=torch.long), state())
    assert out.emb.shape == (30, 8) and not bool(p.contains(torch.arange(30), out.items).any())


def test_run_config_fills_in_the_popularity_of_a_popularity_pool():
    from pyg_negdiff.data.synthetic import make_synthetic
    from pyg_negdiff.experiment import RunConfig, make_trainer

    data = make_synthetic(num_users=60, num_items=40, seed=0)
    config = RunConfig(
        model="mf",
        embedding_dim=8,
        sampler="cnsdiff",
        epochs=1,
        sampler_kwargs={"anchor_pool": "popularity"},
    )
    trainer = make_trainer(config, data, progress=False)
    assert trainer.sampler.pool.popularity is not None
    trainer.fit()


def test_dns_score_is_the_max_over_fresh_candidates():
    p = pairs()
    st = state()
    owner = UniformSampler(p)
    users = torch.arange(30)
    score = AnchorPool(p, "uniform", num_candidates=5).dns_score(owner, users, st)
    cand = owner.uniform_candidates(users, 5, state().generator)  # the same stream, redrawn
    for b in range(30):
        best = max(float(st.emb.user[b] @ st.emb.item[j]) for j in cand[b].tolist())
        assert abs(float(score[b]) - best) < 1e-5


def test_dns_band_bounds_the_level_by_the_positive_and_dns_score(monkeypatch):
    p = pairs()
    sampler = CNSDiffSampler(p, embedding_dim=8, selection="dns-band", pool_candidates=4)
    assert not sampler.subgraph_ready
    seen = {}

    def band(cands, scores, bound):
        seen["bound"] = bound
        return CNSDiffSampler.select_band(cands, scores, bound)

    monkeypatch.setattr(sampler, "select_band", band)
    monkeypatch.setattr(sampler.pool, "dns_score", lambda owner, users, st: torch.zeros(30))
    st = state()
    users, pos = torch.arange(30), torch.arange(30) % 50
    sampler.train()
    out = sampler(users, pos, st)
    pos_score = (st.emb.user[users] * st.emb.item[pos]).sum(-1).view(-1)
    assert torch.allclose(seen["bound"], torch.minimum(pos_score, torch.zeros(30)), atol=1e-6)
    assert out.emb.shape == (30, 8)
    with pytest.raises(ValueError, match="selection"):
        CNSDiffSampler(p, embedding_dim=8, selection="dns")
