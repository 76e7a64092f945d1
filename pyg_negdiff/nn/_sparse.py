"""Private helpers shared by the graph backbones: the adjacency each call uses,
and a sparse-dense product whose backward reuses a cached transpose."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.weak import WeakIdKeyDictionary
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.typing import Adj, OptTensor
from torch_geometric.utils import is_sparse, is_torch_sparse_tensor, spmm


def prepare_adjacency(
    edge_index: Adj,
    edge_weight: OptTensor,
    num_nodes: int,
    dtype: torch.dtype,
) -> tuple[Adj, OptTensor]:
    r"""Returns the graph in the form every layer of one forward pass reuses.

    An edge list ``[2, M]`` (with optional ``edge_weight``) is normalized once
    with $\hat{A} = D^{-1/2} A D^{-1/2}$ (no self loops), exactly as
    `torch_geometric.nn.conv.LGConv` would do in every layer. A sparse matrix
    (e.g. from `pyg_negdiff.data.graph.gcn_adjacency`) is taken as already
    normalized and as PyG's ``adj_t``: row $v$ holds the weights of the
    messages that node $v$ receives. It is only cast to ``dtype`` and, if
    given in COO layout, converted to CSR once (instead of in every layer).
    """
    if is_sparse(edge_index):
        if edge_weight is not None:
            raise ValueError(
                "'edge_weight' must be None when 'edge_index' is a sparse "
                "matrix: the matrix values are the edge weights"
            )
        size = (edge_index.size(0), edge_index.size(1))
        if size != (num_nodes, num_nodes):
            raise ValueError(
                f"Expected a sparse adjacency of size ({num_nodes}, {num_nodes}) "
                f"(users + items), got {size}"
            )
        if is_torch_sparse_tensor(edge_index):
            if edge_index.layout == torch.sparse_coo:
                edge_index = edge_index.coalesce().to_sparse_csr()
            if edge_index.dtype != dtype:
                edge_index = edge_index.to(dtype)
        return edge_index, None
    return gcn_norm(edge_index, edge_weight, num_nodes, add_self_loops=False, dtype=dtype)


# adj_t -> (adj_t._version, adj_t transposed as CSR). Entries die with their key.
_TRANSPOSES = WeakIdKeyDictionary()


def _transpose_csr(adj_t: Tensor) -> Tensor:
    hit = _TRANSPOSES.get(adj_t)
    if hit is not None and hit[0] == adj_t._version:
        return hit[1]
    transposed = adj_t.t().to_sparse_csr()
    _TRANSPOSES[adj_t] = (adj_t._version, transposed)
    return transposed


class _CSRMatmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, adj_t: Tensor, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.adj_t = adj_t
        return torch.sparse.mm(adj_t, x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[None, Tensor]:  # type: ignore[override]
        return None, torch.sparse.mm(_transpose_csr(ctx.adj_t), grad)


def sparse_matmul(adj_t: Adj, x: Tensor) -> Tensor:
    r"""$\hat{A} X$ summing messages into targets, like PyG's ``spmm(adj_t, x)``.

    For a constant torch CSR matrix the backward product $\hat{A}^\top G$ uses
    a CSR copy of $\hat{A}^\top$ built once per matrix object and cached
    (PyTorch's own backward re-sorts a CSC transpose in every layer and every
    step, which costs ten times the product itself on CPU). The matrix is
    therefore treated as constant: don't modify its values in place.
    Any other input (edge weights with gradients, COO/CSC, `SparseTensor`)
    goes to `torch_geometric.utils.spmm`.
    """
    if (
        is_torch_sparse_tensor(adj_t)
        and adj_t.layout == torch.sparse_csr
        and not adj_t.requires_grad
        and x.requires_grad
    ):
        return _CSRMatmul.apply(adj_t, x)
    return spmm(adj_t, x, reduce="sum")
