"""pyg_negdiff.experiment.recipe: one route from a RunConfig to a trainer.

The config is validated once, the graph is built once, and the trainer gets the RunConfig itself
(`Trainer.from_config`), which it records whole; the keyword constructor still works.
"""

import json

import pytest

import pyg_negdiff.data.graph
import pyg_negdiff.train.trainer
from pyg_negdiff.cli import main
from pyg_negdiff.data import make_synthetic
from pyg_negdiff.experiment import RunConfig, make_trainer
from pyg_negdiff.nn import LightGCN
from pyg_negdiff.propagation import FullPropagation
from pyg_negdiff.sampling import UniformSampler
from pyg_negdiff.train import Trainer

FAST = dict(embedding_dim=8, num_layers=1, epochs=1, batch_size=1024)


@pytest.fixture(scope="module")
def data():
    return make_synthetic(num_users=60, num_items=40, seed=0)


@pytest.fixture
def counts(monkeypatch):
    """How often the run's graph is built and its config validated."""
    seen = {"graph": 0, "validate": 0}
    build, validate = pyg_negdiff.data.graph.bipartite_edge_index, RunConfig.validate

    def counted_build(*args, **kwargs):
        seen["graph"] += 1
        return build(*args, **kwargs)

    def counted_validate(self):
        seen["validate"] += 1
        return validate(self)

    monkeypatch.setattr(pyg_negdiff.data.graph, "bipartite_edge_index", counted_build)
    monkeypatch.setattr(pyg_negdiff.train.trainer, "bipartite_edge_index", counted_build)
    monkeypatch.setattr(RunConfig, "validate", counted_validate)
    return seen


def test_make_trainer_validates_once_and_builds_the_graph_once(data, counts):
    trainer = make_trainer(RunConfig(**FAST), data, progress=False)
    assert counts == {"graph": 1, "validate": 1}
    assert isinstance(trainer.propagation, FullPropagation)
    make_trainer(RunConfig(**FAST), data, progress=False, validated=True)
    assert counts == {"graph": 2, "validate": 1}  # validated by the caller: not again


def test_the_command_line_validates_once(data, counts, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--data", "synthetic", "--dim", "8", "--layers", "1", "--epochs", "1"]
    assert main([*argv, "--no-progress", "--out", "result.json"]) == 0
    assert counts == {"graph": 1, "validate": 1}
    assert json.loads((tmp_path / "result.json").read_text())["config"]["embedding_dim"] == 8


def test_the_trainer_gets_the_config_and_records_it_whole(data):
    config = RunConfig(**FAST, lr=5e-3, seed=3)
    trainer = make_trainer(config, data, progress=False)
    assert (trainer.lr, trainer.seed, trainer.epochs) == (5e-3, 3, 1)
    recorded = trainer.config()
    assert {k: recorded[k] for k in config.to_dict()} == config.to_dict()
    assert trainer.fit().config == recorded  # what the result file holds, merged once


def test_environments_used_are_recorded_beside_those_asked_for(data):
    config = RunConfig(**FAST, penalty_weight=0.1, num_environments=2)
    trainer = make_trainer(config, data, progress=False)
    assert trainer.config()["num_environments"] == 2
    assert trainer.config()["num_environments_used"] == 2


def test_the_keyword_constructor_still_works(data):
    model = LightGCN(data.num_users, data.num_items, embedding_dim=8, num_layers=1)
    trainer = Trainer(
        model, UniformSampler(data.train_pairs()), data, lr=1e-2, epochs=1, progress=False
    )
    assert trainer.lr == 1e-2 and isinstance(trainer.propagation, FullPropagation)
    assert "num_layers" not in trainer.config()  # no RunConfig given, none recorded
