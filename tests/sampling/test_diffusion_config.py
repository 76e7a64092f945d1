import inspect

import pytest
import torch

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.experiment import ConfigError, RunConfig
from pyg_negdiff.nn.base import Embeddings
from pyg_negdiff.sampling import (
    ADARSampler,
    CNSDiffSampler,
    DiffusionConfig,
    SamplerState,
    build_sampler,
)
from pyg_negdiff.sampling.diffusion_config import FIELDS

# The flat keywords each constructor took before the shared settings had a record of their own.
CNSDIFF_KEYS = (
    """num_steps schedule noise_scale beta_min beta_max start_step step_stride max_step beta_start
beta_end min_random_share cl_weight temperature positive_noise contrast_scope diffusion_weight prediction
reweight sampling_noise reverse_steps full_chain hidden_channels condition_on_user num_environments
environment_dim dropout sampling_dropout denoiser_training denoiser_lr warmup_epochs probe anchor selection
gradient combine separate_weight synthesize preset""".split()
)
ADAR_KEYS = (
    """num_steps schedule noise_scale beta_min beta_max generation combine prediction reweight
sampling_noise reverse_steps hidden_channels num_environments environment_dim dropout denoiser_training
denoiser_lr diffusion_weight warmup_epochs probe t_min t_max skip_edge_cases gradient forward_noise
synthesized_weight""".split()
)


def pairs():
    return PairSet(torch.tensor([[0, 1, 2], [0, 1, 2]]), num_users=3, num_items=8)


@pytest.mark.parametrize("cls,keys", [(CNSDiffSampler, CNSDIFF_KEYS), (ADARSampler, ADAR_KEYS)])
def test_the_class_signature_keeps_every_flat_keyword(cls, keys):
    params = inspect.signature(cls).parameters
    assert set(keys) <= set(params)
    for name in FIELDS:
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[name].default == getattr(cls.diffusion_defaults, name)


def test_every_flat_keyword_reaches_the_record_and_passes_run_config_validation():
    values = {
        "num_steps": 30,
        "noise_scale": 2.0,
        "dropout": 0.1,
        "denoiser_lr": 0.01,
        "warmup_epochs": 1,
        "cl_weight": 0.1,
        "start_step": 5,
        "reverse_steps": 3,
    }
    RunConfig(sampler="cnsdiff", sampler_kwargs=values).validate()
    sampler = build_sampler("cnsdiff", pairs(), embedding_dim=8, **values)
    assert sampler.diffusion_config.num_steps == 30 and sampler.diffusion.num_steps == 30
    assert sampler.diffusion_config.dropout == 0.1 and sampler.denoiser_lr == 0.01
    assert sampler.init_options["cl_weight"] == 0.1 and sampler.levels[0] == 5
    with pytest.raises(ConfigError, match="has no argument 'nope'"):
        RunConfig(sampler="cnsdiff", sampler_kwargs={"nope": 1}).validate()
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        build_sampler("cnsdiff", pairs(), embedding_dim=8, nope=1)


def test_one_record_or_flat_keywords_build_the_same_sampler():
    emb = Embeddings(torch.randn(3, 1, 8), torch.randn(8, 1, 8))
    outs = []
    for kwargs in (
        {"num_steps": 12, "max_step": 12, "hidden_channels": 16},
        {
            "diffusion": DiffusionConfig(
                num_steps=12, schedule="linear-var", noise_scale=10.0, hidden_channels=16
            ),
            "max_step": 12,
        },
    ):
        torch.manual_seed(0)
        sampler = CNSDiffSampler(pairs(), 8, **kwargs)
        outs.append(
            (
                repr(sampler),
                sampler(
                    torch.tensor([0, 1]),
                    torch.tensor([0, 1]),
                    SamplerState(emb, generator=torch.Generator().manual_seed(1)),
                ).emb,
            )
        )
    assert outs[0][0] == outs[1][0]
    assert torch.equal(outs[0][1], outs[1][1])


def test_repr_comes_from_the_record():
    sampler = ADARSampler(pairs(), num_steps=20, t_min=2)
    assert repr(sampler) == "ADARSampler(t_min=2, num_steps=20)"
    assert sampler.init_options["t_min"] == 2 and sampler.diffusion_config.num_steps == 20
    assert repr(ADARSampler(pairs())) == "ADARSampler()"
    assert (
        repr(
            CNSDiffSampler(
                pairs(),
                8,
                diffusion=DiffusionConfig(num_steps=30, schedule="linear-var", noise_scale=10.0),
                max_step=12,
            )
        )
        == "CNSDiffSampler(embedding_dim=8, max_step=12, num_steps=30)"
    )


def test_former_option_names_are_still_accepted():
    assert CNSDiffSampler(pairs(), 8, gradient="straight-through").gradient == "anchor"
    assert ADARSampler(pairs(), combine="add").combine == "separate"
    with pytest.raises(ValueError, match="combine must be 'replace' or 'separate'"):
        ADARSampler(pairs(), combine="mix")


def test_the_preset_sets_shared_and_own_settings():
    sampler = CNSDiffSampler(pairs(), 8, preset="published")
    assert (
        sampler.diffusion_config.noise_scale == 0.1
        and sampler.diffusion_config.denoiser_training == "frozen"
    )
    assert sampler.contrast_scope == "batch" and sampler.levels == [10, 14, 18]
    with pytest.raises(ValueError, match=r"fixes \['noise_scale'\]"):
        CNSDiffSampler(pairs(), 8, preset="published", noise_scale=3.0)


def test_the_config_checks_its_fields():
    with pytest.raises(ValueError, match="denoiser_training"):
        DiffusionConfig(denoiser_training="never")
    with pytest.raises(ValueError, match="num_environments must be >= 1"):
        CNSDiffSampler(pairs(), 8, num_environments=0)
    assert DiffusionConfig(num_environments=2, environment_dim=4).condition_dim(8) == 12


def test_a_subclass_keeps_the_signature_of_its_own_constructor():
    class Flat(CNSDiffSampler):
        pass

    class Own(CNSDiffSampler):
        def __init__(self, train_pairs, embedding_dim, *, strength=1.0):
            super().__init__(train_pairs, embedding_dim)

    assert "num_steps" in inspect.signature(Flat).parameters
    assert list(inspect.signature(Own).parameters) == ["train_pairs", "embedding_dim", "strength"]
    assert repr(Own(pairs(), 8)) == "Own(embedding_dim=8)"
