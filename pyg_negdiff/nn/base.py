"""The interface every backbone shares: per-layer embeddings in, scores out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor
from torch_geometric.typing import Adj, OptTensor

Pooling = Literal["mean", "concat", "last"]


def pool_layers(layers: Tensor, pooling: Pooling) -> Tensor:
    r"""Combines per-layer embeddings ``[..., L+1, D]`` into one representation.

    ``"mean"`` gives LightGCN's $\frac{1}{L+1}\sum_l e^{(l)}$, ``"concat"``
    NGCF's $e^{(0)} \Vert \cdots \Vert e^{(L)}$ of size $(L+1)D$,
    and ``"last"`` the output of the final layer.
    """
    if pooling == "mean":
        return layers.mean(dim=-2)
    if pooling == "concat":
        return layers.flatten(-2)
    if pooling == "last":
        return layers[..., -1, :]
    raise ValueError(f"unknown pooling {pooling!r}")


@dataclass
class Embeddings:
    r"""The output of a backbone for all users and items.

    Keeping the per-layer stack lets samplers that work layer by layer (MixGCF)
    use the same output as the rest; ``user`` and ``item`` are the pooled
    representations that scores are computed from.

    Attributes:
        user_layers (torch.Tensor): ``[U, L+1, D]`` user embeddings per layer (layer 0 = ego).
        item_layers (torch.Tensor): ``[I, L+1, D]`` item embeddings per layer.
        pooling (str): How layers are combined (see `pool_layers`).
    """

    user_layers: Tensor
    item_layers: Tensor
    pooling: Pooling = "mean"

    def __post_init__(self) -> None:
        self.user = pool_layers(self.user_layers, self.pooling)
        self.item = pool_layers(self.item_layers, self.pooling)

    @classmethod
    def from_tensors(cls, user: Tensor, item: Tensor) -> "Embeddings":
        r"""Wraps the final user and item embeddings of any model.

        Samplers and the `pyg_negdiff.metrics.Evaluator` read a model's output
        through `Embeddings`. A model of your own, e.g. PyG's
        ``torch_geometric.nn.models.LightGCN`` whose ``get_embedding`` returns
        one ``[U + I, D]`` matrix, gives its user rows and item rows here. They
        become one-layer stacks whose pooled ``user`` and ``item`` equal the
        inputs, and scores are $s(u, i) = \mathbf{e}_u^\top \mathbf{e}_i$.
        Gradients flow through, so negatives built from them train the model.
        (`MixGCFSampler` mixes per-layer embeddings: for it, build `Embeddings`
        from the ``[U, L+1, D]`` and ``[I, L+1, D]`` stacks directly.)

        Args:
            user (torch.Tensor): ``[U, D]`` user embeddings.
            item (torch.Tensor): ``[I, D]`` item embeddings, in the same space.

        Returns:
            Embeddings: ``user_layers`` ``[U, 1, D]``, ``item_layers`` ``[I, 1, D]``.

        Examples:
            >>> import torch
            >>> emb = Embeddings.from_tensors(torch.ones(2, 4), torch.eye(3, 4))
            >>> emb.user.shape, emb.item.shape, emb.num_layers
            (torch.Size([2, 4]), torch.Size([3, 4]), 0)
            >>> emb.score(torch.tensor([0, 1]), torch.tensor([2, 0]))
            tensor([1., 1.])
        """
        user, item = torch.as_tensor(user), torch.as_tensor(item)
        if user.dim() != 2 or item.dim() != 2 or user.size(1) != item.size(1):
            raise ValueError(
                f"expected user [U, D] and item [I, D] embeddings of one size D, got "
                f"{tuple(user.shape)} and {tuple(item.shape)}"
            )
        return cls(user.unsqueeze(1), item.unsqueeze(1), "mean")

    @property
    def num_layers(self) -> int:
        return self.user_layers.size(1) - 1

    def pool(self, layers: Tensor) -> Tensor:
        """Pools a ``[..., L+1, D]`` stack the way this backbone does.

        Args:
            layers (torch.Tensor): ``[..., L+1, D]`` per-layer embeddings.
        """
        return pool_layers(layers, self.pooling)

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        r"""Scores $s(u, i) = \mathbf{e}_u^\top \mathbf{e}_i$ for matching (user, item) pairs.

        ``items`` may carry extra trailing candidate dimensions: ``users`` of shape
        ``[B]`` and ``items`` of shape ``[B, M]`` give ``[B, M]`` scores.

        Args:
            users (torch.Tensor): ``[B]`` user ids.
            items (torch.Tensor): ``[B]`` or ``[B, M]`` item ids.
        """
        u = self.user[users]
        v = self.item[items]
        if v.dim() == u.dim() + 1:
            return torch.einsum("bd,bmd->bm", u, v)
        return (u * v).sum(-1)

    def score_embeddings(self, users: Tensor, item_emb: Tensor) -> Tensor:
        """Scores users ``[B]`` against given item representations ``[B, D']`` or ``[B, M, D']``.

        Args:
            users (torch.Tensor): ``[B]`` user ids.
            item_emb (torch.Tensor): ``[B, D']`` or ``[B, M, D']`` item representations,
                e.g. synthesized negatives.
        """
        u = self.user[users]
        if item_emb.dim() == u.dim() + 1:
            return torch.einsum("bd,bmd->bm", u, item_emb)
        return (u * item_emb).sum(-1)

    def detach(self) -> "Embeddings":
        return Embeddings(self.user_layers.detach(), self.item_layers.detach(), self.pooling)


class Recommender(torch.nn.Module, ABC):
    r"""Base class of the backbones (`LightGCN`, `NGCF`, `MF`).

    A backbone maps the user-item graph to `Embeddings`:

    $$
    f_\theta(\mathcal{G}) = \big(\{\mathbf{e}^{(l)}_u\}_{l=0}^{L}, \{\mathbf{e}^{(l)}_i\}_{l=0}^{L}\big),
    \qquad s(u, i) = \mathbf{e}_u^\top \mathbf{e}_i .
    $$

    ``edge_index`` is either a ``[2, M]`` edge list (normalized inside the
    backbone on every call) or the sparse CSR matrix returned by
    `pyg_negdiff.data.graph.gcn_adjacency`, which is taken as already
    normalized: build it once and reuse it for every batch.

    Args:
        num_users (int): Number of users $U$.
        num_items (int): Number of items $I$.
        embedding_dim (int): Size $D$ of the layer-0 embeddings.
    """

    pooling: Pooling = "mean"
    #: Whether the backbone propagates over layers (takes ``num_layers``); `MF` does not.
    has_layers: bool = True

    def __init__(self, num_users: int, num_items: int, embedding_dim: int) -> None:
        super().__init__()
        self.num_users = num_users
        self.num_items = num_items
        self.embedding_dim = embedding_dim
        self.embedding = torch.nn.Embedding(num_users + num_items, embedding_dim)

    @property
    def num_nodes(self) -> int:
        return self.num_users + self.num_items

    @property
    def output_dim(self) -> int:
        """Size $D'$ of the pooled embeddings that scores (and synthesized negatives) live in."""
        if self.pooling == "concat":
            return self.embedding_dim * (getattr(self, "num_layers", 0) + 1)
        return self.embedding_dim

    def reset_parameters(self) -> None:
        torch.nn.init.normal_(self.embedding.weight, std=0.1)

    @abstractmethod
    def propagate_layers(
        self, edge_index: Adj, edge_weight: OptTensor = None, *, x: OptTensor = None
    ) -> Tensor:
        """Returns the per-layer node embeddings ``[N, L + 1, D]``.

        Args:
            edge_index (torch.Tensor): The graph (see the class docstring).
            edge_weight (torch.Tensor, optional): Edge weights of an edge list.
            x (torch.Tensor, optional): ``[N, D]`` layer-0 embeddings of the nodes
                of ``edge_index`` (a subgraph, see `pyg_negdiff.propagation`);
                defaults to the whole table, $N = U + I$.

        Returns:
            torch.Tensor: ``[N, L + 1, D]`` embeddings per layer.
        """

    def propagate_layer(self, index: int, x: Tensor, adj: Adj) -> tuple[Tensor, Tensor]:
        """Runs layer ``index`` alone, for layer-wise inference.

        Args:
            index (int): Layer $l$, counted from 0.
            x (torch.Tensor): ``[N, D]`` input of the layer.
            adj (torch.Tensor): ``[N, N]`` normalized sparse adjacency.

        Returns:
            tuple: The input of the next layer and the layer's output as
            `propagate_layers` stacks it.
        """
        raise NotImplementedError(f"{self.__class__.__name__} has no propagation layers")

    def forward(self, edge_index: Adj, edge_weight: OptTensor = None) -> Embeddings:
        """Embeddings of all users and items on the graph.

        Args:
            edge_index (torch.Tensor or SparseTensor): ``[2, M]`` edges over the
                $U + I$ nodes (both directions), or the normalized adjacency
                from `pyg_negdiff.data.graph.gcn_adjacency`.
            edge_weight (torch.Tensor, optional): ``[M]`` edge weights.

        Returns:
            Embeddings: Per-layer and pooled user and item embeddings.
        """
        layers = self.propagate_layers(edge_index, edge_weight)
        return Embeddings(layers[: self.num_users], layers[self.num_users :], self.pooling)

    def ego_embeddings(
        self, users: Tensor, items: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Layer-0 embeddings of given users and items (what L2 regularization acts on).

        Args:
            users (torch.Tensor): User ids.
            items (torch.Tensor, optional): Item ids, counted from 0.

        Returns:
            tuple: The users' rows and the items' rows (``None`` without ``items``).
        """
        u = self.embedding.weight[users]
        i = None if items is None else self.embedding.weight[items + self.num_users]
        return u, i

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.num_users} users, {self.num_items} items, "
            f"embedding_dim={self.embedding_dim})"
        )
