"""pyg_negdiff.experiment.config: RunConfig's checks read the registries, not names."""

import pytest

from pyg_negdiff.causal import PENALTIES, STRATEGIES, VarianceRiskPenalty
from pyg_negdiff.experiment.config import ConfigError, RunConfig
from pyg_negdiff.nn import MF, MODELS, LightGCN
from pyg_negdiff.propagation import PROPAGATIONS, FullPropagation, NeighborPropagation


class LayerlessModel(MF):
    """A registered backbone without layers (``has_layers = False``, as MF)."""


class SampledFull(FullPropagation):
    """A registered strategy that declares neighbour sampling (it takes a fan-out)."""

    samples_neighbors = True


def test_num_layers_follows_the_backbones_has_layers(monkeypatch):
    monkeypatch.setitem(MODELS, "layerless", LayerlessModel)
    monkeypatch.setitem(MODELS, "layered", LightGCN)
    RunConfig(model="layerless", num_layers=0).validate()
    with pytest.raises(ConfigError, match="num_layers=0: must be an integer >= 1"):
        RunConfig(model="layered", num_layers=0).validate()


def test_an_unregistered_backbone_is_refused_with_the_registrys_names():
    with pytest.raises(ConfigError) as info:
        RunConfig(model="gcn").validate()
    assert info.value.key == "model"
    assert all(name in info.value.problem for name in MODELS)


def test_the_neighbour_options_follow_the_strategys_samples_neighbors(monkeypatch):
    assert NeighborPropagation.samples_neighbors and not FullPropagation.samples_neighbors
    RunConfig(propagation="neighbor", num_neighbors=[5, 5]).validate()
    with pytest.raises(ConfigError, match="applies to --propagation 'neighbor' only"):
        RunConfig(propagation="full", num_neighbors=[5, 5]).validate()
    with pytest.raises(ConfigError, match="sparse_gradients=False: applies to"):
        RunConfig(propagation="full", sparse_gradients=False).validate()

    monkeypatch.setitem(PROPAGATIONS, "sampled-full", SampledFull)
    RunConfig(propagation="sampled-full", num_neighbors=[5, 5]).validate()
    with pytest.raises(ConfigError, match="give one fan-out per layer"):
        RunConfig(propagation="sampled-full").validate()
    with pytest.raises(ConfigError, match="--propagation 'neighbor' or 'sampled-full' only"):
        RunConfig(propagation="full", num_neighbors=[5, 5]).validate()


def test_penalties_and_environment_strategies_come_from_their_registries(monkeypatch):
    with pytest.raises(ConfigError, match="unknown penalty"):
        RunConfig(penalty="my-penalty", penalty_weight=1.0).validate()
    monkeypatch.setitem(PENALTIES, "my-penalty", VarianceRiskPenalty)
    RunConfig(penalty="my-penalty", penalty_weight=1.0).validate()

    with pytest.raises(ConfigError, match="unknown environment strategy"):
        RunConfig(environments="mine", penalty_weight=1.0).validate()
    monkeypatch.setitem(STRATEGIES, "mine", STRATEGIES["popularity"])
    RunConfig(environments="mine", penalty_weight=1.0).validate()


def test_from_dict_refuses_unknown_keys_and_round_trips():
    config = RunConfig(model="mf", num_layers=0, sampler="dns", lr=1e-2)
    assert RunConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown configuration keys"):
        RunConfig.from_dict({"learning_rate": 0.1})
