import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.nn import MF, NGCF, LightGCN
from pyg_negdiff.nn.base import Embeddings
from pyg_negdiff.sampling.base import SamplerState
from pyg_negdiff.sampling.cnsdiff import CNSDiffSampler, sample_beta
from pyg_negdiff.sampling.diffusion_base import nearest_items, to_unit_rms
from pyg_negdiff.train import Trainer

D = 16


def toy(seed=0, U=40, I=120, clusters=6):
    """Clustered item rows of very different norms, random users, 5 positives per user."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(clusters, D, generator=g)
    items = centers[torch.randint(0, clusters, (I,), generator=g)] + 0.15 * torch.randn(
        I, D, generator=g
    )
    items = items * torch.empty(I, 1).uniform_(0.05, 3.0, generator=g)
    users = torch.randn(U, D, generator=g)
    pos = torch.stack([torch.randperm(I, generator=g)[:5] for _ in range(U)])
    index = torch.stack([torch.arange(U).repeat_interleave(5), pos.reshape(-1)])
    return Embeddings(users.unsqueeze(1), items.unsqueeze(1)), PairSet(index, U, I), index


def batch(index, size, g):
    pick = torch.randint(0, index.size(1), (size,), generator=g)
    return index[0, pick], index[1, pick]


def trained_sampler(steps=150, **kwargs):
    torch.manual_seed(0)
    emb, pairs, index = toy()
    sampler = CNSDiffSampler(pairs, D, denoiser_lr=3e-3, **kwargs)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(steps):
        users, pos = batch(index, 256, g)
        out = sampler(users, pos, SamplerState(emb, generator=g))
        losses.append(out.logs["diffusion_loss"])
    return sampler, emb, index, losses


@pytest.fixture(scope="module")
def trained():
    return trained_sampler()


def test_denoiser_loss_falls_during_training(trained):
    _, _, _, losses = trained
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < first / 5, (first, last)


def test_joint_training_learns_through_the_trainers_optimizer():
    emb, pairs, index = toy()
    torch.manual_seed(0)
    sampler = CNSDiffSampler(pairs, D, denoiser_training="joint")
    params = list(sampler.joint_parameters())
    assert len(params) == len(list(sampler.denoiser.parameters()))
    opt = torch.optim.Adam(params, lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(150):
        users, pos = batch(index, 256, g)
        out = sampler(users, pos, SamplerState(emb, generator=g))
        opt.zero_grad()
        out.aux_loss.backward()
        opt.step()
        losses.append(out.logs["diffusion_loss"])
    assert sum(losses[-10:]) < sum(losses[:10]) / 5
    # Alternate mode keeps its denoiser away from the trainer's optimizer.
    assert list(CNSDiffSampler(pairs, D).joint_parameters()) == []


def test_joint_term_counts_with_its_weight_but_trains_at_full_strength():
    emb, pairs, index = toy()
    users, pos = batch(index, 64, torch.Generator().manual_seed(0))
    grads = []
    for weight in (1e-6, 1.0):
        torch.manual_seed(0)
        sampler = CNSDiffSampler(
            pairs,
            D,
            denoiser_training="joint",
            diffusion_weight=weight,
            cl_weight=0.0,
            warmup_epochs=1,
        )
        out = sampler(users, pos, SamplerState(emb, generator=torch.Generator().manual_seed(1)))
        assert out.aux_loss.item() == pytest.approx(weight * out.logs["diffusion_loss"], rel=1e-5)
        out.aux_loss.backward()
        grads.append(sampler.denoiser.out.weight.grad.clone())
    assert torch.allclose(grads[0], grads[1])


def test_joint_mode_warns_when_nothing_steps_the_denoiser():
    emb, pairs, index = toy()
    sampler = CNSDiffSampler(pairs, D, denoiser_training="joint")
    users, pos = batch(index, 32, torch.Generator().manual_seed(0))
    sampler.start_epoch(0, 2)
    sampler(users, pos, SamplerState(emb))
    with pytest.warns(UserWarning, match="did not change"):
        sampler.start_epoch(1, 2)


def test_synthesized_negatives_depend_on_their_positive(trained):
    sampler, emb, index, _ = trained
    users, pos = batch(index, 512, torch.Generator().manual_seed(7))
    x0, _ = to_unit_rms(emb.item[pos])
    cands = sampler.candidates(x0, generator=torch.Generator().manual_seed(0))
    own = F.cosine_similarity(cands, x0.unsqueeze(0), dim=-1)  # [K, B]
    shuffled = F.cosine_similarity(cands, x0[torch.randperm(512)].unsqueeze(0), dim=-1)
    random = F.cosine_similarity(torch.randn_like(x0), x0, dim=-1)
    assert own.mean() > 0.9 and random.abs().mean() < 0.25
    assert own.mean() > shuffled.mean() + 0.4  # not one batch-wide direction


def test_start_step_controls_the_distance(trained):
    sampler, emb, index, _ = trained
    _, pos = batch(index, 1024, torch.Generator().manual_seed(3))
    x0, _ = to_unit_rms(emb.item[pos])
    cands = sampler.candidates(x0, generator=torch.Generator().manual_seed(0))
    distance = ((cands - x0).norm(dim=-1) / x0.norm(dim=-1)).mean(-1)  # per level 10, 14, 18
    assert sampler.levels == [10, 14, 18]
    assert bool((distance[1:] > distance[:-1] + 0.01).all()), distance
    assert distance[0] > 0.1 and distance[-1] / distance[0] > 1.15, distance


def test_denoiser_is_in_eval_mode_while_sampling():
    emb, pairs, index = toy()
    sampler = CNSDiffSampler(pairs, D, dropout=0.5)
    x0, _ = to_unit_rms(emb.item[:8])
    sampler.train()
    a = sampler.candidates(x0, generator=torch.Generator().manual_seed(0))
    b = sampler.candidates(x0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)  # dropout off
    assert sampler.denoiser.training  # mode restored


def test_chosen_candidate_is_the_argmax_of_the_scores():
    emb, pairs, index = toy()
    # A Beta concentrated at 1 and no floor: the negative is the chosen candidate itself.
    sampler = CNSDiffSampler(
        pairs,
        D,
        beta_start=(1e6, 1e-6),
        beta_end=(1e6, 1e-6),
        min_random_share=0.0,
        anchor="positive",
        gradient="detach",
    )
    seen = {}
    candidates = sampler.candidates

    def spy(*args, **kwargs):
        seen["c"] = candidates(*args, **kwargs)
        return seen["c"]

    sampler.candidates = spy
    users, pos = batch(index, 64, torch.Generator().manual_seed(0))
    out = sampler(users, pos, SamplerState(emb, generator=torch.Generator().manual_seed(0)))
    _, scale = to_unit_rms(emb.item[pos])
    cands = seen["c"] * scale
    scores = torch.stack([(emb.user[users] * c).sum(-1) for c in cands])  # naive loop over levels
    best = scores.argmax(0)
    expected = torch.stack([cands[best[b], b] for b in range(64)])
    assert torch.allclose(out.emb, expected, atol=1e-5)
    assert out.logs["hard_score"] == pytest.approx(scores.max(0).values.mean().item(), rel=1e-4)


def test_select_hardest_on_hand_made_scores():
    c = torch.randn(3, 4, 2)
    s = torch.tensor([[0.0, 9.0, -1.0, 2.0], [1.0, 0.0, -3.0, 2.5], [0.5, 1.0, -2.0, 0.0]])
    hard, k = CNSDiffSampler.select_hardest(c, s)
    assert k.tolist() == [1, 0, 0, 1]
    assert torch.equal(hard, torch.stack([c[1, 0], c[0, 1], c[0, 2], c[1, 3]]))


def test_beta_schedule_moves_as_documented():
    emb, pairs, _ = toy()
    sampler = CNSDiffSampler(pairs, D)
    assert sampler.beta_params(0.0) == (1.0, 9.0)
    assert sampler.beta_params(0.5) == (5.0, 5.0)
    assert sampler.beta_params(1.0) == (9.0, 1.0)
    g = torch.Generator().manual_seed(0)
    means = []
    for progress in (0.0, 0.25, 0.5, 0.75, 1.0):
        lam = sampler.mix_ratio(20000, progress, g)
        a, b = sampler.beta_params(progress)
        assert lam.mean().item() == pytest.approx(0.9 * a / (a + b), abs=0.01)
        assert lam.max().item() <= 0.9  # at least 10 % of the random negative
        means.append(lam.mean().item())
    assert means == sorted(means)
    # The trainer's progress drives it: epoch 0 of 5 -> (1, 9), epoch 4 of 5 -> (9, 1).
    assert SamplerState(emb, epoch=4, num_epochs=5).progress == 1.0


def test_sample_beta_matches_its_moments_and_generator():
    g = torch.Generator().manual_seed(0)
    x = sample_beta(2.0, 5.0, 50000, g)
    assert x.mean().item() == pytest.approx(2 / 7, abs=0.005)
    assert x.var().item() == pytest.approx(2 * 5 / (7**2 * 8), abs=0.002)
    assert torch.equal(
        sample_beta(1.0, 9.0, 10, torch.Generator().manual_seed(3)),
        sample_beta(1.0, 9.0, 10, torch.Generator().manual_seed(3)),
    )


def test_warmup_samples_uniformly_and_keeps_training_the_denoiser():
    emb, pairs, index = toy()
    sampler = CNSDiffSampler(pairs, D, warmup_epochs=2, probe=True)
    users, pos = batch(index, 64, torch.Generator().manual_seed(0))
    out = sampler(users, pos, SamplerState(emb, epoch=1, num_epochs=10))
    assert torch.equal(out.emb, emb.item[out.items]) and torch.equal(out.probe_items, out.items)
    assert not bool(pairs.contains(users, out.items).any())
    assert "diffusion_loss" in out.logs and "mix_ratio" not in out.logs
    out = sampler(users, pos, SamplerState(emb, epoch=2, num_epochs=10))
    assert "mix_ratio" in out.logs


def test_probe_reports_the_nearest_real_item():
    emb, pairs, index = toy()
    users, pos = batch(index, 32, torch.Generator().manual_seed(0))
    out = CNSDiffSampler(pairs, D)(users, pos, SamplerState(emb))
    assert out.probe_items is None  # the mix is not its random item
    assert out.items is not None and out.items.shape == (32,)
    out = CNSDiffSampler(pairs, D, probe=True)(users, pos, SamplerState(emb))
    # Brute force, one row at a time: the nearest item the user has no training pair with.
    brute = []
    for b in range(32):
        dist = (emb.item - out.emb[b].detach()).norm(dim=-1)
        dist[pairs.contains(users[b].expand(emb.item.size(0)), torch.arange(emb.item.size(0)))] = (
            float("inf")
        )
        brute.append(int(dist.argmin()))
    assert out.probe_items.tolist() == brute
    assert torch.equal(
        nearest_items(out.emb, emb.item, users, pairs, chunk_size=500), out.probe_items
    )  # blockwise
    assert torch.equal(nearest_items(emb.item[pos], emb.item), pos)  # without exclusion: itself


def test_contrastive_term_is_infonce():
    emb, pairs, index = toy()
    sampler = CNSDiffSampler(pairs, D, positive_noise=0.0)
    pos, hard, rand = emb.item[:5], torch.randn(5, D), torch.randn(5, D)
    loss = sampler.contrastive_loss(pos, hard, rand)
    expected = 0.0
    for b in range(5):  # naive per-pair InfoNCE, positive view = the row itself
        logits = (
            torch.stack([F.cosine_similarity(pos[b], v, dim=0) for v in (pos[b], hard[b], rand[b])])
            / 2.0
        )
        expected += -torch.log_softmax(logits, 0)[0] / 5
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    sampler.contrast_scope = "batch"
    logits = (
        torch.cat(
            [
                F.cosine_similarity(pos, pos).unsqueeze(1),
                F.cosine_similarity(pos.unsqueeze(1), torch.cat([hard, rand]).unsqueeze(0), dim=-1),
            ],
            1,
        )
        / 2.0
    )
    assert sampler.contrastive_loss(pos, hard, rand).item() == pytest.approx(
        F.cross_entropy(logits, torch.zeros(5, dtype=torch.long)).item(), rel=1e-5
    )


def test_save_reload_gives_the_same_negatives(trained):
    sampler, emb, index, _ = trained
    state = sampler.state_dict()
    other = CNSDiffSampler(sampler.train_pairs, D)
    other.load_state_dict(state)
    x0, _ = to_unit_rms(emb.item[:16])
    assert torch.equal(
        sampler.candidates(x0, generator=torch.Generator().manual_seed(0)),
        other.candidates(x0, generator=torch.Generator().manual_seed(0)),
    )


def tiny_data():
    g = torch.Generator().manual_seed(0)
    U, I = 30, 40
    like = torch.rand(U, I, generator=g) < 0.2
    index = like.nonzero().t()
    index = index[:, torch.randperm(index.size(1), generator=g)]
    n = index.size(1)
    return InteractionData(
        U, I, {"train": index[:, : int(0.8 * n)], "val": index[:, int(0.8 * n) :]}
    )


@pytest.mark.parametrize("backbone", [LightGCN, NGCF, MF])
@pytest.mark.parametrize("mode", ["alternate", "joint"])
def test_plugs_into_every_backbone_through_the_trainer(backbone, mode):
    data = tiny_data()
    torch.manual_seed(0)
    model = backbone(data.num_users, data.num_items, embedding_dim=8)
    sampler = CNSDiffSampler(data.train_pairs(), model.output_dim, denoiser_training=mode)
    before = [p.detach().clone() for p in sampler.denoiser.parameters()]
    trainer = Trainer(model, sampler, data, batch_size=64, epochs=2, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # in particular: no "denoiser did not change"
        result = trainer.fit()
    assert all(math.isfinite(h.loss) for h in result.history)
    assert "mix_ratio" in result.history[-1].sampler_logs
    assert any(not torch.equal(a, b) for a, b in zip(before, sampler.denoiser.parameters()))
