import math

import pytest
import torch

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.nn import MF, NGCF, LightGCN
from pyg_negdiff.nn.base import Embeddings
from pyg_negdiff.sampling.adar import ADARSampler
from pyg_negdiff.sampling.base import SamplerState
from pyg_negdiff.train import Trainer

D = 16


def toy(seed=0, U=40, I=120):
    g = torch.Generator().manual_seed(seed)
    users, items = torch.randn(U, D, generator=g), torch.randn(I, D, generator=g)
    pos = torch.stack([torch.randperm(I, generator=g)[:5] for _ in range(U)])
    index = torch.stack([torch.arange(U).repeat_interleave(5), pos.reshape(-1)])
    return Embeddings(users.unsqueeze(1), items.unsqueeze(1)), PairSet(index, U, I), index


def naive_transition(sqrt_ab, s_ui, s_ref):
    """The rule written as a loop over steps, one pair at a time."""
    T = len(sqrt_ab)
    out = []
    for p, r in zip(s_ui.tolist(), s_ref.tolist()):
        if p <= r:
            out.append(1)
            continue
        step = T
        for t in range(1, T + 1):
            if sqrt_ab[t - 1] * p <= r:
                step = t
                break
        out.append(step)
    return out


def test_transition_step_on_hand_made_scores():
    _, pairs, _ = toy()
    sampler = ADARSampler(pairs, num_steps=4)  # sqrt(alpha_bar) = 0.920, 0.703, 0.380, 0.012
    sab = sampler.diffusion.schedule.sqrt_alphas_cumprod[1:]
    cases = [  # (s_ui, s_ref, expected t*)
        (1.0, 0.95, 1),  # ratio above sqrt(ab_1): the first step already crosses
        (1.0, 0.8, 2),  # 0.920 > 0.8 >= 0.703
        (2.0, 1.0, 3),  # ratio 0.5: 0.703 > 0.5 >= 0.380
        (1.0, 0.1, 4),  # only the last step gets below 0.1
        (1.0, 0.001, 4),  # never crosses: clamped to T
        (1.0, -0.5, 4),  # negative reference: no step crosses, T
        (1.0, 1.0, 1),  # tie: the positive is not above the reference
        (0.5, 3.0, 1),  # positive below the reference: hardest step, t = 1
        (-1.0, -0.5, 1),  # same with negative scores
        (-1.0, -3.0, 4),  # s_ui <= 0 above the reference: noise raises the score, never crosses
        (0.0, -1.0, 4),  # s_ui = 0: the expected score stays 0 > s_ref
        (1.0, float(sab[1]), 2),  # exact equality with sqrt(ab_2) counts as crossed
    ]
    s_ui = torch.tensor([c[0] for c in cases])
    s_ref = torch.tensor([c[1] for c in cases])
    got = sampler.transition_step(s_ui, s_ref).tolist()
    assert got == [c[2] for c in cases]
    assert got == naive_transition(sab.tolist(), s_ui, s_ref)


def test_transition_step_matches_the_naive_rule_on_random_scores():
    _, pairs, _ = toy()
    sampler = ADARSampler(pairs)
    g = torch.Generator().manual_seed(0)
    s_ui, s_ref = 2 * torch.randn(5000, generator=g), 2 * torch.randn(5000, generator=g)
    got = sampler.transition_step(s_ui, s_ref)
    sab = sampler.diffusion.schedule.sqrt_alphas_cumprod[1:].tolist()
    assert got.tolist() == naive_transition(sab, s_ui, s_ref)
    assert got.dtype == torch.long and int(got.min()) >= 1 and int(got.max()) <= 50
    # Interior steps are exactly the crossing: above the reference one step before, not at t*.
    sab_t = torch.tensor([1.0] + sab)
    inner = (s_ui > s_ref) & (s_ui > 0) & (got < 50) & (got > 1)
    t = got[inner]
    assert bool((sab_t[t] * s_ui[inner] <= s_ref[inner]).all())
    assert bool((sab_t[t - 1] * s_ui[inner] > s_ref[inner]).all())


def test_forward_negative_sits_at_the_transition_in_expectation():
    # Every user has one non-positive item: the reference, hence t*, is fixed.
    g = torch.Generator().manual_seed(0)
    U, I = 30, 6
    emb = Embeddings(torch.randn(U, 1, D, generator=g), torch.randn(I, 1, D, generator=g))
    free = torch.randint(0, I, (U,), generator=g)
    index = torch.tensor([[u, i] for u in range(U) for i in range(I) if i != free[u]]).t()
    pairs = PairSet(index, U, I)
    # The published forward process (the defaults take its mean instead).
    sampler = ADARSampler(
        pairs, combine="replace", forward_noise=True, gradient="detach", skip_edge_cases=False
    )
    users, pos = index[0], index[1]
    draws = torch.stack(
        [sampler(users, pos, SamplerState(emb, generator=g)).emb for _ in range(400)]
    )
    u, e_i = emb.user[users], emb.item[pos]
    s_ui, s_ref = (u * e_i).sum(-1), (u * emb.item[free[users]]).sum(-1)
    t = sampler.transition_step(s_ui, s_ref)
    sab = sampler.diffusion.schedule.sqrt_alphas_cumprod
    scores = (u * draws).sum(-1)  # [400, B]
    # E[u . x_t] = sqrt(ab_t) s_ui; the noise adds N(0, (1 - ab_t) |u|^2 |e_i|^2 / D).
    std = (1 - sab[t] ** 2).sqrt() * u.norm(dim=-1) * e_i.norm(dim=-1) / math.sqrt(D)
    assert bool(((scores.mean(0) - sab[t] * s_ui).abs() <= 4 * std / math.sqrt(400) + 1e-5).all())
    # ... which is where the positive stops beating the reference (when it does within T steps).
    crossing = (s_ui > s_ref) & (s_ui > 0) & (t < sampler.diffusion.num_steps)
    assert bool(crossing.any())
    assert bool((sab[t] * s_ui <= s_ref + 1e-6)[crossing].all())
    assert bool((sab[t - 1] * s_ui > s_ref)[crossing & (t > 1)].all())
    # Its norm stays the positive's on average (variance-preserving in unit-RMS space).
    ratio = draws.norm(dim=-1).pow(2).mean(0) / e_i.norm(dim=-1).pow(2)
    assert bool(((ratio - 1).abs() < 0.25).all())


def test_combine_modes():
    emb, pairs, index = toy()
    users, pos = index[0, :32], index[1, :32]
    out = ADARSampler(pairs, combine="replace", probe=True)(users, pos, SamplerState(emb))
    assert out.emb.shape == (32, D) and out.items is None and out.probe_items.shape == (32,)
    assert ADARSampler(pairs, combine="replace")(users, pos, SamplerState(emb)).probe_items is None
    out = ADARSampler(pairs, probe=True)(users, pos, SamplerState(emb))  # default: add
    assert out.emb.shape == (32, 2, D)
    assert torch.equal(out.emb[:, 0], emb.item[out.items])
    assert not bool(pairs.contains(users, out.items).any())
    assert out.probe_items.shape == (32, 2) and torch.equal(out.probe_items[:, 0], out.items)
    dist = torch.cdist(out.emb[:, 1], emb.item)
    row, col = pairs.rows(users)
    dist[row, col] = float("inf")  # training positives are not probe candidates
    assert torch.equal(out.probe_items[:, 1], dist.argmin(-1))


def test_forward_mode_has_no_denoiser_and_denoise_mode_learns():
    emb, pairs, index = toy()
    assert ADARSampler(pairs).denoiser is None
    with pytest.raises(ValueError, match="embedding_dim"):
        ADARSampler(pairs, generation="denoise")
    torch.manual_seed(0)
    sampler = ADARSampler(
        pairs, D, generation="denoise", num_steps=20, denoiser_lr=3e-3, dropout=0.2
    )
    assert sampler.denoiser.cond_dim == D  # user-conditioned
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(120):
        pick = torch.randint(0, index.size(1), (256,), generator=g)
        out = sampler(index[0, pick], index[1, pick], SamplerState(emb, generator=g))
        losses.append(out.logs["diffusion_loss"])
    assert sum(losses[-10:]) < sum(losses[:10]) / 2
    assert out.emb.shape == (256, 2, D) and torch.isfinite(out.emb).all()
    assert sampler.denoiser.training  # eval only while sampling
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    sampler.eval()  # no training step: two calls with the same generator agree
    a = sampler(index[0, :16], index[1, :16], SamplerState(emb, generator=g1)).emb
    b = sampler(index[0, :16], index[1, :16], SamplerState(emb, generator=g2)).emb
    assert torch.equal(a, b)


def test_warmup_returns_the_reference():
    emb, pairs, index = toy()
    out = ADARSampler(pairs, warmup_epochs=1)(
        index[0, :8], index[1, :8], SamplerState(emb, epoch=0)
    )
    assert torch.equal(out.emb, emb.item[out.items]) and "transition_step" not in out.logs


def tiny_data():
    g = torch.Generator().manual_seed(0)
    like = torch.rand(30, 40, generator=g) < 0.2
    index = like.nonzero().t()
    n = index.size(1)
    return InteractionData(
        30, 40, {"train": index[:, : int(0.8 * n)], "val": index[:, int(0.8 * n) :]}
    )


@pytest.mark.parametrize("backbone", [LightGCN, NGCF, MF])
@pytest.mark.parametrize("generation,combine", [("forward", "replace"), ("denoise", "add")])
def test_plugs_into_every_backbone_through_the_trainer(backbone, generation, combine):
    data = tiny_data()
    torch.manual_seed(0)
    model = backbone(data.num_users, data.num_items, embedding_dim=8)
    sampler = ADARSampler(
        data.train_pairs(), model.output_dim, generation=generation, combine=combine
    )
    result = Trainer(model, sampler, data, batch_size=64, epochs=2, progress=False).fit()
    assert all(math.isfinite(h.loss) for h in result.history)
    assert 1 <= result.history[-1].sampler_logs["transition_step"] <= 50


def test_dns_reference_is_the_hardest_candidate_and_leaves_fewer_pairs_at_T():
    emb, pairs, index = toy()
    users, pos = index[0], index[1]
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    uniform = ADARSampler(pairs)(users, pos, SamplerState(emb, generator=g()))
    dns = ADARSampler(pairs, reference_pool="dns", pool_candidates=16)
    out = dns(users, pos, SamplerState(emb, generator=g()))
    assert not bool(pairs.contains(users, out.items).any())
    score = lambda items: (emb.user[users, 0] * emb.item[items, 0]).sum(-1)  # noqa: E731
    assert float(score(out.items).mean()) > float(score(uniform.items).mean())
    # a harder reference crosses the positive sooner: fewer pairs where no step meets the rule
    assert out.logs["transition_at_T"] < uniform.logs["transition_at_T"]
    assert dns.num_candidate_items == 16 and "reference_pool='dns'" in repr(dns)


def test_popularity_reference_needs_the_counts_and_the_default_keeps_the_uniform_stream():
    emb, pairs, index = toy()
    with pytest.raises(ValueError, match="needs item_popularity"):
        ADARSampler(pairs, reference_pool="popularity")
    users, pos = index[0, :32], index[1, :32]
    counts = torch.ones(pairs.num_items)
    popular = ADARSampler(pairs, reference_pool="popularity", item_popularity=counts)
    assert popular(users, pos, SamplerState(emb)).emb.shape == (32, 2, D)
    # the uniform pool draws exactly what the sampler's own uniform draw gives
    ref = ADARSampler(pairs)(
        users, pos, SamplerState(emb, generator=torch.Generator().manual_seed(3))
    )
    own = ADARSampler(pairs).uniform_candidates(users, 1, torch.Generator().manual_seed(3))
    assert torch.equal(ref.items, own.squeeze(-1))


def test_a_run_passes_the_popularity_counts_to_the_reference_pool():
    from pyg_negdiff.data.synthetic import make_synthetic
    from pyg_negdiff.experiment import RunConfig, make_trainer

    data = make_synthetic(num_users=60, num_items=80, seed=0)
    config = RunConfig(
        sampler="adar", sampler_kwargs={"reference_pool": "popularity"}, epochs=1, device="cpu"
    )
    trainer = make_trainer(config, data, progress=False)
    # without the run's counts the pool would have refused to build (previous test)
    assert (
        trainer.sampler.pool.pool == "popularity" and trainer.sampler.pool.popularity.alpha == 0.75
    )
    assert trainer.fit().best_epoch == 0
