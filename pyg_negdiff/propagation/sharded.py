r"""`ShardedPropagation`: the ranks of a process group split each batch's propagation
(see `pyg_negdiff.distributed` for how the gradients add up)."""

from __future__ import annotations

import warnings
from typing import Sequence

import torch
from torch import Tensor
from torch.distributed.nn.functional import all_gather

from pyg_negdiff.nn.base import Embeddings, Recommender
from pyg_negdiff.propagation.base import BatchEmbeddings, Propagation


def shard_bounds(size: int, world_size: int) -> list[int]:
    """Boundaries of ``world_size`` contiguous shards of ``size`` items, sizes differing by at most one.

    Args:
        size (int): Items to split.
        world_size (int): Number of shards $W$.

    Returns:
        list[int]: $W + 1$ offsets; shard $r$ is ``[bounds[r], bounds[r + 1])``.

    Examples:
        >>> shard_bounds(10, 3)
        [0, 4, 7, 10]
    """
    base, extra = divmod(size, world_size)
    bounds = [0]
    for r in range(world_size):
        bounds.append(bounds[-1] + base + (1 if r < extra else 0))
    return bounds


def _shard_offsets(sizes: Sequence[int]) -> list[int]:
    """Start of each shard's rows when shards of ``sizes`` are concatenated."""
    out = [0]
    for n in sizes[:-1]:
        out.append(out[-1] + n)
    return out


def _gather_rows(rows: Tensor, sizes: Sequence[int]) -> list[Tensor]:
    """All ranks' ``rows`` (``sizes[r]`` rows from rank ``r``), with gradients to their owners."""
    pad = max(sizes) - rows.size(0)
    if pad:
        rows = torch.cat([rows, rows.new_zeros(pad, *rows.shape[1:])])
    with warnings.catch_warnings():  # deprecated in favour of a private API; it is the public one
        warnings.simplefilter("ignore", FutureWarning)
        parts = all_gather(rows)
    return [part[:n] for part, n in zip(parts, sizes)]


class ShardedPropagation(Propagation):
    r"""Splits each batch's propagation over the ranks of a process group.

    Rank $r$ calls ``inner`` on its shard (`shard_bounds`) of the batch's
    pairs and candidates, and the shards' rows are all-gathered with
    gradients into one `BatchEmbeddings` of the whole batch (rows of shard
    $r$ first for $r = 0, \ldots, W-1$; an item seeded by two shards has a
    row in each). A strategy that embeds the whole graph anyway
    (`FullPropagation`; ``shardable`` is false) is called on the whole batch,
    unsplit. See `pyg_negdiff.distributed` for the gradient.

    Args:
        inner (Propagation): The strategy each rank runs on its shard.
        rank (int): This process's rank $r$.
        world_size (int): Number of processes $W$.
        seed (int): Seed of the neighbour sampling, offset by ``rank``.
    """

    def __init__(self, inner: Propagation, rank: int, world_size: int, seed: int = 0) -> None:
        super().__init__(None, inner.num_users, inner.num_items)
        self.inner, self.rank, self.world_size = inner, rank, world_size
        self.generator = torch.Generator().manual_seed(seed + 1 + rank)

    @property
    def needs_candidates(self) -> bool:  # type: ignore[override]
        """The inner strategy's (see `Propagation.needs_candidates`)."""
        return self.inner.needs_candidates

    @property
    def shardable(self) -> bool:  # type: ignore[override]
        """The inner strategy's (see `Propagation.shardable`)."""
        return self.inner.shardable

    def check(self, model: Recommender) -> None:
        """See `Propagation.check`.

        Args:
            model (Recommender): The backbone.
        """
        self.inner.check(model)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.inner!r}, world_size={self.world_size})"

    def sparse_parameters(self, model: Recommender) -> list[torch.nn.Parameter]:
        """The inner strategy's (see `Propagation.sparse_parameters`).

        Args:
            model (Recommender): The backbone.

        Returns:
            list: Parameters with sparse gradients.
        """
        return self.inner.sparse_parameters(model)

    def embeddings(self, model: Recommender) -> Embeddings:
        """The inner strategy's full embeddings (see `Propagation.embeddings`).

        Args:
            model (Recommender): The backbone.

        Returns:
            Embeddings: All users and items.
        """
        return self.inner.embeddings(model)

    def to(self, device: torch.device | str) -> "ShardedPropagation":
        """Moves the inner strategy (see `Propagation.to`).

        Args:
            device (torch.device or str): Target device.

        Returns:
            ShardedPropagation: ``self``.
        """
        self.inner.to(device)
        if torch.device(device).type != self.generator.device.type:
            self.generator = torch.Generator(device=device).manual_seed(
                self.generator.initial_seed()
            )
        return self

    def __call__(
        self,
        model: Recommender,
        users: Tensor,
        pos_items: Tensor,
        candidates: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> BatchEmbeddings:
        """The whole batch's rows, this rank propagating its shard (see `Propagation.__call__`).

        Args:
            model (Recommender): The backbone.
            users (torch.Tensor): ``[B]`` user ids of the global batch.
            pos_items (torch.Tensor): ``[B]`` its positives.
            candidates (torch.Tensor, optional): ``[B, M]`` its candidate items.
            generator (torch.Generator, optional): Unused: the sampling draws from
                this rank's own generator.

        Returns:
            BatchEmbeddings: Rows of every shard.
        """
        if not self.inner.shardable:
            return self.inner(model, users, pos_items, candidates, generator)
        bounds = shard_bounds(users.numel(), self.world_size)
        shards = [slice(bounds[r], bounds[r + 1]) for r in range(self.world_size)]
        items = (
            pos_items if candidates is None else torch.cat([pos_items[:, None], candidates], dim=1)
        )
        # Every rank can tell every shard's rows: the distinct users and items, sorted.
        layout = [
            (
                torch.unique(users[s], return_inverse=True),
                torch.unique(items[s], return_inverse=True),
            )
            for s in shards
        ]
        own = shards[self.rank]
        part = self.inner(
            model,
            users[own],
            pos_items[own],
            None if candidates is None else candidates[own],
            self.generator,
        )
        user_sizes = [u[0].numel() for u, _ in layout]
        item_sizes = [i[0].numel() for _, i in layout]
        emb = Embeddings(
            torch.cat(_gather_rows(part.emb.user_layers, user_sizes)),
            torch.cat(_gather_rows(part.emb.item_layers, item_sizes)),
            part.emb.pooling,
        )
        user_off, item_off = _shard_offsets(user_sizes), _shard_offsets(item_sizes)
        user_rows = torch.cat([u[1] + user_off[r] for r, (u, _) in enumerate(layout)])
        item_rows = torch.cat([i[1] + item_off[r] for r, (_, i) in enumerate(layout)])
        return BatchEmbeddings(
            emb,
            user_rows,
            item_rows[:, 0] if candidates is not None else item_rows,
            item_rows[:, 1:] if candidates is not None else None,
            torch.cat([u[0] for u, _ in layout]),
            torch.cat([i[0] for _, i in layout]),
        )


__all__ = ["ShardedPropagation", "shard_bounds"]
