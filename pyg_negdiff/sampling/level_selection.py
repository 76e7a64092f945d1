r"""How CNSDiff picks one of its $K$ candidates per pair (one per noise level)."""

from __future__ import annotations

import torch
from torch import Tensor

from pyg_negdiff.diffusion.schedule import NoiseSchedule


def select_hardest(candidates: Tensor, scores: Tensor) -> tuple[Tensor, Tensor]:
    r"""The candidate of highest score per pair.

    Args:
        candidates (torch.Tensor): ``[K, B, D']``.
        scores (torch.Tensor): ``[K, B]`` user scores of the candidates.

    Returns:
        tuple: ``[B, D']`` hardest candidates and ``[B]`` their level index $k^*$.

    Examples:
        >>> c = torch.arange(12.0).view(3, 2, 2)
        >>> hard, k = select_hardest(c, torch.tensor([[0., 5.], [2., 1.], [1., 0.]]))
        >>> k.tolist(), hard.tolist()
        ([1, 0], [[4.0, 5.0], [2.0, 3.0]])
    """
    return gather_levels(candidates, scores.argmax(dim=0))


def select_band(candidates: Tensor, scores: Tensor, pos_score: Tensor) -> tuple[Tensor, Tensor]:
    r"""The highest-scoring candidate below the positive per pair, else the lowest.

    Args:
        candidates (torch.Tensor): ``[K, B, D']``.
        scores (torch.Tensor): ``[K, B]`` user scores of the candidates.
        pos_score (torch.Tensor): ``[B]`` scores $s_{ui}$ of the positives.

    Returns:
        tuple: ``[B, D']`` chosen candidates and ``[B]`` their level index $k^*$.

    Examples:
        >>> c = torch.arange(12.0).view(3, 2, 2)
        >>> s = torch.tensor([[0., 5.], [2., 4.], [1., 6.]])
        >>> select_band(c, s, torch.tensor([1.5, 3.0]))[1].tolist()
        [2, 1]
    """
    below = scores < pos_score.unsqueeze(0)
    index = scores.masked_fill(~below, float("-inf")).argmax(dim=0)
    index = torch.where(below.any(dim=0), index, scores.argmin(dim=0))
    return gather_levels(candidates, index)


def gather_levels(candidates: Tensor, index: Tensor) -> tuple[Tensor, Tensor]:
    """The candidate of level ``index[b]`` for every pair ``b``, and ``index``."""
    hard = candidates.gather(0, index.view(1, -1, 1).expand(1, -1, candidates.size(-1))).squeeze(0)
    return hard, index


def start_mean(
    schedule: NoiseSchedule, t: Tensor, pos_emb: Tensor, rand_emb: Tensor, ratio: Tensor | None
) -> Tensor:
    r"""The noise-free part of each chosen start point, in the embedding scale.

    $\sqrt{\bar\alpha_t}\,\mathbf{e}_i$ (positive anchor, ``ratio`` ``None``), or
    $\sqrt{\bar\alpha_t}\,\mathbf{e}_j + \sqrt{1 - \bar\alpha_t}\,(r_j / r_i)\,\mathbf{e}_i$
    (negative anchor, ``ratio`` $= r_j / r_i$): what ``gradient="linear"`` routes the
    synthesized row's gradient through.

    Args:
        schedule (NoiseSchedule): The diffusion's schedule.
        t (torch.Tensor): ``[B]`` chosen steps.
        pos_emb (torch.Tensor): ``[B, D']`` positives $\mathbf{e}_i$.
        rand_emb (torch.Tensor): ``[B, D']`` real negatives $\mathbf{e}_j$.
        ratio (torch.Tensor, optional): ``[B, 1]`` RMS ratios $r_j / r_i$.

    Returns:
        torch.Tensor: ``[B, D']``.
    """
    a = schedule.sqrt_alphas_cumprod[t].unsqueeze(-1).to(pos_emb.dtype)
    if ratio is None:
        return a * pos_emb
    b = schedule.sqrt_one_minus_alphas_cumprod[t].unsqueeze(-1).to(pos_emb.dtype)
    return a * rand_emb + b * ratio * pos_emb
