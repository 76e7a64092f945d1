"""pyg_negdiff.sampling.diffusion_base: what the diffusion samplers share."""

import pytest
import torch

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.sampling.base import NegativeSample, SamplerState
from pyg_negdiff.sampling.diffusion_base import DiffusionSampler, nearest_items, to_unit_rms
from pyg_negdiff.sampling.diffusion_config import DiffusionConfig


class Plain(DiffusionSampler):
    """The base alone: uniform negatives, the denoiser trained on the positives' rows."""

    def forward(self, users, pos_items, state):
        cond = self.condition(None, state)
        x0 = to_unit_rms(state.emb.item[pos_items])[0]
        aux, logs = self.fit_denoiser(x0, cond, state.generator)
        items = self.uniform_candidates(users, 1, state.generator)[:, 0]
        return NegativeSample(emb=state.emb.item[items], items=items, aux_loss=aux, logs=logs)


def pairs() -> PairSet:
    return PairSet(torch.tensor([[0, 0, 1, 2], [0, 1, 2, 3]]), num_users=3, num_items=6)


def state(seed: int = 0) -> SamplerState:
    from pyg_negdiff.nn.base import Embeddings

    g = torch.Generator().manual_seed(seed)
    emb = Embeddings(torch.randn(3, 1, 8, generator=g), torch.randn(6, 1, 8, generator=g))
    return SamplerState(emb, generator=torch.Generator().manual_seed(seed))


def test_to_unit_rms_gives_unit_rows_and_their_scale():
    x = torch.randn(5, 8) * torch.tensor([[0.1], [1.0], [10.0], [100.0], [3.0]])
    z, r = to_unit_rms(x)
    assert torch.allclose(z.pow(2).mean(-1), torch.ones(5))
    assert torch.allclose(z * r, x) and r.shape == (5, 1)
    assert torch.isfinite(to_unit_rms(torch.zeros(1, 4))[0]).all()  # a zero row stays finite


@pytest.mark.parametrize("chunk_size", [2**22, 7])
def test_nearest_items_equals_a_naive_loop(chunk_size):
    g = torch.Generator().manual_seed(0)
    query, items = torch.randn(9, 4, generator=g), torch.randn(6, 4, generator=g)
    users = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2])
    exclude = pairs()
    got = nearest_items(query, items, users, exclude, chunk_size=chunk_size)
    for n in range(query.size(0)):
        distance = (items - query[n]).pow(2).sum(-1)
        distance[exclude.contains(users[n].expand(6), torch.arange(6))] = float("inf")
        assert got[n] == distance.argmin()
    plain = nearest_items(query, items)
    assert torch.equal(plain, torch.cdist(query, items).argmin(-1))


def test_the_schedule_process_and_denoiser_come_from_one_config():
    config = DiffusionConfig(num_steps=7, schedule="linear", hidden_channels=16, reverse_steps=3)
    sampler = Plain(pairs(), config, embedding_dim=8)
    assert sampler.diffusion.schedule.num_steps == 7
    assert sampler.diffusion_config is config
    assert sampler.reverse_steps == 3 and sampler.denoiser is not None
    assert sampler.env_embedding is None
    assert (
        repr(sampler)
        == "Plain(num_steps=7, schedule='linear', reverse_steps=3, hidden_channels=16)"
    )
    assert Plain(pairs(), config).denoiser is None  # no embedding size: nothing to denoise
    with pytest.raises(ValueError, match="needs a denoiser"):
        Plain(pairs(), config.replace(num_environments=2))


@pytest.mark.parametrize("mode", ["alternate", "joint", "frozen"])
def test_each_denoiser_training_mode(mode):
    sampler = Plain(pairs(), DiffusionConfig(num_steps=5, denoiser_training=mode), embedding_dim=8)
    before = [p.detach().clone() for p in sampler.denoiser_parameters()]
    users, pos = torch.tensor([0, 1, 2]), torch.tensor([0, 2, 3])
    out = sampler(users, pos, state())
    joint = list(sampler.joint_parameters())
    if mode == "joint":
        assert joint == list(sampler.denoiser_parameters())
        out.aux_loss.backward()  # the trainer's optimizer would step these gradients
        assert all(p.grad is not None for p in joint)
    else:
        assert joint == []
    changed = any(not torch.equal(a, b) for a, b in zip(before, sampler.denoiser_parameters()))
    assert changed == (mode == "alternate")  # alternate steps its own Adam inside forward
    assert (out.aux_loss is None) == (mode == "frozen")


def test_nothing_is_trained_outside_training_mode():
    sampler = Plain(pairs(), DiffusionConfig(num_steps=5), embedding_dim=8).eval()
    before = [p.detach().clone() for p in sampler.denoiser_parameters()]
    out = sampler(torch.tensor([0]), torch.tensor([0]), state())
    assert out.aux_loss is None
    assert all(torch.equal(a, b) for a, b in zip(before, sampler.denoiser_parameters()))


def test_the_denoisers_own_optimizer_travels_in_the_state_dict():
    config = DiffusionConfig(num_steps=5)
    trained = Plain(pairs(), config, embedding_dim=8)
    trained(torch.tensor([0, 1]), torch.tensor([0, 2]), state())
    fresh = Plain(pairs(), config, embedding_dim=8)
    fresh.load_state_dict(trained.state_dict())
    assert fresh.get_extra_state()["optimizer"]["state"]  # Adam's moments came along
    assert all(torch.equal(a, b) for a, b in zip(fresh.parameters(), trained.parameters()))


def test_warmup_and_sampling_context():
    sampler = Plain(pairs(), DiffusionConfig(num_steps=5, warmup_epochs=2), embedding_dim=8)
    assert sampler.in_warmup(SamplerState(state().emb, epoch=1))
    assert not sampler.in_warmup(SamplerState(state().emb, epoch=2))
    sampler.train()
    with sampler.sampling():
        assert not torch.is_grad_enabled() and not sampler.denoiser.training
    assert sampler.denoiser.training


def test_the_former_module_name_still_imports():
    from pyg_negdiff.sampling import generative

    assert generative.DiffusionSampler is DiffusionSampler
    assert generative.DiffusionConfig is DiffusionConfig
