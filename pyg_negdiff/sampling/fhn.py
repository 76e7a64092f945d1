r"""The false-hard-negative (FHN) ratio: how often a sampler picks an item the user likes."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pyg_negdiff.data.pairs import PairSet


class FHNRatio:
    r"""Share of sampled negatives that are in fact positives of their user.

    A negative sampler only knows the training interactions, so every other
    item counts as a negative for it, including the items the user would
    interact with, or already did outside the training data. Such a *false
    negative* drawn because the model scores it high is a *false hard
    negative*: BPR then pushes a liked item down. Over an epoch, with the $N$
    (user, negative) pairs $(u_n, j_n)$ a sampler returned and a reference set
    $\mathcal{R}$ of true (user, item) preferences,

    $$
    \mathrm{FHN} = \frac{1}{N} \sum_{n=1}^{N} \mathbb{1}\big[(u_n, j_n) \in \mathcal{R}\big].
    $$

    $\mathcal{R}$ is ``InteractionData.true_positives`` on synthetic data and
    the held-out (test) positives on real data, where it is a lower bound: it
    only knows the liked items that were observed. Uniform sampling gives the
    base rate $\approx |\mathcal{R}_u| / (I - |\mathcal{I}^{+}_u|)$; hard
    samplers lie above it. Synthesized negatives count through
    ``NegativeSample.probe_items``.

    Counts accumulate on the device of the inputs, without a host
    synchronization per batch; `compute` reads them.

    Args:
        reference (PairSet): The true (user, item) preferences $\mathcal{R}$.

    Examples:
        >>> ref = PairSet(torch.tensor([[0, 1], [3, 2]]), num_users=2, num_items=5)
        >>> fhn = FHNRatio(ref)
        >>> fhn.update(torch.tensor([0, 1]), torch.tensor([3, 4]))
        >>> fhn.update(torch.tensor([0, 1]), torch.tensor([[3, 2], [2, 0]]))
        >>> fhn.hits, fhn.count, fhn.compute()
        (3, 6, 0.5)
    """

    def __init__(self, reference: PairSet) -> None:
        self.reference = reference
        self.reset()

    def reset(self) -> None:
        """Starts a new epoch."""
        self._hits: Tensor | None = None
        self.count = 0

    def update(self, users: Tensor, items: Tensor) -> None:
        """Counts the ``[B]`` or ``[B, K]`` negative ``items`` of the ``[B]`` ``users``.

        Args:
            users (torch.Tensor): ``[B]`` user ids.
            items (torch.Tensor): ``[B]`` or ``[B, K]`` negative items (a
                generative sampler's ``probe_items``).
        """
        if items.dim() == users.dim() + 1:
            users = users.unsqueeze(-1).expand_as(items)
        elif items.shape != users.shape:
            raise ValueError(
                f"items of shape {tuple(items.shape)} do not match users of shape "
                f"{tuple(users.shape)}: expected [B] or [B, K]"
            )
        hits = self.reference.contains(users, items).sum()
        self._hits = hits if self._hits is None else self._hits + hits
        self.count += items.numel()

    @property
    def hits(self) -> int:
        """Negatives found in the reference so far."""
        return 0 if self._hits is None else int(self._hits)

    def compute(self) -> float:
        """The ratio of hits to counted negatives (NaN before any update)."""
        return self.hits / self.count if self.count else math.nan

    def __repr__(self) -> str:
        return f"FHNRatio(reference={len(self.reference)} pairs, count={self.count})"
