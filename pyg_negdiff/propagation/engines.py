r"""Neighbour-sampling engines of `NeighborPropagation`: a plain-PyTorch one over
the graph's CSR, and PyG's `torch_geometric.sampler.NeighborSampler`.

Both return, for distinct global ``seeds``, the sampled computation graph:
``node`` (global ids, seeds first) and ``edge_index`` in local ids (source,
target). Hop $h$ takes up to ``num_neighbors[h-1]`` in-neighbours ($-1$: all)
of every node first reached at hop $h-1$.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import torch
from torch import Tensor
import torch_geometric.typing as pyg_typing


def resolve_engine(engine: str) -> str:
    """The neighbour-sampling engine ``engine`` names, ``"auto"`` resolved.

    Args:
        engine (str): ``"auto"``, ``"pyg"`` or ``"torch"``.

    Returns:
        str: ``"pyg"`` or ``"torch"``.

    Raises:
        ValueError: Unknown name, or ``"pyg"`` without ``pyg-lib`` or ``torch-sparse``.
    """
    available = pyg_typing.WITH_PYG_LIB or pyg_typing.WITH_TORCH_SPARSE
    if engine == "auto":  # torch-sparse's sampler draws with replacement (see NeighborPropagation)
        return "pyg" if pyg_typing.WITH_PYG_LIB else "torch"
    if engine not in ("pyg", "torch"):
        raise ValueError(
            f"unknown neighbour-sampling engine {engine!r}; choose 'auto', 'pyg' or 'torch'"
        )
    if engine == "pyg" and not available:
        raise ValueError(
            "neighbour-sampling engine 'pyg' needs pyg-lib or torch-sparse, and neither is "
            "installed: install one (see the Scaling out page), or use engine 'torch'"
        )
    return engine


def sample_neighbors(
    col: Tensor,
    rowptr: Tensor,
    nodes: Tensor,
    fanout: int,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Sampled in-edges ``(src, dst)`` of ``nodes`` (global ids) over a CSR by target.

    A node with $d_v > k$ in-neighbours gets $k$ distinct ones, at offsets
    $(s + \lfloor j d_v / k \rfloor) \bmod d_v$, $j < k$, with a uniform random
    start $s$: each kept with probability $k / d_v$.

    Args:
        col (torch.Tensor): ``[M]`` source of each edge, grouped by target.
        rowptr (torch.Tensor): ``[N + 1]`` start of each target's edges in ``col``.
        nodes (torch.Tensor): ``[n]`` target nodes.
        fanout (int): $k$, or ``-1`` for all neighbours.
        generator (torch.Generator, optional): Source of the random starts.

    Returns:
        tuple: ``src`` and ``dst``, global ids.

    Examples:
        >>> col, rowptr = torch.tensor([1, 2, 3, 0]), torch.tensor([0, 3, 4, 4, 4])
        >>> [t.tolist() for t in sample_neighbors(col, rowptr, torch.tensor([0, 1]), -1)]
        [[1, 2, 3, 0], [0, 0, 0, 1]]
    """
    start = rowptr[nodes]
    deg = rowptr[nodes + 1] - start
    take = deg if fanout < 0 else deg.clamp(max=fanout)
    dst = torch.repeat_interleave(nodes, take)
    offset = torch.arange(int(take.sum()), device=nodes.device)
    offset = offset - torch.repeat_interleave(take.cumsum(0) - take, take)  # j within a node
    if fanout > 0 and bool((deg > fanout).any()):
        # Systematic sample of k of d: random start, evenly spaced, all distinct.
        d = torch.repeat_interleave(deg, take)
        gen_device = generator.device if generator is not None else nodes.device
        start_off = (
            torch.rand(nodes.numel(), generator=generator, device=gen_device).to(nodes.device) * deg
        ).long()
        s = torch.repeat_interleave(start_off, take)
        sampled = (s + offset * d // torch.repeat_interleave(take, take).clamp(min=1)) % d.clamp(
            min=1
        )
        offset = torch.where(d > fanout, sampled, offset)
    return col[torch.repeat_interleave(start, take) + offset], dst


def sample_subgraph(
    col: Tensor,
    rowptr: Tensor,
    local: Tensor,
    num_neighbors: Sequence[int],
    seeds: Tensor,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """The ``"torch"`` engine: ``node`` (seeds first) and local ``edge_index`` (source, target).

    Args:
        col (torch.Tensor): ``[M]`` CSR sources by target.
        rowptr (torch.Tensor): ``[N + 1]`` CSR row pointers.
        local (torch.Tensor): ``[N]`` scratch map from global to local ids, all ``-1``
            (left so on return): allocated once by the caller, not per batch.
        num_neighbors (Sequence[int]): Fan-out of each hop.
        seeds (torch.Tensor): ``[S]`` distinct global node ids.
        generator (torch.Generator, optional): Source of randomness.

    Returns:
        tuple: ``node`` ``[N_s]`` and ``edge_index`` ``[2, M_s]``.
    """
    node = seeds
    local[seeds] = torch.arange(seeds.numel(), device=seeds.device)
    frontier, srcs, dsts = seeds, [], []
    try:
        for fanout in num_neighbors:
            if frontier.numel() == 0:
                break
            src, dst = sample_neighbors(col, rowptr, frontier, fanout, generator)
            new = torch.unique(src[local[src] < 0])
            local[new] = torch.arange(node.numel(), node.numel() + new.numel(), device=new.device)
            node = torch.cat([node, new])
            srcs.append(src)
            dsts.append(dst)
            frontier = new
        src = torch.cat(srcs) if srcs else seeds.new_empty(0)
        dst = torch.cat(dsts) if dsts else seeds.new_empty(0)
        return node, torch.stack([local[src], local[dst]])
    finally:
        local[node] = -1


class PyGEngine:
    r"""The ``"pyg"`` engine: PyG's `NeighborSampler` (the engine under
    `LinkNeighborLoader`), ``subgraph_type="directional"``.

    Its draws come from PyTorch's global generator, which is seeded from
    ``generator`` around each call and then restored. torch-sparse's draw
    without replacement is not uniform (its Floyd step draws from $[0, j)$
    instead of $[0, j]$: measured inclusion 0.21 to 0.35 for $k/d = 0.3$), so
    without ``pyg-lib`` it draws *with* replacement (``replace``), where
    $d_v / k$ per draw is still an unbiased weight.

    Args:
        edge_index (torch.Tensor): ``[2, M]`` graph.
        num_nodes (int): Number of nodes $N$.
        num_neighbors (Sequence[int]): Fan-out of each hop.
    """

    def __init__(self, edge_index: Tensor, num_nodes: int, num_neighbors: Sequence[int]) -> None:
        from torch_geometric.data import Data
        from torch_geometric.sampler import NeighborSampler

        self.replace = not pyg_typing.WITH_PYG_LIB
        # "without pyg-lib is deprecated": torch-sparse is what we have.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.sampler = NeighborSampler(
                Data(edge_index=edge_index.cpu(), num_nodes=num_nodes),
                list(num_neighbors),
                subgraph_type="directional",
                replace=self.replace,
            )

    def sample(
        self, seeds: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """``node`` (seeds first) and local ``edge_index`` (source, target), on the seeds' device.

        Args:
            seeds (torch.Tensor): ``[S]`` distinct global node ids.
            generator (torch.Generator, optional): Seeds the global generator for the call.

        Returns:
            tuple: ``node`` ``[N_s]`` and ``edge_index`` ``[2, M_s]``.
        """
        from torch_geometric.sampler import NodeSamplerInput

        draw = NodeSamplerInput(input_id=None, node=seeds.cpu())
        if generator is None:  # PyG's engine draws from the global generator
            out = self.sampler.sample_from_nodes(draw)
        else:  # seeded from ours, the global stream left where it was
            seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                out = self.sampler.sample_from_nodes(draw)
        return out.node.to(seeds.device), torch.stack([out.row, out.col]).to(seeds.device)


__all__ = ["PyGEngine", "resolve_engine", "sample_neighbors", "sample_subgraph"]
