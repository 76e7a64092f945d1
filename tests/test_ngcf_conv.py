"""NGCFConv: the PyG conv checks (shape, edge permutation, sparse layouts) and the update rule."""

from __future__ import annotations

import torch
from torch_geometric.testing import assert_module
from torch_geometric.utils import to_torch_csr_tensor

from pyg_negdiff.data.graph import gcn_adjacency
from pyg_negdiff.nn import NGCFConv

EDGE_INDEX = torch.tensor(
    [[0, 0, 0, 1, 2, 3, 1, 2, 3, 3], [1, 2, 3, 0, 0, 0, 2, 1, 4, 1]]
)  # directed: 3 -> 4 only


def test_ngcf_conv_assert_module() -> None:
    torch.manual_seed(0)
    x = torch.randn(5, 8)
    conv = NGCFConv(8, 16, dropout=0.0)
    assert str(conv) == "NGCFConv(8, 16, dropout=0.0)"
    assert_module(
        conv,
        x,
        EDGE_INDEX,
        expected_size=(5, 16),
        atol=1e-6,
        test_sparse_layouts=[torch.sparse_csc, torch.sparse_coo],
    )
    weight = torch.rand(EDGE_INDEX.size(1)) + 0.5
    assert_module(
        conv,
        x,
        EDGE_INDEX,
        expected_size=(5, 16),
        atol=1e-6,
        test_sparse_layouts=[],
        edge_weight=weight,
    )


def test_ngcf_conv_update_rule() -> None:
    torch.manual_seed(0)
    x = torch.randn(5, 8)
    conv = NGCFConv(8, 16, dropout=0.0, negative_slope=0.3)
    adj_t = gcn_adjacency(EDGE_INDEX, 5)  # row = target
    a = adj_t.to_dense()
    side = a @ x
    expected = torch.nn.functional.leaky_relu(
        conv.lin1(x + side) + conv.lin2(side * x), negative_slope=0.3
    )
    assert torch.allclose(conv(x, EDGE_INDEX), expected, atol=1e-6)
    # A pre-normalized CSR matrix with normalize=False gives the same output.
    conv.normalize = False
    assert torch.allclose(conv(x, adj_t), expected, atol=1e-6)
    # So does a raw (unnormalized) CSR adj_t with normalize=True.
    conv.normalize = True
    raw_adj_t = to_torch_csr_tensor(EDGE_INDEX.flip(0), size=(5, 5))
    assert torch.allclose(conv(x, raw_adj_t), expected, atol=1e-6)


def test_ngcf_conv_node_permutation_equivariance() -> None:
    torch.manual_seed(0)
    x = torch.randn(5, 8)
    conv = NGCFConv(8, 4, dropout=0.0)
    perm = torch.randperm(5)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(5)
    out = conv(x, EDGE_INDEX)
    out_perm = conv(x[perm], inv[EDGE_INDEX])
    assert torch.allclose(out_perm, out[perm], atol=1e-6)


def test_ngcf_conv_dropout_and_reset() -> None:
    x = torch.randn(5, 8)
    conv = NGCFConv(8, 8, dropout=0.5).eval()
    assert torch.equal(conv(x, EDGE_INDEX), conv(x, EDGE_INDEX))
    conv.train()
    out = conv(x, EDGE_INDEX)
    assert (out == 0).float().mean() > 0.2
    before = conv.lin1.weight.detach().clone()
    conv.reset_parameters()
    assert not torch.equal(before, conv.lin1.weight)
    assert torch.equal(conv.lin1.bias, torch.zeros(8))
