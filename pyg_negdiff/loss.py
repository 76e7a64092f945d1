"""Training losses. Each returns per-interaction values so that the
environment penalty (`pyg_negdiff.causal`) can group them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def bpr_loss(pos_score: Tensor, neg_score: Tensor, weight: Tensor | None = None) -> Tensor:
    r"""Bayesian personalized ranking loss per interaction.

    $$
    \ell_{\text{BPR}}(u, i, j) = -\log \sigma\big(s(u, i) - s(u, j)\big)
    $$

    computed as $\operatorname{softplus}(s_{uj} - s_{ui})$ for stability.
    With several negatives per pair (``neg_score`` of shape ``[B, K]``) the
    loss is averaged over them, or, with ``weight``, summed with those weights:
    $\sum_k w_{k} \ell_{\text{BPR}}(u, i, j_k)$.

    Args:
        pos_score (torch.Tensor): ``[B]`` positive scores.
        neg_score (torch.Tensor): ``[B]`` or ``[B, K]`` negative scores.
        weight (torch.Tensor, optional): ``[K]`` or ``[B, K]`` weights of the
            negatives (only with ``[B, K]`` scores); ``None`` averages.

    Returns:
        torch.Tensor: ``[B]`` losses.

    Examples:
        >>> pos, neg = torch.zeros(1), torch.zeros(1, 2)
        >>> bpr_loss(pos, neg).tolist(), bpr_loss(pos, neg, torch.tensor([1.0, 0.5])).tolist()
        ([0.6931...], [1.0397...])
    """
    if neg_score.dim() == pos_score.dim() + 1:
        per_negative = F.softplus(neg_score - pos_score.unsqueeze(-1))
        if weight is None:
            return per_negative.mean(-1)
        return (per_negative * weight).sum(-1)
    if weight is not None:
        raise ValueError("weight needs [B, K] negative scores (several negatives per pair)")
    return F.softplus(neg_score - pos_score)


def l2_regularization(*tensors: Tensor | None) -> Tensor:
    r"""Batch L2 penalty $\frac{1}{2B}\sum_x \lVert x \rVert_2^2$ over the given embeddings.

    $B$ is the size of the first tensor's leading dimension (the batch),
    as in LightGCN's reference implementation.
    """
    present = [t for t in tensors if t is not None]
    batch = max(1, present[0].size(0))
    return sum(t.pow(2).sum() for t in present) / (2 * batch)
