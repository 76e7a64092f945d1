"""Matrix factorization: the graph-free baseline backbone."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.typing import Adj, OptTensor

from pyg_negdiff.nn.base import Embeddings, Pooling, Recommender


class MF(Recommender):
    r"""Matrix factorization trained with BPR, from Rendle et al., ["BPR: Bayesian
    Personalized Ranking from Implicit Feedback"](https://arxiv.org/abs/1205.2618)
    (UAI 2009).

    Users and items are free embeddings, scored by their inner product,

    $$
    s(u, i) = \mathbf{e}_u^\top \mathbf{e}_i ,
    $$

    with no propagation: the graph is accepted, for a common interface with
    `LightGCN` and `NGCF`, and ignored. The per-layer stack has a single
    layer ($L = 0$). Embeddings are Xavier-uniform initialized, like the graph
    backbones, so that comparisons between backbones share one initial scale.

    Args:
        num_users (int): Number of users $U$.
        num_items (int): Number of items $I$.
        embedding_dim (int): Embedding size $D$. (default: ``64``)

    Shapes:
        - **input:** anything (or nothing); it is ignored
        - **output:** `Embeddings` with ``user_layers`` ``[U, 1, D]`` and
          ``item_layers`` ``[I, 1, D]``; `propagate_layers` returns ``[U + I, 1, D]``

    Examples:
        >>> model = MF(num_users=3, num_items=5, embedding_dim=4)
        >>> emb = model()
        >>> emb.user.shape, emb.item_layers.shape
        (torch.Size([3, 4]), torch.Size([5, 1, 4]))
    """

    pooling: Pooling = "mean"
    has_layers = False  # no propagation: no num_layers argument

    def __init__(self, num_users: int, num_items: int, embedding_dim: int = 64) -> None:
        super().__init__(num_users, num_items, embedding_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Re-draws the embeddings (Xavier-uniform)."""
        torch.nn.init.xavier_uniform_(self.embedding.weight)

    def propagate_layers(
        self, edge_index: Adj | None = None, edge_weight: OptTensor = None, *, x: OptTensor = None
    ) -> Tensor:
        """Returns the embedding table as ``[U + I, 1, D]``; ``edge_index`` is ignored.

        Args:
            edge_index (optional): Ignored.
            edge_weight (optional): Ignored.
            x (torch.Tensor, optional): ``[N, D]`` rows to return instead of the table.

        Returns:
            torch.Tensor: ``[N, 1, D]``.
        """
        return (self.embedding.weight if x is None else x).unsqueeze(1)

    def forward(self, edge_index: Adj | None = None, edge_weight: OptTensor = None) -> Embeddings:
        return super().forward(edge_index, edge_weight)
