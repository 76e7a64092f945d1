r"""CNSDiff's contrastive term: InfoNCE of the positive against its negatives."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from pyg_negdiff.diffusion.gaussian import randn


def info_nce_loss(
    pos_emb: Tensor,
    hard: Tensor | None,
    rand_emb: Tensor,
    *,
    positive_noise: float,
    temperature: float,
    scope: Literal["pair", "batch"] = "pair",
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""InfoNCE over cosine similarities: a noisy view of each positive against its negatives.

    $$
    \mathcal{L}_{\text{cl}} = -\frac{1}{B}\sum_b \log
      \frac{e^{\cos(\mathbf{e}_b, \tilde{\mathbf{e}}_b)/\tau_c}}
           {e^{\cos(\mathbf{e}_b, \tilde{\mathbf{e}}_b)/\tau_c} + \sum_{n} e^{\cos(\mathbf{e}_b, \mathbf{n})/\tau_c}}
    $$

    with the view $\tilde{\mathbf{e}}_b = \mathbf{e}_b + \sigma\,\mathrm{rms}(\mathbf{e}_b)\,\epsilon$
    and the negatives $\mathbf{n}$ of the pair (``scope="pair"``: its synthesized and
    random negative) or of the whole batch (``scope="batch"``).

    Args:
        pos_emb (torch.Tensor): ``[B, D']`` positive rows (the anchors).
        hard (torch.Tensor, optional): ``[B, D']`` synthesized negatives; ``None``
            uses the random negatives alone.
        rand_emb (torch.Tensor): ``[B, D']`` random negatives.
        positive_noise (float): $\sigma$, the view's noise relative to the row's RMS.
        temperature (float): $\tau_c$.
        scope (str): ``"pair"`` or ``"batch"``.
        generator (torch.Generator, optional): Source of the view's noise.

    Returns:
        torch.Tensor: The scalar loss.

    Example:
        >>> pos, rand = torch.randn(4, 8), torch.randn(4, 8)
        >>> info_nce_loss(pos, None, rand, positive_noise=0.0, temperature=1.0).item() > 0
        True
    """
    rms = pos_emb.detach().norm(dim=-1, keepdim=True) / pos_emb.size(-1) ** 0.5
    view = pos_emb + positive_noise * rms * randn(pos_emb.shape, pos_emb, generator)
    anchor = F.normalize(pos_emb, dim=-1)
    positive = (anchor * F.normalize(view, dim=-1)).sum(-1, keepdim=True)
    negatives = [rand_emb] if hard is None else [hard, rand_emb]
    if scope == "pair":
        negative = torch.stack(
            [(anchor * F.normalize(n, dim=-1)).sum(-1) for n in negatives], dim=-1
        )
    else:
        negative = anchor @ F.normalize(torch.cat(negatives), dim=-1).t()
    logits = torch.cat([positive, negative], dim=-1) / temperature
    return -torch.log_softmax(logits, dim=-1)[:, 0].mean()
