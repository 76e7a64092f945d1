r"""Anchor pools: which real negative $j$ a diffusion sampler starts from.

CNSDiff mixes a synthesized negative with a real one, $j$, and (with
``anchor="negative"``) builds the synthesized one by moving $j$ towards the
positive. Where $j$ comes from is the *pool*; a heuristic sampler's whole
effect lies in its pool, so the question is whether synthesis adds anything on
top of the best pool for a kind of shift:

| pool | $j$ for pair $(u, i)$ |
|---|---|
| ``"uniform"`` | uniform over the non-positives of $u$ (the default) |
| ``"popularity"`` | $P(j) \propto n_j^{\alpha}$ over the non-positives of $u$ (`PopularitySampler`): an inverse-propensity tilt of BPR against popular items |
| ``"dns"`` | $\arg\max_{j \in C_{ui}} \mathbf{e}_u^\top \mathbf{e}_j$ over $M$ uniform non-positives $C_{ui}$ (DNS's choice) |
| ``"mixture"`` | the popularity draw with probability $p$, DNS's choice otherwise |
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.sampling.base import NegativeSampler, SamplerState
from pyg_negdiff.sampling.candidates import draw_candidates, score_candidates
from pyg_negdiff.sampling.popularity import PopularitySampler

__all__ = ["AnchorPool", "ANCHOR_POOLS", "PooledSampler"]

PoolName = Literal["uniform", "popularity", "dns", "mixture"]
#: The pools `AnchorPool` knows.
ANCHOR_POOLS: tuple[str, ...] = ("uniform", "popularity", "dns", "mixture")


class AnchorPool(torch.nn.Module):
    r"""Draws the real negative $j$ of every pair from a pool (see the module table).

    The uniform and DNS pools draw through the owning sampler's
    `NegativeSampler.uniform_candidates`, so they run on sampled subgraphs and
    the uniform pool keeps the owner's random stream exactly as it was.

    Args:
        train_pairs (PairSet): The training positives (never drawn).
        pool (str): ``"uniform"``, ``"popularity"``, ``"dns"`` or ``"mixture"``.
        item_popularity (torch.Tensor, optional): ``[I]`` training counts $n_j$
            (the popularity and mixture pools).
        alpha (float): $\alpha$ of the popularity pool. (default: ``0.75``)
        num_candidates (int): $M$ of the DNS pool. (default: ``32``)
        mix (float): $p$ of the mixture. (default: ``0.5``)

    Examples:
        >>> from pyg_negdiff.nn.base import Embeddings
        >>> pairs = PairSet(torch.tensor([[0], [0]]), num_users=1, num_items=4)
        >>> owner = PopularitySampler(pairs, torch.ones(4))  # any sampler: it lends its uniform draw
        >>> pool = AnchorPool(pairs, "dns", num_candidates=64)
        >>> emb = Embeddings(torch.ones(1, 1, 1), torch.tensor([[[9.0]], [[1.0]], [[3.0]], [[2.0]]]))
        >>> pool(owner, torch.tensor([0]), SamplerState(emb)).tolist()  # item 0 is a positive
        [2]
    """

    def __init__(
        self,
        train_pairs: PairSet,
        pool: PoolName = "uniform",
        *,
        item_popularity: Tensor | None = None,
        alpha: float = 0.75,
        num_candidates: int = 32,
        mix: float = 0.5,
    ) -> None:
        super().__init__()
        if pool not in ANCHOR_POOLS:
            raise ValueError(f"anchor_pool must be one of {ANCHOR_POOLS}, got {pool!r}")
        if pool in ("popularity", "mixture") and item_popularity is None:
            raise ValueError(
                f"anchor_pool={pool!r} needs item_popularity (the training counts of the items)"
            )
        if num_candidates < 1:
            raise ValueError(f"pool_candidates must be >= 1, got {num_candidates}")
        if not 0.0 <= mix <= 1.0:
            raise ValueError(f"pool_mix must lie in [0, 1], got {mix}")
        self.pool, self.num_candidates, self.mix = pool, num_candidates, mix
        self.popularity = (
            PopularitySampler(train_pairs, item_popularity, alpha)
            if pool in ("popularity", "mixture")
            else None
        )

    @property
    def subgraph_ready(self) -> bool:
        """Whether every draw goes through the owner's `uniform_candidates` (subgraph mode)."""
        return self.popularity is None

    @property
    def num_candidate_items(self) -> int:
        """Uniform items drawn per pair through the owner."""
        return self.num_candidates if self.pool in ("dns", "mixture") else 1

    def _dns(self, owner: NegativeSampler, users: Tensor, state: SamplerState) -> Tensor:
        cand = draw_candidates(owner, users, 1, self.num_candidates, state.generator)
        scores = score_candidates(state, users, cand)
        return cand.gather(-1, scores.argmax(-1, keepdim=True)).view(-1)

    def dns_score(self, owner: NegativeSampler, users: Tensor, state: SamplerState) -> Tensor:
        r"""``[B]`` DNS's score $\max_{j \in C_u} \mathbf{e}_u^\top \mathbf{e}_j$ over $M$ fresh
        uniform non-positives (the bound of CNSDiff's ``selection="dns-band"``), no gradient.

        Args:
            owner (NegativeSampler): The sampler whose uniform draw is used.
            users (torch.Tensor): ``[B]`` users.
            state (SamplerState): The batch's embeddings and generator.
        """
        cand = draw_candidates(owner, users, 1, self.num_candidates, state.generator)
        with torch.no_grad():
            return score_candidates(state, users, cand).amax(-1).view(-1)

    def forward(self, owner: NegativeSampler, users: Tensor, state: SamplerState) -> Tensor:
        """``[B]`` real negatives for the pairs of ``users``.

        Args:
            owner (NegativeSampler): The sampler whose uniform draw (and subgraph) is used.
            users (torch.Tensor): ``[B]`` users.
            state (SamplerState): The batch's embeddings (scored by the DNS pool) and generator.
        """
        if self.pool == "uniform":
            return owner.uniform_candidates(users, 1, state.generator).squeeze(-1)
        if self.pool == "dns":
            return self._dns(owner, users, state)
        popular = self.popularity.sample(users.unsqueeze(-1), state.generator).view(-1)
        if self.pool == "popularity":
            return popular
        hard = self._dns(owner, users, state)
        gen_device = state.generator.device if state.generator is not None else users.device
        take = (
            torch.rand(users.numel(), generator=state.generator, device=gen_device).to(users.device)
            < self.mix
        )
        return torch.where(take, popular, hard)

    def extra_repr(self) -> str:
        options = {
            "popularity": f"alpha={self.popularity.alpha}" if self.popularity else "",
            "dns": f"num_candidates={self.num_candidates}",
            "mixture": f"mix={self.mix}, num_candidates={self.num_candidates}",
        }.get(self.pool, "")
        return f"pool={self.pool!r}" + (f", {options}" if options else "")


class PooledSampler:
    """Mixin of a diffusion sampler whose real negative comes from an `AnchorPool`.

    CNSDiff's anchor and ADAR's reference are both drawn this way; the mixin builds the pool
    once and declares its candidates (`NegativeSampler.num_candidate_items`) for sampled
    subgraphs. List it before the sampler's base class.
    """

    pool: AnchorPool

    def set_pool(
        self,
        train_pairs: PairSet,
        pool: PoolName,
        *,
        item_popularity: Tensor | None,
        alpha: float,
        num_candidates: int,
        mix: float,
    ) -> None:
        """Builds the pool the sampler draws its real negative from.

        Args:
            train_pairs (PairSet): The training positives (never drawn).
            pool (str): ``"uniform"``, ``"popularity"``, ``"dns"`` or ``"mixture"``.
            item_popularity (torch.Tensor, optional): ``[I]`` training counts.
            alpha (float): $\alpha$ of the popularity pool.
            num_candidates (int): $M$ of the DNS pool.
            mix (float): $p$ of the mixture.
        """
        self.pool = AnchorPool(
            train_pairs,
            pool,
            item_popularity=item_popularity,
            alpha=alpha,
            num_candidates=num_candidates,
            mix=mix,
        )
        self.subgraph_ready = self.pool.subgraph_ready

    @property
    def num_candidate_items(self) -> int:
        """Uniform items drawn per pair: the pool's (1 for the uniform pool)."""
        return self.pool.num_candidate_items
