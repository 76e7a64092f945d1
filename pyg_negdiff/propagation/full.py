r"""`FullPropagation`: the whole normalized adjacency, once per step."""

from __future__ import annotations

import torch
from torch import Tensor

from pyg_negdiff.data.graph import gcn_adjacency
from pyg_negdiff.nn.base import Embeddings, Recommender
from pyg_negdiff.propagation.base import BatchEmbeddings, Propagation


class FullPropagation(Propagation):
    r"""Propagates over the whole graph in every step (the default).

    Each step computes $E^{(l+1)} = \hat{A} E^{(l)}$ for all $N = U + I$
    nodes with $\hat{A} = D^{-1/2} A D^{-1/2}$ built once
    (`pyg_negdiff.data.graph.gcn_adjacency`). A step costs $O(L(|E| D + N D))$
    time and keeps $O(L N D)$ activations for the backward pass, whatever
    the batch size.

    Args:
        edge_index (torch.Tensor): ``[2, M]`` training graph, both directions.
        num_users (int): Number of users $U$.
        num_items (int): Number of items $I$.

    Examples:
        >>> from pyg_negdiff.data.graph import bipartite_edge_index
        >>> from pyg_negdiff.nn import LightGCN
        >>> edge_index = bipartite_edge_index(torch.tensor([[0, 0, 1], [0, 2, 1]]), num_users=2)
        >>> prop = FullPropagation(edge_index, num_users=2, num_items=3)
        >>> batch = prop(LightGCN(2, 3, embedding_dim=4), torch.tensor([0]), torch.tensor([2]))
        >>> batch.emb.item.shape, batch.is_subgraph
        (torch.Size([3, 4]), False)
    """

    def __init__(self, edge_index: Tensor, num_users: int, num_items: int) -> None:
        super().__init__(edge_index, num_users, num_items)
        self.adj = gcn_adjacency(edge_index, self.num_nodes)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"

    def __call__(
        self,
        model: Recommender,
        users: Tensor,
        pos_items: Tensor,
        candidates: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> BatchEmbeddings:
        """All users and items, with ids unchanged (see `Propagation.__call__`).

        Args:
            model (Recommender): The backbone.
            users (torch.Tensor): ``[B]`` user ids.
            pos_items (torch.Tensor): ``[B]`` positive item ids.
            candidates (torch.Tensor, optional): Passed through.
            generator (torch.Generator, optional): Unused.

        Returns:
            BatchEmbeddings: The whole tables.
        """
        return BatchEmbeddings(model(self.adj), users, pos_items, candidates)

    def embeddings(self, model: Recommender) -> Embeddings:
        """All embeddings in one propagation (see `Propagation.embeddings`).

        Args:
            model (Recommender): The backbone.

        Returns:
            Embeddings: All users and items.
        """
        with torch.no_grad():
            return model(self.adj)

    def to(self, device: torch.device | str) -> "FullPropagation":
        """Moves the adjacency (see `Propagation.to`).

        Args:
            device (torch.device or str): Target device.

        Returns:
            FullPropagation: ``self``.
        """
        self.adj = self.adj.to(device)
        return self


__all__ = ["FullPropagation"]
