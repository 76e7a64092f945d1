r"""Normalized mutual information between two labelings (how well environments are recovered)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["normalized_mutual_info"]


def _entropy(p: Tensor) -> Tensor:
    p = p[p > 0]
    return -(p * p.log()).sum()


def normalized_mutual_info(labels_true: Tensor, labels_pred: Tensor) -> float:
    r"""Normalized mutual information of two labelings of the same items.

    With the joint distribution $p_{ab}$ of the labels and its marginals,

    $$
    I(A; B) = \sum_{a,b} p_{ab} \log\frac{p_{ab}}{p_a\,p_b}, \qquad
    \mathrm{NMI}(A, B) = \frac{I(A; B)}{\tfrac{1}{2}\big(H(A) + H(B)\big)},
    $$

    the arithmetic normalization (scikit-learn's default). It is 1 when the
    labelings agree up to a renaming of the labels, 0 when they are
    independent; it does not depend on how labels are numbered. Two constant
    labelings give 1. Soft assignments ``[N, K]`` are hardened by argmax.
    Computed in float64 from one ``bincount`` of the pair codes.

    Args:
        labels_true (torch.Tensor): ``[N]`` labels (or ``[N, K]`` soft).
        labels_pred (torch.Tensor): ``[N]`` labels (or ``[N, K]`` soft).

    Examples:
        >>> a = torch.tensor([0, 0, 1, 1])
        >>> normalized_mutual_info(a, torch.tensor([1, 1, 0, 0]))
        1.0
        >>> normalized_mutual_info(a, torch.tensor([0, 1, 0, 1]))
        0.0
    """
    a = labels_true.argmax(-1) if labels_true.dim() == 2 else labels_true
    b = labels_pred.argmax(-1) if labels_pred.dim() == 2 else labels_pred
    if a.numel() != b.numel():
        raise ValueError(f"labelings differ in size: {a.numel()} and {b.numel()}")
    if a.numel() == 0:
        return 1.0
    a = torch.unique(a.reshape(-1).cpu(), return_inverse=True)[1]
    b = torch.unique(b.reshape(-1).to(a.device), return_inverse=True)[1]
    na, nb = int(a.max()) + 1, int(b.max()) + 1
    joint = torch.bincount(a * nb + b, minlength=na * nb).view(na, nb).double()
    joint /= joint.sum()
    pa, pb = joint.sum(1), joint.sum(0)
    ha, hb = _entropy(pa), _entropy(pb)
    if na == 1 and nb == 1:
        return 1.0
    if float(ha) == 0.0 or float(hb) == 0.0:
        return 0.0
    nz = joint > 0
    mi = (joint[nz] * (joint[nz] / (pa[:, None] * pb[None, :])[nz]).log()).sum()
    return float((mi / (0.5 * (ha + hb))).clamp(0.0, 1.0))
