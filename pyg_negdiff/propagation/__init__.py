r"""Propagation strategies: which embeddings a training step computes, and how.

The `Trainer` asks a strategy for the embeddings of a batch and never looks
at the graph itself:

- `FullPropagation` propagates over the whole normalized adjacency once per
  step (memory and time grow with the graph).
- `NeighborPropagation` propagates over the sampled $L$-hop subgraph around
  the batch's users, positives and the sampler's candidate items (memory and
  time grow with the fan-out), normalized with the *full-graph* degrees, so
  that with an unlimited fan-out both compute the same model. Its engines
  (plain PyTorch, PyG's `NeighborSampler`) live in `engines`.
- `ShardedPropagation` splits a strategy's batches over the ranks of a
  process group (`pyg_negdiff.distributed` wraps a strategy in it).

A new strategy subclasses `Propagation` and registers its class in
`PROPAGATIONS` to be reachable by name (`build_propagation`).
"""

from __future__ import annotations

from typing import Sequence

from torch import Tensor

from pyg_negdiff.propagation.base import BatchEmbeddings, Propagation
from pyg_negdiff.propagation.engines import resolve_engine
from pyg_negdiff.propagation.full import FullPropagation
from pyg_negdiff.propagation.neighbor import NeighborPropagation
from pyg_negdiff.propagation.sharded import ShardedPropagation

#: Strategy name to class, what `build_propagation` (and ``RunConfig.propagation``) reads.
#: `ShardedPropagation` wraps a built strategy and has no name.
PROPAGATIONS: dict[str, type[Propagation]] = {
    "full": FullPropagation,
    "neighbor": NeighborPropagation,
}


def build_propagation(
    name: str,
    edge_index: Tensor,
    num_users: int,
    num_items: int,
    num_neighbors: Sequence[int] | None = None,
    engine: str = "auto",
    sparse_gradients: bool = True,
) -> Propagation:
    """Builds a propagation strategy by name (a key of `PROPAGATIONS`).

    Each class takes the options it has a use for and refuses the others
    (`Propagation.from_options`).

    Args:
        name (str): ``"full"`` or ``"neighbor"``.
        edge_index (torch.Tensor): ``[2, M]`` training graph, both directions.
        num_users (int): Number of users $U$.
        num_items (int): Number of items $I$.
        num_neighbors (Sequence[int], optional): Fan-out per hop (``"neighbor"`` only).
        engine (str): Neighbour-sampling engine (``"neighbor"`` only, see
            `NeighborPropagation`). (default: ``"auto"``)
        sparse_gradients (bool): Sparse embedding gradients (``"neighbor"``
            only). (default: ``True``)

    Returns:
        Propagation: The strategy.

    Examples:
        >>> import torch
        >>> build_propagation("full", torch.tensor([[0, 1], [1, 0]]), num_users=1, num_items=1)
        FullPropagation()
    """
    if name not in PROPAGATIONS:
        names = [repr(k) for k in PROPAGATIONS]
        raise ValueError(
            f"unknown propagation {name!r}; choose {', '.join(names[:-1])} or {names[-1]}"
        )
    return PROPAGATIONS[name].from_options(
        edge_index,
        num_users,
        num_items,
        num_neighbors=num_neighbors,
        engine=engine,
        sparse_gradients=sparse_gradients,
    )


__all__ = [
    "BatchEmbeddings",
    "FullPropagation",
    "NeighborPropagation",
    "PROPAGATIONS",
    "Propagation",
    "ShardedPropagation",
    "build_propagation",
    "resolve_engine",
]
