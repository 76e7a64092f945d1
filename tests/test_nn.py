"""Backbones: shapes, parity with PyG's LightGCN, gradients, input forms, persistence."""

from __future__ import annotations

import io

import pytest
import torch
from torch_geometric.nn.models import LightGCN as PyGLightGCN

from pyg_negdiff.data.graph import bipartite_edge_index, gcn_adjacency
from pyg_negdiff.nn import MF, NGCF, Embeddings, LightGCN, Recommender, build_model

NUM_USERS, NUM_ITEMS, DIM, LAYERS = 7, 9, 8, 2
NUM_NODES = NUM_USERS + NUM_ITEMS
ISOLATED_ITEM = NUM_ITEMS - 1  # no interactions: only its own embedding reaches it


def make_graph(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    users = torch.randint(0, NUM_USERS, (30,), generator=gen)
    items = torch.randint(0, NUM_ITEMS - 1, (30,), generator=gen)  # last item stays isolated
    pairs = torch.unique(torch.stack([users, items]), dim=1)
    edge_index = bipartite_edge_index(pairs, NUM_USERS)
    return edge_index, gcn_adjacency(edge_index, NUM_NODES)


def make_model(name: str) -> Recommender:
    kw = {} if name == "mf" else {"num_layers": LAYERS}
    return build_model(name, NUM_USERS, NUM_ITEMS, embedding_dim=DIM, **kw).eval()


@pytest.mark.parametrize(
    "name,num_layers,pooled",
    [("lightgcn", LAYERS, DIM), ("ngcf", LAYERS, (LAYERS + 1) * DIM), ("mf", 0, DIM)],
)
def test_output_shapes(name: str, num_layers: int, pooled: int) -> None:
    edge_index, adj = make_graph()
    model = make_model(name)
    for graph in (edge_index, adj):
        layers = model.propagate_layers(graph)
        assert layers.shape == (NUM_NODES, num_layers + 1, DIM)
        emb = model(graph)
        assert isinstance(emb, Embeddings)
        assert emb.user_layers.shape == (NUM_USERS, num_layers + 1, DIM)
        assert emb.item_layers.shape == (NUM_ITEMS, num_layers + 1, DIM)
        assert emb.user.shape == (NUM_USERS, pooled)
        assert emb.item.shape == (NUM_ITEMS, pooled)
        assert emb.num_layers == num_layers
        # Layer 0 is the embedding table itself.
        assert torch.equal(layers[:, 0], model.embedding.weight)


@pytest.mark.parametrize("name", ["lightgcn", "ngcf", "mf"])
def test_edge_index_and_sparse_inputs_agree(name: str) -> None:
    edge_index, adj = make_graph()
    model = make_model(name)
    out1 = model.propagate_layers(edge_index)
    out2 = model.propagate_layers(adj)
    assert torch.allclose(out1, out2, atol=1e-6)
    # COO input is converted once and gives the same result.
    out3 = model.propagate_layers(adj.to_sparse_coo())
    assert torch.allclose(out1, out3, atol=1e-6)


@pytest.mark.parametrize("sparse", [False, True])
def test_lightgcn_matches_pyg(sparse: bool) -> None:
    edge_index, adj = make_graph()
    ours = LightGCN(NUM_USERS, NUM_ITEMS, DIM, LAYERS)
    ref = PyGLightGCN(NUM_NODES, DIM, LAYERS)
    with torch.no_grad():
        ref.embedding.weight.copy_(ours.embedding.weight)
    expected = ref.get_embedding(edge_index)  # normalizes in every layer
    emb = ours(adj if sparse else edge_index)
    assert torch.allclose(torch.cat([emb.user, emb.item]), expected, atol=1e-6)
    # PyG's normalize=False path on the pre-normalized sparse matrix agrees too.
    ref_sparse = PyGLightGCN(NUM_NODES, DIM, LAYERS, normalize=False)
    ref_sparse.load_state_dict(ref.state_dict())
    assert torch.allclose(ref_sparse.get_embedding(adj), expected, atol=1e-6)


def test_lightgcn_matches_pyg_with_edge_weight() -> None:
    edge_index, _ = make_graph()
    weight = torch.rand(edge_index.size(1), generator=torch.Generator().manual_seed(1)) + 0.5
    ours = LightGCN(NUM_USERS, NUM_ITEMS, DIM, LAYERS)
    ref = PyGLightGCN(NUM_NODES, DIM, LAYERS)
    ref.embedding.weight.data.copy_(ours.embedding.weight.data)
    emb = ours(edge_index, weight)
    assert torch.allclose(
        torch.cat([emb.user, emb.item]), ref.get_embedding(edge_index, weight), atol=1e-6
    )


def test_lightgcn_same_seed_same_init_as_pyg() -> None:
    torch.manual_seed(12345)
    ours = LightGCN(NUM_USERS, NUM_ITEMS, DIM, LAYERS)
    torch.manual_seed(12345)
    ref = PyGLightGCN(NUM_NODES, DIM, LAYERS)
    assert torch.equal(ours.embedding.weight, ref.embedding.weight)


def test_sparse_adjacency_is_read_as_adj_t() -> None:
    # A one-edge matrix shows the orientation: row = target, column = source.
    model = LightGCN(1, 1, embedding_dim=2, num_layers=1)
    adj_t = torch.sparse_coo_tensor(
        torch.tensor([[1], [0]]), torch.ones(1), (2, 2), check_invariants=True
    ).to_sparse_csr()
    out = model.propagate_layers(adj_t)
    assert torch.allclose(out[1, 1], model.embedding.weight[0])  # node 1 receives from node 0
    assert torch.allclose(out[0, 1], torch.zeros(2))


@pytest.mark.parametrize("name", ["lightgcn", "ngcf"])
def test_directed_graph_edge_index_and_gcn_adjacency_agree(name: str) -> None:
    edge_index = torch.tensor([[0, 0, 1, 2, 1], [1, 2, 2, 1, 0]])  # not symmetric
    model = build_model(name, 1, 2, embedding_dim=4, num_layers=2).eval()
    out = model.propagate_layers(edge_index)
    assert torch.allclose(model.propagate_layers(gcn_adjacency(edge_index, 3)), out, atol=1e-6)
    flipped = model.propagate_layers(edge_index.flip(0))
    assert not torch.allclose(flipped, out, atol=1e-3)


@pytest.mark.parametrize("name", ["lightgcn", "ngcf"])
@pytest.mark.parametrize("sparse", [False, True])
def test_gradients_flow_through_message_passing(name: str, sparse: bool) -> None:
    edge_index, adj = make_graph()
    model = make_model(name).train()
    layers = model.propagate_layers(adj if sparse else edge_index)
    # Loss on propagated user layers only: items get gradient only via messages.
    coef = torch.randn(NUM_USERS, LAYERS, DIM, generator=torch.Generator().manual_seed(2))
    (layers[:NUM_USERS, 1:] * coef).sum().backward()
    grad = model.embedding.weight.grad
    assert grad is not None and torch.isfinite(grad).all()
    item_grad = grad[NUM_USERS:].abs().sum(-1)
    item_deg = torch.bincount(edge_index[0], minlength=NUM_NODES)[NUM_USERS:]
    assert (item_grad[item_deg > 0] > 0).all()
    assert item_grad[ISOLATED_ITEM] == 0
    if name == "ngcf":
        for p in model.convs.parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all()


def test_ngcf_layer_outputs_are_l2_normalized() -> None:
    edge_index, _ = make_graph()
    layers = make_model("ngcf").propagate_layers(edge_index)
    norms = layers[:, 1:].norm(dim=-1)
    assert torch.allclose(norms[norms > 0], torch.ones(()), atol=1e-5)


def test_ngcf_dropout_only_in_training() -> None:
    edge_index, adj = make_graph()
    model = NGCF(NUM_USERS, NUM_ITEMS, DIM, LAYERS, dropout=0.5)
    model.eval()
    a, b = model.propagate_layers(edge_index), model.propagate_layers(edge_index)
    assert torch.equal(a, b)
    assert torch.allclose(model.propagate_layers(adj), a, atol=1e-6)
    model.train()
    torch.manual_seed(0)
    c = model.propagate_layers(edge_index)
    torch.manual_seed(1)
    d = model.propagate_layers(edge_index)
    assert not torch.allclose(c, d)


def test_mf_ignores_the_graph() -> None:
    edge_index, adj = make_graph()
    model = MF(NUM_USERS, NUM_ITEMS, DIM)
    expected = model().user
    assert torch.equal(model(edge_index).user, expected)
    assert torch.equal(model(adj).user, expected)
    assert torch.equal(expected, model.embedding.weight[:NUM_USERS])


def test_build_model() -> None:
    assert isinstance(build_model("LightGCN", 2, 3), LightGCN)
    model = build_model("ngcf", 2, 3, embedding_dim=4, num_layers=1, dropout=0.0)
    assert isinstance(model, NGCF) and model.num_layers == 1 and model.embedding_dim == 4
    assert isinstance(build_model("mf", 2, 3), MF)
    with pytest.raises(ValueError, match="Unknown backbone 'gcn'.*'lightgcn'"):
        build_model("gcn", 2, 3)


def test_sparse_input_checks() -> None:
    edge_index, adj = make_graph()
    model = make_model("lightgcn")
    with pytest.raises(ValueError, match="edge_weight"):
        model(adj, torch.ones(adj.values().numel()))
    small = gcn_adjacency(edge_index, NUM_NODES + 1)
    with pytest.raises(ValueError, match="size"):
        model(small)


@pytest.mark.parametrize("name", ["lightgcn", "ngcf", "mf"])
def test_to_double_and_state_dict_round_trip(name: str) -> None:
    edge_index, adj = make_graph()
    model = make_model(name).to("cpu").double()
    assert model.embedding.weight.dtype == torch.float64
    out = model.propagate_layers(adj)  # float32 adjacency is cast to the model's dtype
    assert out.dtype == torch.float64
    assert torch.allclose(model.propagate_layers(edge_index), out)

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    fresh = make_model(name).double()
    assert not torch.equal(fresh.embedding.weight, model.embedding.weight)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(fresh.propagate_layers(adj), out)


@pytest.mark.parametrize("name", ["lightgcn", "ngcf", "mf"])
def test_reset_parameters_redraws(name: str) -> None:
    model = make_model(name)
    before = model.embedding.weight.detach().clone()
    model.reset_parameters()
    assert not torch.equal(before, model.embedding.weight)


def test_sparse_backward_uses_the_transpose() -> None:
    # Non-symmetric adjacency: the gradient must be A^T G, also after the cache is warm
    # and after the values change in place.
    from pyg_negdiff.nn._sparse import sparse_matmul

    dense = torch.tensor([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0], [4.0, 0.0, 0.0]])
    adj = dense.to_sparse_csr()
    grad_out = torch.randn(3, 2)
    for _ in range(2):
        x = torch.randn(3, 2, requires_grad=True)
        out = sparse_matmul(adj, x)
        out.backward(grad_out)
        assert torch.allclose(out, dense @ x)
        assert torch.allclose(x.grad, dense.t() @ grad_out)
    adj.values().mul_(2.0)
    x = torch.randn(3, 2, requires_grad=True)
    sparse_matmul(adj, x).backward(grad_out)
    assert torch.allclose(x.grad, 2.0 * dense.t() @ grad_out)


@pytest.mark.parametrize("name", ["lightgcn", "ngcf"])
def test_directed_graph_gradients_agree(name: str) -> None:
    edge_index = torch.tensor([[0, 0, 1, 2, 1], [1, 2, 2, 1, 0]])
    model = build_model(name, 1, 2, embedding_dim=4, num_layers=2).eval()
    coef = torch.randn(3, 3, 4, generator=torch.Generator().manual_seed(3))
    grads = []
    for graph in (edge_index, gcn_adjacency(edge_index, 3)):
        model.zero_grad()
        (model.propagate_layers(graph) * coef).sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for g1, g2 in zip(*grads):
        assert torch.allclose(g1, g2, atol=1e-6)


def test_embeddings_from_tensors_wraps_any_model_output():
    """PyG's LightGCN output, split into user and item rows, scores and trains like ours."""
    torch.manual_seed(0)
    num_users, num_items = 5, 7
    pyg = PyGLightGCN(num_users + num_items, embedding_dim=8, num_layers=2)
    train = torch.tensor([[0, 1, 2, 3, 4], [0, 2, 4, 6, 1]])
    out = pyg.get_embedding(bipartite_edge_index(train, num_users))
    emb = Embeddings.from_tensors(out[:num_users], out[num_users:])
    assert torch.equal(emb.user, out[:num_users]) and torch.equal(emb.item, out[num_users:])
    users, items = torch.tensor([0, 3]), torch.tensor([5, 2])
    expected = (out[users] * out[num_users + items]).sum(-1)
    torch.testing.assert_close(emb.score(users, items), expected)
    emb.score(users, items).sum().backward()  # gradients reach the user's model
    assert pyg.embedding.weight.grad is not None and pyg.embedding.weight.grad.abs().sum() > 0
    for user, item in ((torch.ones(3), torch.ones(4, 2)), (torch.ones(3, 2), torch.ones(4, 5))):
        with pytest.raises(ValueError, match=r"user \[U, D\] and item \[I, D\]"):
            Embeddings.from_tensors(user, item)
