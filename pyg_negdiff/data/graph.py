r"""From interactions to the user-item graph that the backbones propagate over.

Users are nodes $0 \ldots U-1$, items are nodes $U \ldots U+I-1$,
and every interaction becomes two directed edges (user to item and back).
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor
from torch_geometric.utils import degree


def bipartite_edge_index(index: Tensor, num_users: int) -> Tensor:
    r"""Builds the symmetric bipartite ``edge_index`` of shape ``[2, 2E]``.

    Args:
        index (torch.Tensor): ``[2, E]`` (user, item) interactions.
        num_users (int): Number of users $U$; item $i$ becomes node $U + i$.
    """
    users, items = index[0], index[1] + num_users
    return torch.stack([torch.cat([users, items]), torch.cat([items, users])], dim=0)


def gcn_adjacency(edge_index: Tensor, num_nodes: int) -> Tensor:
    r"""The symmetrically normalized adjacency as a sparse CSR tensor.

    $$
    \hat{A} = D^{-1/2} A D^{-1/2}, \qquad
    \hat{A}_{vw} = \frac{1}{\sqrt{d_v d_w}}
    $$

    without self loops, as LightGCN uses it. It is computed once per training
    run; the backbones then propagate with one sparse-dense product per layer,
    never a dense $N \times N$ matrix.

    Args:
        edge_index (torch.Tensor): ``[2, M]`` edges (both directions present).
        num_nodes (int): Number of nodes $N = U + I$.

    Returns:
        torch.Tensor: ``[N, N]`` sparse CSR tensor whose row ``v`` holds the
        weights of the messages that node ``v`` receives.
    """
    row, col = edge_index
    deg = degree(col, num_nodes, dtype=torch.float)
    inv_sqrt = deg.pow(-0.5).masked_fill_(deg == 0, 0.0)
    weight = inv_sqrt[row] * inv_sqrt[col]
    # Row = target, column = source: out = A_hat @ x aggregates messages into targets.
    adj = torch.sparse_coo_tensor(
        torch.stack([col, row]), weight, (num_nodes, num_nodes), check_invariants=False
    )
    with warnings.catch_warnings():  # "CSR support is in beta": it is what spmm is fastest on
        warnings.simplefilter("ignore", UserWarning)
        return adj.coalesce().to_sparse_csr()
