r"""What every propagation strategy is: `Propagation`, and the `BatchEmbeddings` it returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.nn.base import Embeddings, Recommender


@dataclass
class BatchEmbeddings:
    r"""What a propagation strategy returns for one training batch.

    The embedding tables hold the rows the batch needs; ``users``,
    ``pos_items`` and ``candidates`` index into them. ``user_ids`` and
    ``item_ids`` give the global id of each row, or are ``None`` when the rows
    are all users and items in id order (full propagation).

    Attributes:
        emb (Embeddings): Embeddings of the batch's rows (with gradients).
        users (torch.Tensor): ``[B]`` the batch's users, as rows of ``emb.user``.
        pos_items (torch.Tensor): ``[B]`` its positives, as rows of ``emb.item``.
        candidates (torch.Tensor, optional): ``[B, M]`` the sampler's candidate
            items, as rows of ``emb.item``.
        user_ids (torch.Tensor, optional): Global id of each row of ``emb.user``.
        item_ids (torch.Tensor, optional): Global id of each row of ``emb.item``.
    """

    emb: Embeddings
    users: Tensor
    pos_items: Tensor
    candidates: Tensor | None = None
    user_ids: Tensor | None = None
    item_ids: Tensor | None = None

    @property
    def is_subgraph(self) -> bool:
        """Whether rows are a subset (ids must be translated) rather than the whole graph."""
        return self.item_ids is not None

    def global_items(self, items: Tensor | None) -> Tensor | None:
        """Global ids of item rows (any shape; ``None`` passes through).

        Args:
            items (torch.Tensor, optional): Rows of ``emb.item``.

        Returns:
            torch.Tensor, optional: Their item ids.
        """
        if items is None or self.item_ids is None:
            return items
        return self.item_ids[items]

    def local_pairs(self, pairs: PairSet) -> PairSet:
        """The training pairs among the batch's rows, in row ids.

        Args:
            pairs (PairSet): Training pairs in global ids.

        Returns:
            PairSet: The pairs whose user and item both have a row, as rows.
        """
        if self.user_ids is None or self.item_ids is None:
            return pairs
        row, item = pairs.rows(self.user_ids)
        # Rows need not be sorted or distinct (a sharded batch repeats items): match every copy.
        order = torch.argsort(self.item_ids)
        ids = self.item_ids[order]
        item = item.to(ids.device)
        lo = torch.searchsorted(ids, item)
        count = torch.searchsorted(ids, item, right=True) - lo
        first = torch.repeat_interleave(count.cumsum(0) - count, count)
        slot = (
            torch.repeat_interleave(lo, count)
            + torch.arange(int(count.sum()), device=ids.device)
            - first
        )
        index = torch.stack([torch.repeat_interleave(row.to(ids.device), count), order[slot]])
        return PairSet(index, self.user_ids.numel(), self.item_ids.numel())


class Propagation(ABC):
    r"""Base class of the propagation strategies.

    A strategy is called once per training step as
    ``propagation(model, users, pos_items, candidates, generator)`` and
    returns `BatchEmbeddings`; `embeddings` gives every user and item for
    evaluation.

    Args:
        edge_index (torch.Tensor, optional): ``[2, M]`` training graph (users
            $0 \ldots U-1$, items $U \ldots U+I-1$, both directions, as from
            `pyg_negdiff.data.graph.bipartite_edge_index`); ``None`` for a strategy
            that wraps another.
        num_users (int): Number of users $U$.
        num_items (int): Number of items $I$.
    """

    #: Whether the strategy needs the sampler's candidate items before it propagates.
    needs_candidates: bool = False
    #: Whether a step embeds only the batch's own rows (a subgraph), so that the
    #: ranks of a process group can split a batch between them (`ShardedPropagation`);
    #: a strategy that embeds the whole graph anyway runs the whole batch on each rank.
    shardable: bool = False
    #: Whether the strategy samples neighbours, and so takes a fan-out per layer
    #: (``num_neighbors``), a sampling ``engine`` and ``sparse_gradients`` (`from_options`);
    #: `pyg_negdiff.experiment.RunConfig.validate` checks those options against it.
    samples_neighbors: bool = False

    def __init__(self, edge_index: Tensor | None, num_users: int, num_items: int) -> None:
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.num_nodes = self.num_users + self.num_items
        # ``None``: a strategy that wraps another and holds no graph of its own.
        if (
            edge_index is not None
            and edge_index.numel()
            and int(edge_index.max()) >= self.num_nodes
        ):
            raise ValueError(
                f"edge_index refers to node {int(edge_index.max())}, but the graph has "
                f"{self.num_nodes} nodes"
            )

    @abstractmethod
    def __call__(
        self,
        model: Recommender,
        users: Tensor,
        pos_items: Tensor,
        candidates: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> BatchEmbeddings:
        """Embeddings of one training batch.

        Args:
            model (Recommender): The backbone.
            users (torch.Tensor): ``[B]`` user ids.
            pos_items (torch.Tensor): ``[B]`` positive item ids.
            candidates (torch.Tensor, optional): ``[B, M]`` the sampler's
                candidate items (from `NegativeSampler.candidate_items`).
            generator (torch.Generator, optional): Source of randomness of the
                neighbour sampling.

        Returns:
            BatchEmbeddings: The batch's rows.
        """

    def check(self, model: Recommender) -> None:
        """Raises ``ValueError`` if this strategy cannot propagate ``model``.

        Args:
            model (Recommender): The backbone.
        """

    def sparse_parameters(self, model: Recommender) -> list[torch.nn.Parameter]:
        """Parameters of ``model`` that this strategy gives sparse gradients
        (the trainer steps them with `torch.optim.SparseAdam`, see `pyg_negdiff.optim`).

        Args:
            model (Recommender): The backbone.

        Returns:
            list: None by default.
        """
        return []

    @classmethod
    def from_options(
        cls,
        edge_index: Tensor,
        num_users: int,
        num_items: int,
        *,
        num_neighbors: Sequence[int] | None = None,
        engine: str = "auto",
        sparse_gradients: bool = True,
    ) -> "Propagation":
        """Builds the strategy from the options `build_propagation` takes, refusing
        those it has no use for. By default it takes the graph alone.

        Args:
            edge_index (torch.Tensor): ``[2, M]`` training graph, both directions.
            num_users (int): Number of users $U$.
            num_items (int): Number of items $I$.
            num_neighbors (Sequence[int], optional): Fan-out per hop.
            engine (str): Neighbour-sampling engine.
            sparse_gradients (bool): Sparse embedding gradients.

        Returns:
            Propagation: The strategy.
        """
        if num_neighbors:
            raise ValueError("num_neighbors applies to propagation 'neighbor' only")
        return cls(edge_index, num_users, num_items)

    @abstractmethod
    def embeddings(self, model: Recommender) -> Embeddings:
        """Embeddings of all users and items, without gradients (for evaluation).

        Args:
            model (Recommender): The backbone (put in eval mode by the caller).

        Returns:
            Embeddings: ``[U, L+1, D]`` and ``[I, L+1, D]`` layers.
        """

    @abstractmethod
    def to(self, device: torch.device | str) -> "Propagation":
        """Moves the graph to ``device`` and returns ``self``.

        Args:
            device (torch.device or str): Target device.

        Returns:
            Propagation: ``self``.
        """


__all__ = ["BatchEmbeddings", "Propagation"]
