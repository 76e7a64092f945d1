r"""Adaptive hardness negative sampling: negatives as hard as the positive calls for."""

from __future__ import annotations

import torch
from torch import Tensor

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.sampling.base import NegativeSample, SamplerState
from pyg_negdiff.sampling.candidates import CandidateSampler, chosen_negatives, score_candidates


class AHNSSampler(CandidateSampler):
    r"""Adaptive hardness negative sampling of Lai et al., ["Adaptive Hardness
    Negative Sampling for Collaborative Filtering"](https://arxiv.org/abs/2401.05191)
    (AHNS, AAAI 2024).

    DNS gives every pair the hardest negative it can find. AHNS matches the
    hardness to the positive instead: a positive the model already scores
    high gets an easy negative, a positive it scores low a hard one (for
    $p < -1$). Among $M$ uniform non-positive candidates $\mathcal{C}_u$, the
    negative is the one whose score is nearest a target set by the positive
    $i^{+}$:

    $$
    j^{-} = \operatorname*{arg\,min}_{j \in \mathcal{C}_u}
      \big|\, s(u, j) - t(u, i^{+}) \,\big|, \qquad
    t(u, i^{+}) = \beta \,\big(s(u, i^{+}) + \alpha\big)^{p + 1},
    $$

    with $s(u, i) = \mathbf{e}_u^\top \mathbf{e}_i$ on the pooled embeddings.
    The defaults $M = 32$, $\alpha = 1$, $\beta = 0.1$, $p = -2$ are those of
    the authors' code (Riwei-HEU/AHNS): $t = 0.1 / (s(u, i^{+}) + 1)$.

    **Safe power.** The rule assumes $s(u, i^{+}) + \alpha > 0$; inner products
    can break that, and a negative base with $p + 1 < 0$ flips the target's
    sign (or gives NaN for a fractional $p$). The base is clamped,
    $b = \max(s(u, i^{+}) + \alpha, \varepsilon)$, which continues the rule
    monotonically: for $p < -1$ a positive scored at or below $-\alpha$ gets
    the hardest candidate (as DNS would), for $p > -1$ the candidate scored
    nearest $\beta\varepsilon^{p+1} \approx 0$. The target is then
    clamped into the range of the row's candidate scores, which leaves the
    chosen candidate unchanged and keeps a huge $\varepsilon^{p+1}$ from
    erasing every difference in floating point.

    Scores are computed without gradients; the returned embeddings
    ``state.emb.item[j]`` keep theirs.

    Args:
        train_pairs (PairSet): Training positives, never returned.
        num_candidates (int): Candidates per negative $M$. (default: ``32``)
        alpha (float): Offset $\alpha$ of the positive score. (default: ``1.0``)
        beta (float): Scale $\beta > 0$ of the target. (default: ``0.1``)
        p (float): Power $p$; $p < -1$ makes the target fall as the positive
            score rises. (default: ``-2``)
        num_negatives (int): Negatives per (user, positive) pair $K$. (default: ``1``)
        eps (float): Smallest base $\varepsilon$ of the power. (default: ``1e-6``)

    Examples:
        >>> from pyg_negdiff.nn.base import Embeddings
        >>> pairs = PairSet(torch.tensor([[0], [0]]), num_users=1, num_items=4)
        >>> sampler = AHNSSampler(pairs)
        >>> sampler.target(torch.tensor([0.0, 1.0, -3.0]))  # 0.1 / (s + 1), base clamped
        tensor([1.0000e-01, 5.0000e-02, 1.0000e+05])
    """

    def __init__(
        self,
        train_pairs: PairSet,
        num_candidates: int = 32,
        alpha: float = 1.0,
        beta: float = 0.1,
        p: float = -2.0,
        *,
        num_negatives: int = 1,
        eps: float = 1e-6,
    ) -> None:
        super().__init__(train_pairs, num_candidates, num_negatives)
        if beta <= 0 or eps <= 0:
            raise ValueError(f"beta and eps must be positive, got {beta} and {eps}")
        self.alpha, self.beta, self.p = alpha, beta, p
        self.eps = eps

    def target(self, pos_score: Tensor) -> Tensor:
        r"""The target score $\beta \max(s(u, i^{+}) + \alpha, \varepsilon)^{p+1}$.

        Args:
            pos_score (torch.Tensor): ``[B]`` scores of the positives.
        """
        return self.beta * (pos_score + self.alpha).clamp_min(self.eps).pow(self.p + 1)

    def select(self, scores: Tensor, pos_score: Tensor) -> Tensor:
        """Positions ``[B, K]`` of the candidates ``[B, K, M]`` nearest each row's target.

        Args:
            scores (torch.Tensor): ``[B, K, M]`` candidate scores.
            pos_score (torch.Tensor): ``[B]`` scores of the positives.
        """
        target = self.target(pos_score).view(-1, *([1] * (scores.dim() - 1)))
        target = torch.minimum(
            torch.maximum(target, scores.amin(-1, keepdim=True)), scores.amax(-1, keepdim=True)
        )
        return (scores - target).abs().argmin(dim=-1)

    def forward(self, users: Tensor, pos_items: Tensor, state: SamplerState) -> NegativeSample:
        cand = self.draw(users, state.generator)
        scores = score_candidates(state, users, cand)
        with torch.no_grad():
            pos_score = state.emb.score(users, pos_items)
        return chosen_negatives(state, cand, scores, self.select(scores, pos_score))

    def __repr__(self) -> str:
        return (
            f"AHNSSampler(num_candidates={self.num_candidates}, alpha={self.alpha}, "
            f"beta={self.beta}, p={self.p}, num_negatives={self.num_negatives})"
        )
