r"""What DNS, AHNS and MixGCF share: $M$ uniform candidates per negative, scored
by the current model in blocks of rows."""

from __future__ import annotations

import torch
from torch import Tensor

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.sampling.base import NegativeSample, NegativeSampler, SamplerState

#: Embedding values gathered at once when candidates are scored. Blocks of this
#: size keep the gathered copy small: memory stays $O(\text{CHUNK\_SIZE})$ whatever
#: $B \cdot M \cdot D'$ is, and on CPU a block is reused from the heap instead of
#: page-faulting in a fresh allocation every batch (a large share of the cost otherwise).
CHUNK_SIZE = 2**21


def draw_candidates(
    sampler: NegativeSampler,
    users: Tensor,
    num_negatives: int,
    num_candidates: int,
    generator: torch.Generator | None,
) -> Tensor:
    """``[B, K, M]`` uniform non-positive candidates: $M$ for each of the $K$ negatives of a pair."""
    cand = sampler.uniform_candidates(users, num_negatives * num_candidates, generator)
    return cand.view(users.numel(), num_negatives, num_candidates)


def gather_rows(table: Tensor, index: Tensor) -> Tensor:
    """``table[index]`` for a table ``[N, ...]`` and any ``index``, as one row copy (`torch.index_select`).

    Examples:
        >>> gather_rows(torch.arange(6.0).view(3, 2), torch.tensor([[2, 0]])).tolist()
        [[[4.0, 5.0], [0.0, 1.0]]]
    """
    rows = table.reshape(table.size(0), -1).index_select(0, index.reshape(-1))
    return rows.view(*index.shape, *table.shape[1:])


def block_size(values_per_row: int, chunk_size: int | None = None) -> int:
    """Rows per block so that a block holds at most ``chunk_size`` values (default
    `CHUNK_SIZE`), and at least one row.

    Examples:
        >>> block_size(10, 25), block_size(100, 25)
        (2, 1)
    """
    return max(1, (chunk_size or CHUNK_SIZE) // max(1, values_per_row))


def score_candidates(
    state: SamplerState, users: Tensor, candidates: Tensor, chunk_size: int | None = None
) -> Tensor:
    r"""$s(u, j) = \mathbf{e}_u^\top \mathbf{e}_j$ of ``[B, K, M]`` candidates, without gradients."""
    B = users.numel()
    flat = candidates.reshape(B, -1)
    with torch.no_grad():
        user, item = state.emb.user, state.emb.item
        rows = block_size(flat.size(1) * item.size(-1), chunk_size)
        out = [
            torch.bmm(
                gather_rows(item, flat[s : s + rows]), user[users[s : s + rows]].unsqueeze(-1)
            )
            for s in range(0, B, rows)
        ]
        return torch.cat(out).view(candidates.shape)


def chosen_negatives(
    state: SamplerState, cand: Tensor, scores: Tensor, pick: Tensor
) -> NegativeSample:
    """The candidates at positions ``pick`` (``[B, K]``) as a `NegativeSample`.

    ``cand`` and ``scores`` are ``[B, K, M]``; a single negative per pair
    (``K = 1``) comes back as ``[B]``. The mean score of the chosen negatives
    is logged as their hardness.
    """
    pick = pick.unsqueeze(-1)
    items = cand.gather(-1, pick).squeeze(-1)
    hardness = scores.gather(-1, pick).mean()
    if items.size(-1) == 1:
        items = items.squeeze(-1)
    return NegativeSample(
        emb=state.emb.item[items], items=items, logs={"neg_score": float(hardness)}
    )


class CandidateSampler(NegativeSampler):
    r"""Base class of the samplers that choose among $M$ uniform candidates
    per negative (`DNSSampler`, `AHNSSampler`, `MixGCFSampler`).

    For each (user $u$, positive) pair and each of its $K$ negatives, $M$
    items $\mathcal{C}_u = \{j_1, \ldots, j_M\}$ are drawn uniformly, with
    replacement, from the user's non-positives (`draw_candidates`, through
    `NegativeSampler.uniform_candidates`, so the sampler also runs on a
    neighbour subgraph). A subclass scores them (`score_candidates`:
    $s(u, j) = \mathbf{e}_u^\top \mathbf{e}_j$ without gradients) and picks
    one per negative (`chosen_negatives`), or mixes them as MixGCF does.

    Args:
        train_pairs (PairSet): Training positives, never drawn.
        num_candidates (int): Candidates per negative $M \ge 1$.
        num_negatives (int): Negatives per (user, positive) pair $K \ge 1$.

    Examples:
        >>> pairs = PairSet(torch.tensor([[0], [0]]), num_users=1, num_items=5)
        >>> from pyg_negdiff.sampling import DNSSampler
        >>> sampler = DNSSampler(pairs, num_candidates=4, num_negatives=2)
        >>> sampler.num_candidate_items, sampler.draw(torch.tensor([0])).shape
        (8, torch.Size([1, 2, 4]))
    """

    def __init__(self, train_pairs: PairSet, num_candidates: int, num_negatives: int = 1) -> None:
        super().__init__(train_pairs)
        if num_candidates < 1 or num_negatives < 1:
            raise ValueError(
                f"num_candidates and num_negatives must be >= 1, got "
                f"{num_candidates} and {num_negatives}"
            )
        self.num_candidates = num_candidates
        self.num_negatives = num_negatives

    @property
    def num_candidate_items(self) -> int:
        """Items drawn per pair, $K M$ (see `NegativeSampler.candidate_items`)."""
        return self.num_negatives * self.num_candidates

    def draw(self, users: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``[B, K, M]`` uniform candidates of the batch's users (see `draw_candidates`).

        Args:
            users (torch.Tensor): ``[B]`` user ids.
            generator (torch.Generator, optional): Source of randomness.

        Returns:
            torch.Tensor: ``[B, K, M]`` item ids.
        """
        return draw_candidates(self, users, self.num_negatives, self.num_candidates, generator)


__all__ = [
    "CHUNK_SIZE",
    "CandidateSampler",
    "block_size",
    "chosen_negatives",
    "draw_candidates",
    "gather_rows",
    "score_candidates",
]
