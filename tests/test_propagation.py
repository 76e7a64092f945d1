import pytest
import torch

from pyg_negdiff.data.graph import bipartite_edge_index
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.nn import MF, NGCF, LightGCN
from pyg_negdiff.propagation import (
    FullPropagation,
    NeighborPropagation,
    build_propagation,
    resolve_engine,
)
from pyg_negdiff.sampling import build_sampler
from pyg_negdiff.train import Trainer


import torch_geometric.typing as pyg_typing

HAS_PYG_ENGINE = pyg_typing.WITH_PYG_LIB or pyg_typing.WITH_TORCH_SPARSE
#: Both sampling engines where PyG's backend is installed (CI builds torch-sparse: .ci/sparse.sh).
ENGINES = [
    "torch",
    pytest.param(
        "pyg",
        marks=pytest.mark.skipif(
            not HAS_PYG_ENGINE, reason="PyG's NeighborSampler needs pyg-lib or torch-sparse"
        ),
    ),
]


def clustered_data(seed=0, U=60, I=45, clusters=3):
    g = torch.Generator().manual_seed(seed)
    uc, ic = torch.randint(0, clusters, (U,), generator=g), torch.randint(
        0, clusters, (I,), generator=g
    )
    like = (uc[:, None] == ic[None, :]) & (torch.rand(U, I, generator=g) < 0.4)
    index = like.nonzero().t()
    index = index[:, torch.randperm(index.size(1), generator=g)]
    n = index.size(1)
    a, b = int(0.7 * n), int(0.85 * n)
    return InteractionData(
        U, I, {"train": index[:, :a], "val": index[:, a:b], "test": index[:, b:]}
    )


def graph(data):
    return bipartite_edge_index(data.train, data.num_users)


def trainer(
    data,
    sampler_name,
    propagation,
    *,
    seed=0,
    batch_size=64,
    layers=2,
    engine="auto",
    sparse_gradients=True,
    **sampler_kw,
):
    torch.manual_seed(seed)
    model = LightGCN(data.num_users, data.num_items, embedding_dim=8, num_layers=layers)
    if sampler_name in ("cnsdiff", "adar"):
        sampler_kw.setdefault("embedding_dim", 8)
    sampler = build_sampler(sampler_name, data.train_pairs(), **sampler_kw)
    prop = (
        None
        if propagation == "full"
        else NeighborPropagation(
            graph(data),
            data.num_users,
            data.num_items,
            num_neighbors=propagation,
            engine=engine,
            sparse_gradients=sparse_gradients,
        )
    )
    return Trainer(
        model,
        sampler,
        data,
        lr=1e-2,
        batch_size=batch_size,
        epochs=2,
        seed=seed,
        progress=False,
        propagation=prop,
    )


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("model_cls", [LightGCN, NGCF])
def test_unlimited_fanout_seed_embeddings_equal_full(layers, model_cls, engine):
    data = clustered_data()
    torch.manual_seed(0)
    model = model_cls(data.num_users, data.num_items, embedding_dim=8, num_layers=layers).eval()
    users, pos = data.train[0, :20], data.train[1, :20]
    cand = torch.randint(0, data.num_items, (20, 3))
    full = FullPropagation(graph(data), data.num_users, data.num_items)(model, users, pos, cand)
    sub = NeighborPropagation(
        graph(data), data.num_users, data.num_items, [-1] * layers, engine=engine
    )(model, users, pos, cand)
    assert sub.is_subgraph and not full.is_subgraph
    assert sub.emb.item.size(0) < data.num_items or layers == 0
    torch.testing.assert_close(sub.emb.user[sub.users], full.emb.user[users], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        sub.emb.item[sub.pos_items], full.emb.item[pos], atol=1e-5, rtol=1e-5
    )
    torch.testing.assert_close(
        sub.emb.item_layers[sub.candidates], full.emb.item_layers[cand], atol=1e-5, rtol=1e-5
    )
    assert torch.equal(sub.global_items(sub.candidates), cand)


@pytest.mark.parametrize("engine", ENGINES)
def test_fanout_bounds_the_subgraph_and_keeps_full_degree_weights(engine):
    data = clustered_data(U=80, I=60)
    prop = NeighborPropagation(graph(data), data.num_users, data.num_items, [2, 2], engine=engine)
    seeds = torch.tensor([0, 1, 2])
    g = torch.Generator().manual_seed(0)
    node, edge_index, weight = prop.sample(seeds, g)
    assert torch.equal(node[:3], seeds) and node.unique().numel() == node.numel()
    # Hop 1: at most 2 edges into each seed; hop 2: at most 2 into each new node.
    assert edge_index.size(1) <= 3 * 2 + 6 * 2
    counts = torch.bincount(edge_index[1], minlength=node.numel())
    assert int(counts.max()) <= 2
    # Every sampled edge is a real edge, weighted by the full-graph degrees times d_v / k_v.
    src, dst = node[edge_index[0]], node[edge_index[1]]
    full = FullPropagation(graph(data), data.num_users, data.num_items).adj.to_dense()
    deg = (full > 0).sum(1).float()
    # k_v: min(k, d_v) distinct neighbours, or k draws with replacement (torch-sparse alone).
    kept = torch.full_like(deg[dst], 2.0) if prop.replace else deg[dst].clamp(max=2)
    torch.testing.assert_close(weight, full[dst, src] * deg[dst] / kept)
    if not prop.replace:  # sampled neighbours of one node are distinct
        pairs = dst * prop.num_nodes + src
        assert pairs.unique().numel() == pairs.numel()


@pytest.mark.parametrize("engine", ENGINES)
def test_each_neighbour_is_kept_with_probability_k_over_d(engine):
    edge_index = bipartite_edge_index(
        torch.stack([torch.zeros(10, dtype=torch.long), torch.arange(10)]), 1
    )
    prop = NeighborPropagation(edge_index, 1, 10, [3], engine=engine)
    g = torch.Generator().manual_seed(0)
    hits = torch.zeros(11)
    for _ in range(2000):
        node, ei, _ = prop.sample(torch.tensor([0]), g)
        hits.index_add_(0, node[ei[0]], torch.ones(ei.size(1)))
    assert torch.allclose(hits[1:] / 2000, torch.full((10,), 0.3), atol=0.05)


def test_sampled_layer_is_an_unbiased_estimate_of_the_full_layer():
    data = clustered_data()
    torch.manual_seed(0)
    model = LightGCN(data.num_users, data.num_items, embedding_dim=8, num_layers=1)
    users, pos = data.train[0, :5], data.train[1, :5]
    full = FullPropagation(graph(data), data.num_users, data.num_items)(model, users, pos)
    prop = NeighborPropagation(graph(data), data.num_users, data.num_items, [3])
    g = torch.Generator().manual_seed(0)
    mean = (
        sum(prop(model, users, pos, generator=g).emb.user_layers[:, 1] for _ in range(3000)) / 3000
    )
    rows = prop(model, users, pos).users
    torch.testing.assert_close(
        mean[rows].detach(), full.emb.user_layers[users, 1].detach(), atol=5e-3, rtol=0.05
    )


@pytest.mark.parametrize(
    "sampler_name,kw",
    [
        ("uniform", {}),
        ("popularity", {"num_negatives": 2}),
        ("dns", {"num_candidates": 8}),
        ("ahns", {"num_candidates": 8}),
        ("mixgcf", {"num_candidates": 8}),
        (
            "cnsdiff",
            {"num_steps": 4, "start_step": 1, "max_step": 4, "step_stride": 1, "probe": True},
        ),
        ("adar", {"num_steps": 4}),
    ],
)
def test_unlimited_fanout_step_loss_equals_full_propagation(sampler_name, kw):
    data = clustered_data()
    if sampler_name == "popularity":
        kw = {**kw, "item_popularity": data.item_popularity()}
    # One step: the whole training set in one batch.
    full = trainer(data, sampler_name, "full", batch_size=10_000, **kw)
    sub = trainer(data, sampler_name, [-1, -1], batch_size=10_000, **kw)
    a, b = full.train_epoch(0), sub.train_epoch(0)
    assert abs(a.loss - b.loss) < 1e-5
    # Several steps: same parameters (the same negatives were drawn). Dense gradients and
    # Adam here: SparseAdam is lazy (rows outside a batch keep their moments), a different optimizer.
    full = trainer(data, sampler_name, "full", **kw)
    sub = trainer(data, sampler_name, [-1, -1], sparse_gradients=False, **kw)
    for epoch in range(2):
        assert full.train_epoch(epoch).loss == pytest.approx(sub.train_epoch(epoch).loss, abs=1e-5)
    torch.testing.assert_close(
        full.model.embedding.weight, sub.model.embedding.weight, atol=1e-5, rtol=1e-4
    )


def test_layerwise_inference_equals_full_embeddings():
    data = clustered_data()
    for model in (
        LightGCN(data.num_users, data.num_items, 8, num_layers=3),
        NGCF(data.num_users, data.num_items, 8, num_layers=2).eval(),
    ):
        layers = model.num_layers
        full = FullPropagation(graph(data), data.num_users, data.num_items).embeddings(model)
        prop = NeighborPropagation(
            graph(data), data.num_users, data.num_items, [5] * layers, chunk_size=17
        )
        chunked = prop.embeddings(model)
        torch.testing.assert_close(chunked.user_layers, full.user_layers, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(chunked.item, full.item, atol=1e-5, rtol=1e-5)


def test_neighbor_training_learns_and_is_reproducible():
    data = clustered_data(U=120, I=90)
    runs = [trainer(data, "dns", [5, 5], seed=1, num_candidates=8).fit() for _ in range(2)]
    assert [h.loss for h in runs[0].history] == [h.loss for h in runs[1].history]
    untrained = trainer(data, "dns", [5, 5], seed=1, num_candidates=8)
    before = untrained.evaluator.evaluate(untrained.embeddings(), "test")["recall@20"]
    assert runs[0].test["test"]["recall@20"] > before


@pytest.mark.parametrize("engine", ENGINES)
def test_sampling_is_reproducible_from_the_generator_and_leaves_the_global_stream(engine):
    data = clustered_data(U=80, I=60)
    prop = NeighborPropagation(graph(data), data.num_users, data.num_items, [2, 2], engine=engine)
    seeds = torch.tensor([0, 1, 2, 85])
    torch.manual_seed(123)
    draws = [prop.sample(seeds, torch.Generator().manual_seed(s)) for s in (0, 0, 1)]
    assert torch.equal(draws[0][1], draws[1][1]) and torch.equal(draws[0][0], draws[1][0])
    assert not (
        draws[0][0].numel() == draws[2][0].numel() and torch.equal(draws[0][1], draws[2][1])
    )
    after = torch.rand(1)
    torch.manual_seed(123)
    assert torch.equal(after, torch.rand(1))  # the global generator was not advanced
    # Without a generator the draws come from the global stream, and differ call to call.
    a, b = prop.sample(seeds)[1], prop.sample(seeds)[1]
    assert not (a.shape == b.shape and torch.equal(a, b))


def test_sparse_gradients_touch_only_the_subgraph_rows():
    data = clustered_data()
    sub = trainer(data, "uniform", [2, 2], batch_size=8)
    dense = trainer(data, "uniform", [2, 2], batch_size=8, sparse_gradients=False)
    assert type(sub.optimizer).__name__ == "SparseAdam"
    assert type(dense.optimizer).__name__ == "Adam"
    weight = sub.model.embedding.weight
    before = weight.detach().clone()
    index = torch.arange(8)
    captured = {}
    weight.register_hook(lambda grad: captured.setdefault("grad", grad))
    sub.train_step(index, 0)
    grad = captured["grad"]
    assert grad.is_sparse
    touched = grad.coalesce().indices()[0]
    assert 0 < touched.numel() < weight.size(0)
    # Rows outside the subgraph do not move; the step's gradient equals the dense one.
    moved = (weight.detach() != before).any(1).nonzero().flatten()
    assert set(moved.tolist()) <= set(touched.tolist())
    dense.model.embedding.weight.register_hook(lambda grad: captured.setdefault("dense", grad))
    dense.train_step(index, 0)
    assert not captured["dense"].is_sparse
    torch.testing.assert_close(grad.to_dense(), captured["dense"])


def test_bad_configurations_are_refused():
    data = clustered_data()
    with pytest.raises(ValueError, match="num_neighbors must be positive"):
        NeighborPropagation(graph(data), data.num_users, data.num_items, [0])
    with pytest.raises(ValueError, match="needs num_neighbors"):
        build_propagation("neighbor", graph(data), data.num_users, data.num_items)
    with pytest.raises(ValueError, match="unknown propagation"):
        build_propagation("nope", graph(data), data.num_users, data.num_items)
    with pytest.raises(ValueError, match="unknown neighbour-sampling engine"):
        resolve_engine("fast")
    assert resolve_engine("auto") == ("pyg" if pyg_typing.WITH_PYG_LIB else "torch")
    with pytest.raises(ValueError, match="one fan-out per layer"):
        trainer(data, "uniform", [-1], layers=2).train_epoch(0)
    prop = NeighborPropagation(graph(data), data.num_users, data.num_items, [-1, -1])

    class OwnDraws(type(build_sampler("uniform", data.train_pairs()))):
        subgraph_ready = False  # a third-party sampler that draws its items its own way

    with pytest.raises(ValueError, match="cannot run on a sampled subgraph"):
        Trainer(
            LightGCN(data.num_users, data.num_items, 8, 2),
            OwnDraws(data.train_pairs()),
            data,
            propagation=prop,
            progress=False,
        )
    other = NeighborPropagation(graph(data), data.num_users + 1, data.num_items, [-1, -1])
    with pytest.raises(ValueError, match="the propagation's graph"):
        Trainer(
            LightGCN(data.num_users, data.num_items, 8, 2),
            build_sampler("uniform", data.train_pairs()),
            data,
            propagation=other,
            progress=False,
        )
    mf = MF(data.num_users, data.num_items, 8)
    emb = NeighborPropagation(graph(data), data.num_users, data.num_items, []).embeddings(mf)
    torch.testing.assert_close(emb.user, mf.embedding.weight[: data.num_users].detach())


def test_pyg_engine_without_its_backend_is_a_config_error(monkeypatch):
    from pyg_negdiff.experiment import ConfigError, RunConfig

    monkeypatch.setattr(pyg_typing, "WITH_PYG_LIB", False)
    monkeypatch.setattr(pyg_typing, "WITH_TORCH_SPARSE", False)
    assert resolve_engine("auto") == "torch"
    config = RunConfig(propagation="neighbor", num_neighbors=[4, 4, 4], neighbor_engine="pyg")
    with pytest.raises(ConfigError, match="needs pyg-lib or torch-sparse"):
        config.validate()
    config.neighbor_engine = "torch"
    config.validate()


def test_cli_options_reach_the_trainer():
    from pyg_negdiff.cli import build_parser, run_config_from_args
    from pyg_negdiff.experiment import make_trainer

    args = build_parser().parse_args(
        [
            "train",
            "--data",
            "x",
            "--propagation",
            "neighbor",
            "--num-neighbors",
            "4",
            "-1",
            "--layers",
            "2",
            "--dim",
            "8",
            "--neighbor-engine",
            "torch",
        ]
    )
    config = run_config_from_args(args)
    assert (config.propagation, config.num_neighbors) == ("neighbor", [4, -1])
    trainer = make_trainer(config, clustered_data(), progress=False)
    assert isinstance(trainer.propagation, NeighborPropagation)
    assert trainer.propagation.num_neighbors == [4, -1] and trainer.propagation.engine == "torch"
    assert trainer.propagation.sparse_gradients and type(trainer.optimizer).__name__ == "SparseAdam"
    config.sparse_gradients = False
    trainer = make_trainer(config, clustered_data(), progress=False)
    assert not trainer.propagation.sparse_gradients and type(trainer.optimizer).__name__ == "Adam"
    assert trainer.config()["propagation_strategy"] == repr(trainer.propagation)
    config.propagation = "full"
    with pytest.raises(ValueError, match="'neighbor' only"):
        make_trainer(config, clustered_data(), progress=False)
    config.num_neighbors = None  # dense gradients alone are refused in full mode too
    with pytest.raises(ValueError, match="'neighbor' only"):
        config.validate()
