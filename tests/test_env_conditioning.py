"""Environment-conditioned diffusion samplers: p(z | do(z_0), E) through an EnvironmentEmbedding."""

import pytest
import torch

from pyg_negdiff.causal import EnvironmentInference
from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.data.synthetic import make_synthetic
from pyg_negdiff.diffusion import EnvironmentEmbedding
from pyg_negdiff.experiment import RunConfig, make_trainer, run
from pyg_negdiff.nn.base import Embeddings
from pyg_negdiff.sampling.adar import ADARSampler
from pyg_negdiff.sampling.base import SamplerState
from pyg_negdiff.sampling.cnsdiff import CNSDiffSampler
from pyg_negdiff.train import Trainer

D = 16


def clustered(seed=0, U=40, I=120, K=4):
    """Item rows around K well-separated centers; an interaction's environment is its item's cluster."""
    g = torch.Generator().manual_seed(seed)
    centers = 3.0 * torch.randn(K, D, generator=g)
    cluster = torch.randint(0, K, (I,), generator=g)
    items = centers[cluster] + 0.1 * torch.randn(I, D, generator=g)
    users = torch.randn(U, D, generator=g)
    pos = torch.stack([torch.randperm(I, generator=g)[:5] for _ in range(U)])
    index = torch.stack([torch.arange(U).repeat_interleave(5), pos.reshape(-1)])
    return Embeddings(users.unsqueeze(1), items.unsqueeze(1)), PairSet(index, U, I), index, cluster


def state(emb, g, env=None):
    return SamplerState(emb, generator=g, environments=env)


def test_condition_needs_the_batch_environments():
    emb, pairs, index, cluster = clustered()
    sampler = CNSDiffSampler(pairs, D, num_environments=4)
    users, pos = index[0, :8], index[1, :8]
    with pytest.raises(ValueError, match="environments=EnvironmentInference"):
        sampler(users, pos, state(emb, torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        sampler(users, pos, state(emb, torch.Generator().manual_seed(0), torch.full((8,), 4)))
    with pytest.raises(ValueError, match="num_environments must be >= 1"):
        CNSDiffSampler(pairs, D, num_environments=0)


def test_denoiser_input_holds_user_and_environment():
    _, pairs, _, _ = clustered()
    assert CNSDiffSampler(pairs, D, num_environments=3, environment_dim=5).denoiser.cond_dim == 5
    both = CNSDiffSampler(pairs, D, condition_on_user=True, num_environments=3, environment_dim=5)
    assert both.denoiser.cond_dim == D + 5
    assert (
        CNSDiffSampler(pairs, D).denoiser.cond_dim is None
        and CNSDiffSampler(pairs, D).env_embedding is None
    )
    assert (
        ADARSampler(
            pairs, D, generation="denoise", num_environments=3, environment_dim=5
        ).denoiser.cond_dim
        == D + 5
    )
    with pytest.raises(ValueError, match="generation='denoise'"):
        ADARSampler(pairs, D, num_environments=3)


@pytest.mark.parametrize("training", ["alternate", "joint"])
def test_environment_embedding_is_trained_with_the_denoiser(training):
    emb, pairs, index, cluster = clustered()
    sampler = CNSDiffSampler(pairs, D, num_environments=4, denoiser_training=training)
    weight = sampler.env_embedding.weight
    if training == "alternate":
        assert any(
            p is weight for group in sampler._optimizer.param_groups for p in group["params"]
        )
        assert not list(sampler.joint_parameters())
    else:
        assert any(p is weight for p in sampler.joint_parameters())
    before = weight.detach().clone()
    g = torch.Generator().manual_seed(0)
    users, pos = index[0, :32], index[1, :32]
    out = sampler(users, pos, state(emb, g, cluster[pos]))
    if training == "joint":
        out.aux_loss.backward()
        assert weight.grad is not None and weight.grad.abs().sum() > 0
        torch.optim.SGD(sampler.joint_parameters(), lr=0.1).step()
    assert not torch.allclose(weight.detach(), before)
    assert "env_embedding.weight" in sampler.state_dict()


def diffusion_loss_after_training(num_environments, steps=300):
    torch.manual_seed(0)
    emb, pairs, index, cluster = clustered()
    sampler = CNSDiffSampler(pairs, D, num_environments=num_environments, denoiser_lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(steps):
        pick = torch.randint(0, index.size(1), (128,), generator=g)
        users, pos = index[0, pick], index[1, pick]
        out = sampler(users, pos, state(emb, g, cluster[pos] if num_environments else None))
        losses.append(out.logs["diffusion_loss"])
    return sum(losses[-30:]) / 30


def test_conditioning_on_the_environment_helps_the_denoiser():
    # The environment names each row's cluster: a denoiser that reads it recovers noised
    # rows far better than one that must guess the cluster from the noised row alone.
    plain, conditioned = diffusion_loss_after_training(None), diffusion_loss_after_training(4)
    assert conditioned < 0.8 * plain, (conditioned, plain)


def test_synthesis_depends_on_the_environment_hard_or_soft():
    emb, pairs, index, cluster = clustered()
    sampler = CNSDiffSampler(pairs, D, num_environments=4)
    with torch.no_grad():
        sampler.env_embedding.weight.mul_(30.0)  # make the condition matter before any training
    x0 = torch.randn(6, D)

    def candidates(env):
        cond = sampler.condition(None, SamplerState(emb, environments=env))
        return sampler.candidates(x0, cond, torch.Generator().manual_seed(1))

    hard = candidates(torch.tensor([0, 1, 2, 3, 0, 1]))
    soft = candidates(torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 3, 0, 1]), 4).float())
    other = candidates(torch.tensor([3, 2, 1, 0, 3, 2]))
    assert torch.allclose(hard, soft, atol=1e-5)
    assert not torch.allclose(hard, other, atol=1e-3)


def test_adar_denoise_reads_the_environment():
    emb, pairs, index, cluster = clustered()
    sampler = ADARSampler(pairs, D, generation="denoise", num_environments=4, combine="replace")
    users, pos = index[0, :16], index[1, :16]
    out = sampler(users, pos, state(emb, torch.Generator().manual_seed(0), cluster[pos]))
    assert out.emb.shape == (16, D) and torch.isfinite(out.emb).all()
    with pytest.raises(ValueError, match="environments"):
        sampler(users, pos, state(emb, torch.Generator().manual_seed(0)))


def test_trainer_passes_batch_environments_without_a_penalty():
    data = make_synthetic(num_users=120, num_items=90, seed=0)
    seen = []

    class Recording(CNSDiffSampler):
        def forward(self, users, pos_items, state):
            seen.append(state.environments)
            return super().forward(users, pos_items, state)

    from pyg_negdiff.nn import LightGCN

    model = LightGCN(data.num_users, data.num_items, embedding_dim=D, num_layers=1)
    env = EnvironmentInference("popularity", num_environments=3)
    env.fit(data)
    sampler = Recording(data.train_pairs(), model.output_dim, num_environments=3)
    Trainer(model, sampler, data, epochs=1, batch_size=256, environments=env, progress=False).fit()
    assert seen and all(e is not None and e.dim() == 1 for e in seen)
    assert sum(e.numel() for e in seen) == data.train.size(1)
    assert int(torch.cat(seen).max()) <= 2


def test_run_config_conditions_the_sampler():
    data = make_synthetic(num_users=120, num_items=90, seed=0)
    config = RunConfig(
        embedding_dim=D,
        num_layers=1,
        sampler="cnsdiff",
        epochs=2,
        batch_size=256,
        condition_on_environment=True,
        environments="popularity",
        num_environments=3,
    )
    trainer = make_trainer(config, data, progress=False)
    assert trainer.sampler.env_embedding.num_environments == 3 and trainer.penalty is None
    assert trainer.environments is not None
    result = trainer.fit()
    assert 0.0 <= result.test["test_ood"]["ndcg@20"] <= 1.0
    with pytest.raises(ValueError, match="no denoiser to condition"):
        run(
            RunConfig(
                embedding_dim=D,
                num_layers=1,
                sampler="dns",
                epochs=1,
                condition_on_environment=True,
            ),
            data,
            progress=False,
        )


def test_environment_embedding_rejects_wrong_shapes():
    emb = EnvironmentEmbedding(3, 4)
    with pytest.raises(ValueError, match=r"\[B, 3\]"):
        emb(torch.zeros(2, 5))


def test_state_dict_carries_the_denoisers_own_optimizer():
    emb, pairs, index, cluster = clustered()
    sampler = CNSDiffSampler(pairs, D, num_environments=4)
    users, pos = index[0, :32], index[1, :32]
    sampler(users, pos, state(emb, torch.Generator().manual_seed(0), cluster[pos]))
    saved = sampler.state_dict()
    fresh = CNSDiffSampler(pairs, D, num_environments=4)
    assert not fresh._optimizer.state_dict()["state"]
    fresh.load_state_dict(saved)
    moments = fresh._optimizer.state_dict()["state"]
    assert moments and all(int(v["step"]) == 1 for v in moments.values())
    assert torch.equal(fresh.env_embedding.weight, sampler.env_embedding.weight)


def test_run_config_passes_environment_and_penalty_options():
    from pyg_negdiff.experiment import build_environments

    data = make_synthetic(num_users=120, num_items=90, seed=0)
    config = RunConfig(
        penalty_weight=2.0,
        environments="cluster",
        num_environments=2,
        environment_kwargs={"update_every": 3, "features": ["popularity"]},
        penalty_kwargs={"reduction": "interactions", "warmup_steps": 7},
    )
    env, penalty = build_environments(config, data)
    assert env.update_every == 3 and env.strategy.features == ("popularity",)
    assert (
        penalty.reduction == "interactions" and penalty.warmup_steps == 7 and penalty.weight == 2.0
    )
    assert RunConfig.from_dict(config.to_dict()) == config
    with pytest.raises(TypeError):
        build_environments(RunConfig(penalty_weight=1.0, penalty_kwargs={"warmup": 5}), data)
