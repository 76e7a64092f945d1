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


def expected_fhn_ratio(item_weights: Tensor, train_pairs: PairSet, reference: PairSet) -> float:
    r"""The FHN ratio a static pool has in expectation, exactly, with no model and no draw.

    A pool that draws the negative of a training pair $(u, i)$ as
    $P(j \mid u) = w_j / \sum_{k \notin \mathcal{I}^{+}_u} w_k$ over the non-positives of
    $u$ (uniform: $w \equiv 1$; `PopularitySampler`: $w_j = n_j^{\alpha}$) has, over one epoch
    of the $N$ training pairs, the expected `FHNRatio`

    $$
    \mathbb{E}[\mathrm{FHN}] = \frac{1}{N} \sum_{u} |\mathcal{I}^{+}_u|
    \frac{\sum_{j \in \mathcal{R}_u \setminus \mathcal{I}^{+}_u} w_j}
         {\sum_{k \notin \mathcal{I}^{+}_u} w_k}.
    $$

    With $\mathcal{R}$ the held-out positives of a shifted test, it says how often a pool
    pushes down exactly the items that test rewards, before any training: the mechanism behind a
    pool's gain or loss on that shift. Score-dependent samplers (DNS, CNSDiff) need `FHNRatio`
    during training instead.

    Args:
        item_weights (torch.Tensor): ``[I]`` non-negative pool weights $w_j$.
        train_pairs (PairSet): The training positives $\mathcal{I}^{+}$ (never drawn).
        reference (PairSet): The reference preferences $\mathcal{R}$ (same users and items).

    Returns:
        float: The expected ratio (NaN without training pairs).

    Examples:
        >>> train = PairSet(torch.tensor([[0, 1], [0, 1]]), num_users=2, num_items=4)
        >>> ref = PairSet(torch.tensor([[0], [3]]), num_users=2, num_items=4)
        >>> expected_fhn_ratio(torch.ones(4), train, ref)  # user 0: 1 of 3 non-positives
        0.16666666666666666
        >>> expected_fhn_ratio(torch.tensor([1.0, 1.0, 1.0, 4.0]), train, ref)  # 4 / 6, halved
        0.3333333333333333
    """
    w = torch.as_tensor(item_weights, dtype=torch.float64).cpu()
    if w.shape != (train_pairs.num_items,) or bool((w < 0).any()):
        raise ValueError(f"item_weights must be [{train_pairs.num_items}] and non-negative")
    degree = train_pairs.degree().cpu().double()
    if float(degree.sum()) == 0:
        return math.nan

    def per_user(pairs: PairSet, keep: Tensor | None = None) -> Tensor:
        users = torch.repeat_interleave(torch.arange(pairs.num_users), pairs.degree().cpu())
        items = pairs.col.cpu()
        values = w[items] if keep is None else w[items] * keep
        return torch.zeros(pairs.num_users, dtype=torch.float64).index_add_(0, users, values)

    denom = w.sum() - per_user(train_pairs)
    ref_users = torch.repeat_interleave(torch.arange(reference.num_users), reference.degree().cpu())
    fresh = (~train_pairs.contains(ref_users, reference.col.cpu()).cpu()).double()
    num = per_user(reference, fresh)
    share = torch.where(denom > 0, num / denom.clamp_min(1e-300), torch.zeros_like(num))
    return float((degree * share).sum() / degree.sum())
