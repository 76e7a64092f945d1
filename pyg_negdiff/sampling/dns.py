r"""Dynamic negative sampling: the highest-scored of a few uniform candidates."""
from __future__ import annotations

import torch
from torch import Tensor

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.sampling.base import NegativeSample, NegativeSampler, SamplerState


#: Embedding values gathered at once when candidates are scored. Blocks of this
#: size keep the gathered copy small: memory stays $O(\text{CHUNK\_SIZE})$ whatever
#: $B \cdot M \cdot D'$ is, and on CPU a block is reused from the heap instead of
#: page-faulting in a fresh allocation every batch (a large share of the cost otherwise).
CHUNK_SIZE = 2 ** 21


def draw_candidates(sampler: NegativeSampler, users: Tensor, num_negatives: int, num_candidates: int,
                    generator: torch.Generator | None) -> Tensor:
    """``[B, K, M]`` uniform non-positive candidates: $M$ for each of the $K$ negatives of a pair."""
    cand = sampler.uniform_candidates(users, num_negatives * num_candidates, generator)
    return cand.view(users.numel(), num_negatives, num_candidates)


def gather_rows(table: Tensor, index: Tensor) -> Tensor:
    """``table[index]`` for a table ``[N, ...]`` and any ``index``, as one row copy (`torch.index_select`)."""
    rows = table.reshape(table.size(0), -1).index_select(0, index.reshape(-1))
    return rows.view(*index.shape, *table.shape[1:])


def block_size(values_per_row: int, chunk_size: int | None = None) -> int:
    """Rows per block so that a block holds at most ``chunk_size`` values (default
    `CHUNK_SIZE`), and at least one row."""
    return max(1, (chunk_size or CHUNK_SIZE) // max(1, values_per_row))


def score_candidates(state: SamplerState, users: Tensor, candidates: Tensor,
                     chunk_size: int | None = None) -> Tensor:
    r"""$s(u, j) = \mathbf{e}_u^\top \mathbf{e}_j$ of ``[B, K, M]`` candidates, without gradients."""
    B = users.numel()
    flat = candidates.reshape(B, -1)
    with torch.no_grad():
        user, item = state.emb.user, state.emb.item
        rows = block_size(flat.size(1) * item.size(-1), chunk_size)
        out = [torch.bmm(gather_rows(item, flat[s:s + rows]), user[users[s:s + rows]].unsqueeze(-1))
               for s in range(0, B, rows)]
        return torch.cat(out).view(candidates.shape)



def chosen_negatives(state: SamplerState, cand: Tensor, scores: Tensor, pick: Tensor) -> NegativeSample:
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
    return NegativeSample(emb=state.emb.item[items], items=items, logs={"neg_score": float(hardness)})

class DNSSampler(NegativeSampler):
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

    def __init__(self, train_pairs: PairSet, num_candidates: int = 32, num_top: int = 1, *,
                 num_negatives: int = 1) -> None:
        super().__init__(train_pairs)
        if num_candidates < 1 or num_negatives < 1:
            raise ValueError(f"num_candidates and num_negatives must be >= 1, got "
                             f"{num_candidates} and {num_negatives}")
        if not 1 <= num_top <= num_candidates:
            raise ValueError(f"need 1 <= num_top <= num_candidates, got {num_top} and {num_candidates}")
        self.num_candidates = num_candidates
        self.num_top = num_top
        self.num_negatives = num_negatives

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

    @property
    def num_candidate_items(self) -> int:
        """Items drawn per pair, $K M$ (see `NegativeSampler.candidate_items`)."""
        return self.num_negatives * self.num_candidates

    def forward(self, users: Tensor, pos_items: Tensor, state: SamplerState) -> NegativeSample:
        cand = draw_candidates(self, users, self.num_negatives, self.num_candidates, state.generator)
        scores = score_candidates(state, users, cand)
        return chosen_negatives(state, cand, scores, self.select(scores, state.generator))

    def __repr__(self) -> str:
        return (f"DNSSampler(num_candidates={self.num_candidates}, num_top={self.num_top}, "
                f"num_negatives={self.num_negatives})")
