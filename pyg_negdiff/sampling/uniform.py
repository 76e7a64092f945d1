"""Uniform negative sampling, the reference every other sampler is compared with."""

from __future__ import annotations

from torch import Tensor

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.sampling.base import NegativeSample, NegativeSampler, SamplerState


class UniformSampler(NegativeSampler):
    r"""Draws negatives uniformly from the items a user has not interacted with.

    $$
    j \sim \mathcal{U}\big(\mathcal{I} \setminus \mathcal{I}_u^{+}\big)
    $$

    Sampling is exact and vectorized (`PairSet.sample_complement`): no
    training positive can come out, unlike ``torch.randint`` over all items.

    Args:
        train_pairs (PairSet): Training positives to exclude.
        num_negatives (int): Negatives per (user, positive) pair $K$.
    """

    def __init__(self, train_pairs: PairSet, num_negatives: int = 1) -> None:
        super().__init__(train_pairs)
        if num_negatives < 1:
            raise ValueError(f"num_negatives must be >= 1, got {num_negatives}")
        self.num_negatives = num_negatives

    @property
    def num_candidate_items(self) -> int:
        """Items drawn per pair, $K$ (see `NegativeSampler.candidate_items`)."""
        return self.num_negatives

    def forward(self, users: Tensor, pos_items: Tensor, state: SamplerState) -> NegativeSample:
        items = self.uniform_candidates(users, self.num_negatives, state.generator)
        if self.num_negatives == 1:
            items = items.squeeze(-1)
        return NegativeSample(emb=state.emb.item[items], items=items)

    def __repr__(self) -> str:
        return f"UniformSampler(num_negatives={self.num_negatives})"
