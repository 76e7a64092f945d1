r"""Synthetic interactions confounded by item popularity, with known true preferences.

The generator is the library's bundled dataset and the ground truth of its checks:
it knows which (user, item) pairs a user truly likes, so the false-hard-negative ratio
of a sampler can be measured, and it knows the confounder group (environment) of every
interaction, so environment inference can be compared with the truth.

**Preferences.** Users and items have latent factors $p_u, q_i \sim \mathcal{N}(0, I_d)$,
and every item a popularity score $z_i \sim \mathcal{N}(0, 1)$. The true affinity is

$$
a_{ui} = \frac{p_u^\top q_i}{\sqrt{d}} + \beta \, z_i ,
$$

where $\beta$ (``preference_popularity``) lets popular items be liked more
often, as they are in real data. Each user truly likes its top ``true_ratio`` share of
items by $a_{ui}$: the pairs in ``data.true_positives``.

**Environments.** Items are cut into ``num_envs`` equal-size popularity tiers by
$z_i$ (tier 0 the least popular, tier $K - 1$ the most popular); the tier of its
item is the environment of an interaction (``data.env[part]``, and ``data.item_env``
per item).

**Exposure (the confounder).** An item is shown with probability

$$
\pi_i = \sigma(b + \gamma \, z_i),
$$

with $\gamma$ = ``popularity_strength`` and $b$ = ``exposure_bias``. A truly liked
item is observed when it is shown, $o_{ui} \sim \text{Bernoulli}(\pi_i)$; unshown
ones stay unobserved true positives, mostly in the tail but also in the head. On top,
every user makes $n_u \sim \text{Poisson}(c \, \bar{k})$ *conformity* clicks on
items it does **not** like, drawn without replacement with weights $e^{\gamma z_i}$
($\bar{k}$ is the mean number of observed liked items, $c$ = ``conformity``):
popular-but-disliked items become observed positives. A model fitted to these data ranks
popular items high, and a score-based (DNS-style) sampler then often draws as "hard
negatives" popular items the user truly likes but has not been shown: false hard
negatives.

**Parts.** The observed interactions are split at random per user into ``"train"``,
``"val"`` and ``"test"`` (the IID test: same exposure mechanism; every user keeps at
least one training interaction). ``"test_ood"`` is collected under uniform exposure:
every (user, item) pair is shown with probability ``ood_exposure``, and the shown, truly
liked pairs not already observed form the test, whose item distribution is much flatter
than the training one (like the randomly exposed tests of Coat and Yahoo!R3).

Besides the `InteractionData` fields, the result carries ``data.item_env`` (``[I]``
tier of every item) and ``data.truth``, a `SyntheticTruth` with the latent factors,
exposure probabilities and which interactions are conformity clicks. Those extra
attributes are not carried over by `InteractionData.with_parts`.

Examples:
    >>> data = make_synthetic(num_users=200, num_items=150, seed=0)
    >>> data
    InteractionData(name='synthetic', users=200, items=150, train=1053, val=130, test=138, test_ood=57)
    >>> sorted(data.env), int(data.env["train"].max())
    (['test', 'test_ood', 'train', 'val'], 2)
    >>> bool((data.user_degree("train") > 0).all())
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.pairs import PairSet

__all__ = ["SyntheticTruth", "false_negative_share", "make_synthetic"]


@dataclass
class SyntheticTruth:
    r"""What generated a synthetic dataset.

    Args:
        user_factors (torch.Tensor): ``[U, d]`` latent factors $p_u$.
        item_factors (torch.Tensor): ``[I, d]`` latent factors $q_i$.
        item_popularity (torch.Tensor): ``[I]`` popularity scores $z_i$.
        item_exposure (torch.Tensor): ``[I]`` exposure probabilities $\pi_i$.
        preference_popularity (float): $\beta$ in the affinity.
        conformity (dict[str, torch.Tensor]): Part name to ``[E]`` booleans, true for
            conformity clicks (observed, not truly liked).
    """

    user_factors: Tensor
    item_factors: Tensor
    item_popularity: Tensor
    item_exposure: Tensor
    preference_popularity: float
    conformity: dict[str, Tensor] = field(default_factory=dict)

    def affinity(self, users: Tensor | None = None) -> Tensor:
        r"""The true affinities $a_{ui}$ of ``users`` (default: all) to all items, ``[B, I]``.

        Args:
            users (torch.Tensor, optional): ``[B]`` user ids. (default: all users)
        """
        p = self.user_factors if users is None else self.user_factors[users]
        scale = math.sqrt(self.user_factors.size(1))
        return p @ self.item_factors.t() / scale + self.preference_popularity * self.item_popularity


def _per_user_rank(users: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """A random rank of every interaction inside its user, and the user's interaction count."""
    n = users.numel()
    # Unique keys (user major, random minor), so an ordinary sort groups users in random order.
    order = torch.argsort(users * n + torch.randperm(n, generator=generator))
    counts = torch.bincount(users)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(users)
    rank[order] = torch.arange(n) - starts[users[order]]
    return rank, counts[users]


def make_synthetic(
    num_users: int = 1000,
    num_items: int = 800,
    embedding_dim: int = 16,
    num_envs: int = 3,
    *,
    popularity_strength: float = 1.5,
    exposure_bias: float = -0.5,
    preference_popularity: float = 0.5,
    true_ratio: float = 0.05,
    conformity: float = 0.3,
    val_ratio: float = 0.1,
    test_ratio: float = 0.1,
    ood_exposure: float = 0.1,
    seed: int = 0,
    name: str = "synthetic",
) -> InteractionData:
    r"""Generates a popularity-confounded dataset with known preferences and environments.

    The model is in the module's description; with ``popularity_strength=0`` the
    exposure is uniform and the conformity clicks random, so nothing is confounded.

    Args:
        num_users (int): Number of users $U$.
        num_items (int): Number of items $I$.
        embedding_dim (int): Dimension $d$ of the latent factors.
        num_envs (int): Number of popularity tiers $K$ (the environments).
        popularity_strength (float): $\gamma$, how strongly popularity drives exposure
            and conformity clicks.
        exposure_bias (float): $b$, the exposure logit of an item of median popularity.
        preference_popularity (float): $\beta$, how much popular items are truly liked more.
        true_ratio (float): Share of items each user truly likes.
        conformity (float): $c$, conformity clicks per observed liked interaction.
        val_ratio (float): Share of every user's observed interactions put in ``"val"``.
        test_ratio (float): Share put in ``"test"``.
        ood_exposure (float): Probability that a pair is shown in the uniform-exposure
            ``"test_ood"`` collection.
        seed (int): Seed of the `torch.Generator` behind every random draw.
        name (str): Label of the dataset.

    Returns:
        InteractionData: Parts ``"train"``, ``"val"``, ``"test"``, ``"test_ood"``, with
        ``env`` and ``true_positives``, plus ``item_env`` and ``truth`` attributes.
    """
    if num_envs < 1 or num_envs > num_items:
        raise ValueError(f"num_envs must be in [1, num_items], got {num_envs}")
    if not 0.0 < true_ratio <= 1.0:
        raise ValueError(f"true_ratio must be in (0, 1], got {true_ratio}")
    if conformity < 0 or not 0.0 <= ood_exposure <= 1.0:
        raise ValueError(
            f"need conformity >= 0 and ood_exposure in [0, 1], "
            f"got {conformity} and {ood_exposure}"
        )
    if val_ratio < 0 or test_ratio < 0 or val_ratio + test_ratio >= 1.0:
        raise ValueError(
            f"need val_ratio, test_ratio >= 0 with a sum below 1, "
            f"got {val_ratio} and {test_ratio}"
        )
    g = torch.Generator().manual_seed(seed)
    U, I = num_users, num_items

    # ----- true preferences: top true_ratio of every user's affinity row
    user_factors = torch.randn(U, embedding_dim, generator=g)
    item_factors = torch.randn(I, embedding_dim, generator=g)
    popularity = torch.randn(I, generator=g)
    exposure = torch.sigmoid(exposure_bias + popularity_strength * popularity)
    truth = SyntheticTruth(user_factors, item_factors, popularity, exposure, preference_popularity)
    num_liked = max(1, round(true_ratio * I))
    # [U, k], sorted per user; the generator works on these k columns rather than on
    # dense [U, I] masks wherever it can (it must stay well under a second).
    liked_items = truth.affinity().topk(num_liked, dim=1).indices.sort(dim=1).values
    liked = torch.zeros(U, I, dtype=torch.bool)
    liked.scatter_(1, liked_items, True)
    liked_users = torch.arange(U).unsqueeze(1).expand(U, num_liked)

    # ----- environments: equal-size popularity tiers, 0 = tail ... K-1 = head
    item_env = torch.empty(I, dtype=torch.long)
    item_env[torch.argsort(popularity)] = torch.arange(I) * num_envs // I

    # ----- observed = liked and shown, plus popularity-driven clicks on disliked items
    shown = torch.rand(U, num_liked, generator=g) < exposure[liked_items]
    rate = conformity * shown.sum(1).double().mean()
    clicks = torch.poisson(rate.expand(U).float(), generator=g).long().clamp_(max=I - num_liked)
    most = int(clicks.max())
    if most > 0:
        weight = torch.exp(popularity_strength * (popularity - popularity.max()))
        weight = weight.expand(U, I).masked_fill(liked, 0.0)
        drawn = torch.multinomial(weight, most, replacement=False, generator=g)  # [U, most]
        # Without replacement, the first n draws of a row are a draw of n items.
        take = torch.arange(most).expand(U, most) < clicks.unsqueeze(1)
        conform_pairs = (torch.arange(U).unsqueeze(1).expand(U, most)[take], drawn[take])
    else:
        conform_pairs = (torch.empty(0, dtype=torch.long), torch.empty(0, dtype=torch.long))

    # Every user needs a training interaction: a user left with none is shown its
    # most-exposed liked item (rare at the defaults).
    num_observed = shown.sum(1) + clicks
    empty = (num_observed == 0).nonzero().view(-1)
    if empty.numel():
        shown[empty, exposure[liked_items[empty]].argmax(1)] = True
    # Liked and conformity pairs are disjoint (conformity draws exclude liked items).
    users = torch.cat([liked_users[shown], conform_pairs[0]])
    items = torch.cat([liked_items[shown], conform_pairs[1]])
    is_conform = torch.cat(
        [
            torch.zeros(int(shown.sum()), dtype=torch.bool),
            torch.ones(conform_pairs[0].numel(), dtype=torch.bool),
        ]
    )

    # ----- IID parts: a random per-user split of the observed interactions
    rank, count = _per_user_rank(users, g)
    # Stochastic rounding keeps the expected shares exact even for users with a handful
    # of interactions; the clamps keep at least one interaction in training.
    jitter = torch.rand(2, U, generator=g)[:, users]
    n_val = torch.minimum((count * val_ratio + jitter[0]).floor().long(), count - 1)
    n_test = torch.minimum((count * test_ratio + jitter[1]).floor().long(), count - 1 - n_val)
    part_of = torch.where(rank < n_val, 1, torch.where(rank < n_val + n_test, 2, 0))
    parts, envs = {}, {}
    for code, part in enumerate(("train", "val", "test")):
        mask = part_of == code
        order = torch.argsort(users[mask] * I + items[mask])
        parts[part] = torch.stack([users[mask][order], items[mask][order]])
        envs[part] = item_env[parts[part][1]]
        truth.conformity[part] = is_conform[mask][order]

    # ----- OOD test: uniform exposure, truly liked, not observed before
    ood = ~shown & (torch.rand(U, num_liked, generator=g) < ood_exposure)
    parts["test_ood"] = torch.stack([liked_users[ood], liked_items[ood]])  # already sorted
    envs["test_ood"] = item_env[parts["test_ood"][1]]
    truth.conformity["test_ood"] = torch.zeros(parts["test_ood"].size(1), dtype=torch.bool)

    true_positives = torch.stack([liked_users.reshape(-1), liked_items.reshape(-1)])
    data = InteractionData(U, I, parts, env=envs, true_positives=true_positives, name=name)
    data.item_env = item_env
    data.truth = truth
    if empty.numel():
        # Part of the generative model, not a repair of user input: recorded, not warned about.
        data.notes.append(
            f"{empty.numel()} users had no observed interaction and were shown "
            f"their most-exposed liked item"
        )
    return data


def false_negative_share(data: InteractionData, part: str = "train") -> float:
    """Share of the true positives that are *not* observed in ``part``.

    These are the pairs a negative sampler that only knows ``part`` can draw as
    negatives although the user likes them.

    Args:
        data (InteractionData): Data with ``true_positives`` (the synthetic set).
        part (str): The observed part.

    Returns:
        float: The share, in $[0, 1]$.

    Raises:
        ValueError: When ``data`` has no ``true_positives``.
    """
    if data.true_positives is None:
        raise ValueError(f"{data.name}: no true positives (synthetic data only)")
    seen = PairSet(data.parts[part], data.num_users, data.num_items)
    tp = data.true_positives
    return float((~seen.contains(tp[0], tp[1])).double().mean())
