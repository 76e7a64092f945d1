r"""Dynamic negative sampling: the highest-scored of a few uniform candidates."""

from __future__ import annotations

import torch
from torch import Tensor

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.sampling.base import NegativeSample, SamplerState

# The candidate helpers lived here first; they stay importable from this module.
from pyg_negdiff.sampling.candidates import (  # noqa: F401
    CHUNK_SIZE,
    CandidateSampler,
    block_size,
    chosen_negatives,
    draw_candidates,
    gather_rows,
    score_candidates,
)


class DNSSampler(CandidateSampler):
    r"""Dynamic negative sampling of Zhang et al., ["Optimizing Top-N Collaborative
    Filtering via Dynamic Negative Item Sampling"](https://doi.org/10.1145/2484028.2484126)
    (SIGIR 2013), with the DNS($M$, $N$) generalization of Shi et al.,
    ["On the Theories Behind Hard Negative Sampling for
    Recommendation"](https://arxiv.org/abs/2302.03472) (WWW 2023).

    For each (user $u$, positive) pair, $M$ candidates
    $\mathcal{C}_u = \{j_1, \ldots, j_M\}$ are drawn uniformly from the user's
    non-positives and scored by the current model, $s(u, j) = \mathbf{e}_u^\top \mathbf{e}_j$;
    the negative is the hardest of them,

    $$
    j^{-} = \operatorname*{arg\,max}_{j \in \mathcal{C}_u} s(u, j),
    $$

    or, for $N > 1$, one of the $N$ highest-scored candidates chosen uniformly,

    $$
    j^{-} \sim \mathcal{U}\big(\operatorname{top}_N\{s(u, j) : j \in \mathcal{C}_u\}\big).
    $$

    $M$ sets how hard the negatives can get and $N$ softens them
    (DNS($M$, 1) is DNS; DNS($M$, $M$) is uniform sampling).
    Scores are computed without gradients; the returned embeddings
    ``state.emb.item[j]`` keep theirs, so BPR trains the model through them.
    Candidates are drawn independently, with replacement.

    Args:
        train_pairs (PairSet): Training positives, never returned.
        num_candidates (int): Candidates per negative $M$. (default: ``32``)
        num_top (int): Size $N \le M$ of the pool the negative is drawn from. (default: ``1``)
        num_negatives (int): Negatives per (user, positive) pair $K$, each with its
            own $M$ candidates. (default: ``1``)

    Examples:
        >>> from pyg_negdiff.nn.base import Embeddings
        >>> pairs = PairSet(torch.tensor([[0], [0]]), num_users=1, num_items=4)
        >>> emb = Embeddings(torch.ones(1, 1, 1), torch.tensor([[[9.0]], [[1.0]], [[3.0]], [[2.0]]]))
        >>> out = DNSSampler(pairs, num_candidates=64)(torch.tensor([0]), torch.tensor([0]), SamplerState(emb))
        >>> out.items.tolist()  # item 0 scores highest but is a positive
        [2]
    """

    def __init__(
        self,
        train_pairs: PairSet,
        num_candidates: int = 32,
        num_top: int = 1,
        *,
        num_negatives: int = 1,
    ) -> None:
        super().__init__(train_pairs, num_candidates, num_negatives)
        if not 1 <= num_top <= num_candidates:
            raise ValueError(
                f"need 1 <= num_top <= num_candidates, got {num_top} and {num_candidates}"
            )
        self.num_top = num_top

    def select(self, scores: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Positions of the chosen candidates in ``scores`` ``[..., M]``: ``[...]``.

        Args:
            scores (torch.Tensor): ``[..., M]`` candidate scores.
            generator (torch.Generator, optional): Draws among the top ``num_top``.
        """
        if self.num_top == 1:
            return scores.argmax(dim=-1)
        top = scores.topk(self.num_top, dim=-1).indices
        gen_device = generator.device if generator is not None else scores.device
        pick = torch.randint(self.num_top, top.shape[:-1], generator=generator, device=gen_device)
        return top.gather(-1, pick.to(top.device).unsqueeze(-1)).squeeze(-1)

    def forward(self, users: Tensor, pos_items: Tensor, state: SamplerState) -> NegativeSample:
        cand = self.draw(users, state.generator)
        scores = score_candidates(state, users, cand)
        return chosen_negatives(state, cand, scores, self.select(scores, state.generator))

    def __repr__(self) -> str:
        return (
            f"DNSSampler(num_candidates={self.num_candidates}, num_top={self.num_top}, "
            f"num_negatives={self.num_negatives})"
        )
