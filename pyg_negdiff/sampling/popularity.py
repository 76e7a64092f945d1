r"""Popularity-biased negative sampling: popular items are drawn more often."""

from __future__ import annotations

import torch
from torch import Tensor

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.sampling.base import NegativeSample, NegativeSampler, SamplerState


class PopularitySampler(NegativeSampler):
    r"""Draws negatives with probability growing with the item's popularity.

    The unigram-to-the-$\alpha$ rule of word2vec (Mikolov et al.,
    ["Distributed Representations of Words and Phrases and their
    Compositionality"](https://arxiv.org/abs/1310.4546), NeurIPS 2013), used for
    recommenders since Rendle and Freudenthaler,
    ["Improving Pairwise Learning for Item Recommendation from Implicit
    Feedback"](https://doi.org/10.1145/2556195.2556248) (WSDM 2014). With
    $n_j$ the training interactions of item $j$, a negative of user $u$ is
    drawn from the items $u$ has not interacted with as

    $$
    P(j \mid u) = \frac{n_j^{\alpha}}{\sum_{k \notin \mathcal{I}_u^{+}} n_k^{\alpha}},
    \qquad j \in \mathcal{I} \setminus \mathcal{I}_u^{+} .
    $$

    $\alpha = 0$ is uniform sampling, $\alpha = 1$ samples in proportion to
    popularity, and the default $0.75$ lies between.

    **Sampling is exact.** All draws of a batch come from one
    `torch.multinomial` over $n^{\alpha}$; the draws that hit one of the
    user's positives are redrawn together, for at most ``max_rounds`` rounds.
    Rejection keeps the accepted draws distributed exactly as $P(j \mid u)$.
    The few draws still rejected after that (users whose positives hold much of
    the popularity mass) are drawn from $P(\cdot \mid u)$ itself: their rows of
    $n^{\alpha}$ are masked densely, ``chunk_size`` scores at a time. A user
    whose non-positives all have $n_j = 0$ (never interacted with in training)
    gets a uniform draw over the non-positives instead; with $\alpha > 0$,
    items of count zero are otherwise never drawn.

    Args:
        train_pairs (PairSet): Training positives, never returned.
        item_popularity (torch.Tensor): ``[I]`` non-negative item counts $n_j$
            (``InteractionData.item_popularity()``).
        alpha (float): Exponent $\alpha \ge 0$. (default: ``0.75``)
        num_negatives (int): Negatives per (user, positive) pair $K$. (default: ``1``)
        max_rounds (int): Rejection rounds before the exact fallback. (default: ``8``)
        chunk_size (int): Scores held at once by the fallback. (default: ``2**22``)

    Examples:
        >>> pairs = PairSet(torch.tensor([[0, 0], [0, 1]]), num_users=1, num_items=4)
        >>> sampler = PopularitySampler(pairs, torch.tensor([100, 50, 9, 1]), alpha=1.0)
        >>> [round(p, 3) for p in sampler.probabilities(torch.tensor([0]))[0].tolist()]
        [0.0, 0.0, 0.9, 0.1]
        >>> g = torch.Generator().manual_seed(0)
        >>> sampler.sample(torch.zeros(1000, dtype=torch.long), g).bincount(minlength=4).tolist()[:2]
        [0, 0]
    """

    def __init__(
        self,
        train_pairs: PairSet,
        item_popularity: Tensor,
        alpha: float = 0.75,
        *,
        num_negatives: int = 1,
        max_rounds: int = 8,
        chunk_size: int = 2**22,
    ) -> None:
        super().__init__(train_pairs)
        pop = torch.as_tensor(item_popularity).detach().double()
        if pop.shape != (self.num_items,):
            raise ValueError(
                f"'item_popularity' must have shape [{self.num_items}], got {tuple(pop.shape)}"
            )
        if bool((pop < 0).any()) or not bool(torch.isfinite(pop).all()):
            raise ValueError("'item_popularity' must be finite and non-negative")
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        if num_negatives < 1 or max_rounds < 0 or chunk_size < 1:
            raise ValueError(
                "num_negatives and chunk_size must be positive, max_rounds non-negative"
            )
        # Scaled by the maximum before the power (same distribution, no overflow).
        weights = (pop / pop.max().clamp_min(1e-300)).pow(alpha)
        if float(weights.sum()) <= 0:
            raise ValueError("every item has popularity 0: nothing to sample from")
        self.alpha = alpha
        self.num_negatives = num_negatives
        self.max_rounds = max_rounds
        self.chunk_size = chunk_size
        self.register_buffer("weights", weights.float(), persistent=False)

    def probabilities(self, users: Tensor) -> Tensor:
        r"""The exact distribution $P(\cdot \mid u)$ of each user, ``[B, I]`` (dense: for small batches).

        Args:
            users (torch.Tensor): ``[B]`` user ids.
        """
        w = self.weights.to(users.device).expand(users.numel(), -1).clone()
        rows, cols = self.train_pairs.rows(users)
        w[rows.to(w.device), cols.to(w.device)] = 0
        empty = w.sum(-1) <= 0
        if bool(empty.any()):  # no popular item left: uniform over the non-positives
            w[empty] = 1.0
            keep = empty[rows.to(w.device)]
            w[rows.to(w.device)[keep], cols.to(w.device)[keep]] = 0
        return w / w.sum(-1, keepdim=True)

    def sample(self, users: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One negative item per entry of ``users`` (any shape); see the class docstring.

        Args:
            users (torch.Tensor): User ids, any shape.
            generator (torch.Generator, optional): The random source.
        """
        shape, flat = users.shape, users.reshape(-1)
        gen_device = generator.device if generator is not None else self.weights.device
        weights = self.weights.to(gen_device)

        def draw(n: int) -> Tensor:
            return torch.multinomial(weights, n, replacement=True, generator=generator).to(
                flat.device
            )

        items = draw(flat.numel())
        bad = self.train_pairs.contains(flat, items).to(flat.device)
        for _ in range(self.max_rounds):
            idx = bad.nonzero().view(-1)
            if idx.numel() == 0:
                break
            redraw = draw(idx.numel())
            items[idx] = redraw
            bad[idx] = self.train_pairs.contains(flat[idx], redraw).to(flat.device)
        idx = bad.nonzero().view(-1)
        if idx.numel() > 0:
            items[idx] = self._draw_exact(flat[idx], generator)
        return items.view(shape)

    def _draw_exact(self, users: Tensor, generator: torch.Generator | None) -> Tensor:
        gen_device = generator.device if generator is not None else self.weights.device
        rows = max(1, self.chunk_size // self.num_items)
        out = [
            torch.multinomial(
                self.probabilities(users[s : s + rows]).to(gen_device), 1, generator=generator
            ).view(-1)
            for s in range(0, users.numel(), rows)
        ]
        return torch.cat(out).to(users.device)

    @property
    def num_candidate_items(self) -> int:
        """Items per (user, positive) pair: the ``num_negatives`` negatives themselves."""
        return self.num_negatives

    def candidate_items(
        self, users: Tensor, pos_items: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """Draws now the ``[B, K]`` negatives the next `forward` returns (for a subgraph to hold them).

        Args:
            users (torch.Tensor): ``[B]`` users of the batch.
            pos_items (torch.Tensor): ``[B]`` their positives.
            generator (torch.Generator, optional): Source of randomness.

        Returns:
            torch.Tensor: ``[B, K]`` item ids.
        """
        return self.sample(users.unsqueeze(-1).expand(-1, self.num_negatives), generator)

    def forward(self, users: Tensor, pos_items: Tensor, state: SamplerState) -> NegativeSample:
        flat = users.unsqueeze(-1).expand(-1, self.num_negatives)
        # On a subgraph the draw was made (on global ids) by candidate_items; the same stream otherwise.
        items = self.replayed_candidates(users, self.num_negatives)
        if items is None:
            items = self.sample(flat, state.generator)
        if self.num_negatives == 1:
            items = items.squeeze(-1)
        return NegativeSample(emb=state.emb.item[items], items=items)

    def __repr__(self) -> str:
        return f"PopularitySampler(alpha={self.alpha}, num_negatives={self.num_negatives})"
