r"""The popularity shift: the test over-represents unpopular (or long-tail) items (docs/shifts/popularity.md)."""

from __future__ import annotations

from typing import Literal

import torch

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.splits.common import (
    OOD,
    TEST,
    TRAIN,
    VAL,
    _build,
    capped_quotas,
    _check_choice,
    _check_ratios,
    _gather,
    _generator,
    _per_user_random,
    _rank_within,
    _resolve_cold_users,
    _small_users,
)


def split_popularity(
    data: InteractionData,
    val_ratio: float = 0.1,
    test_ratio: float = 0.1,
    ood_ratio: float = 0.1,
    seed: int = 0,
    *,
    max_item_fraction: float = 0.5,
    val_from: Literal["iid", "ood"] = "iid",
    min_user_interactions: int = 2,
    ood_items: Literal["all", "tail"] = "all",
    head_fraction: float = 1 / 3,
) -> InteractionData:
    r"""Popularity shift: an OOD test with near-uniform item frequency (MACR, BC-Loss, DR-GNN).

    All parts are pooled ($N$ interactions, $n_i$ of item $i$). The OOD test
    takes $B = \mathrm{round}(\rho_{ood} N)$ interactions with a per-item cap:
    item $i$ can give at most $a_i = \lfloor f\, n_i \rfloor$ interactions
    ($f$ = ``max_item_fraction``, so every item keeps most of its data for
    training), and the quotas are water-filled,

    $$
    q_i = \min(a_i, c), \qquad c = \min\{c : \textstyle\sum_i \min(a_i, c) \ge B\},
    $$

    (see `capped_quotas`); each item's $q_i$ test interactions are drawn at
    random. Popular items are cut down to the cap $c$ while rare items give
    what they have, so the OOD item distribution is as flat as the data allow.
    From the rest, ``"test"`` (IID) and ``"val"`` are drawn per user at random
    as in `split_random`; they follow the training popularity.

    With ``ood_items="tail"`` (the *long-tail* OOD test of the published
    popularity-shift splits), the head $\mathcal{H}$, the
    $\lceil h I \rceil$ most popular items of the pool ($h$ = ``head_fraction``,
    a third by default; `pyg_negdiff.data.diagnostics.head_items`), gives nothing to
    the OOD test: $a_i = 0$ for $i \in \mathcal{H}$. The shifted test then
    asks for items that a popularity ranking never puts first.

    Args:
        data (InteractionData): Interactions; all parts are pooled.
        val_ratio (float): Share $\rho_{val}$ of all interactions in ``"val"``.
        test_ratio (float): Share $\rho_{test}$ of all interactions in ``"test"`` (IID).
        ood_ratio (float): Share $\rho_{ood}$ of all interactions in ``"test_ood"``.
        seed (int): Seed of every draw.
        max_item_fraction (float): $f$, the largest share of an item's
            interactions that the OOD test may take.
        val_from (str): ``"iid"`` draws validation like the IID test (tuning
            never sees the shifted distribution); ``"ood"`` draws it from the
            capped sample, so validation is shifted like ``"test_ood"``.
        min_user_interactions (int): Users with fewer interactions stay in train only.
        ood_items (str): ``"all"`` lets every item give OOD interactions;
            ``"tail"`` only the items outside the head (the long-tail OOD test).
        head_fraction (float): $h \in (0, 1)$, the share of items (the most
            popular of the pool) kept out of a ``"tail"`` OOD test.

    Returns:
        InteractionData: Parts ``"train"``, ``"val"``, ``"test"``, ``"test_ood"``.

    Examples:
        >>> import torch
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> from pyg_negdiff.data.diagnostics import gini
        >>> g = torch.Generator().manual_seed(0)
        >>> zipf = 1.0 / torch.arange(1, 101).double()  # item i is drawn with weight 1 / (i + 1)
        >>> items = torch.multinomial(zipf.expand(300, -1), 20, generator=g)
        >>> data = InteractionData(300, 100, {"train": torch.stack([
        ...     torch.arange(300).repeat_interleave(20), items.reshape(-1)])})
        >>> out = split_popularity(data, seed=0)
        >>> sorted(out.parts)
        ['test', 'test_ood', 'train', 'val']
        >>> round(gini(out.item_popularity("train")), 2), round(gini(out.item_popularity("test_ood")), 2)
        (0.51, 0.0)
        >>> tail = split_popularity(data, seed=0, ood_items="tail")  # the long-tail OOD test
        >>> head = data.item_popularity().argsort(descending=True)[:34]
        >>> int(tail.item_popularity("test_ood")[head].sum())  # no head item is tested
        0
    """
    _check_ratios(val_ratio=val_ratio, test_ratio=test_ratio, ood_ratio=ood_ratio)
    if not 0.0 < max_item_fraction < 1.0:
        raise ValueError(f"'max_item_fraction' must be in (0, 1), got {max_item_fraction}")
    _check_choice("val_from", val_from, ("iid", "ood"))
    _check_choice("ood_items", ood_items, ("all", "tail"))
    if not 0.0 < head_fraction < 1.0:
        raise ValueError(f"'head_fraction' must be in (0, 1), got {head_fraction}")
    what = "popularity split" if ood_items == "all" else "long-tail popularity split"
    notes: list[str] = []
    pool = _gather(data, None, notes, what)
    gen = _generator(seed)
    n = pool.size
    small = _small_users(pool, data.num_users, min_user_interactions, notes, what)
    items = pool.index[1]

    # 1. the capped, near-uniform sample (OOD test, and validation when val_from="ood")
    n_items = torch.bincount(items, minlength=data.num_items)
    eligible_items = torch.bincount(items[~small], minlength=data.num_items)
    available = torch.minimum((n_items.double() * max_item_fraction).floor().long(), eligible_items)
    if ood_items == "tail":
        from pyg_negdiff.data.diagnostics import head_items

        available[head_items(n_items, head_fraction)] = 0
    n_ood = round(ood_ratio * n)
    n_val_ood = round(val_ratio * n) if val_from == "ood" else 0
    budget = n_ood + n_val_ood
    quota = capped_quotas(available, budget, gen)
    if int(quota.sum()) < budget:
        notes.append(
            f"{what}: only {int(quota.sum())} of the {budget} capped interactions could be "
            f"drawn with max_item_fraction={max_item_fraction}"
        )
    label = torch.full((n,), TRAIN, dtype=torch.long)
    cand = torch.nonzero(~small).view(-1)
    rank, _ = _rank_within(items[cand], data.num_items, generator=gen)
    capped = cand[rank < quota[items[cand]]]
    label[capped] = OOD
    if n_val_ood:
        share = n_val_ood / max(int(capped.numel()), 1)
        to_val = capped[
            torch.randperm(capped.numel(), generator=gen)[: round(share * capped.numel())]
        ]
        label[to_val] = VAL

    # 2. IID test (and validation) from the rest, per user
    rest = (label == TRAIN) & ~small
    left = max(n - int(capped.numel()), 1)
    iid_val = val_ratio if val_from == "iid" else 0.0
    t, v = test_ratio * n / left, iid_val * n / left
    if t + v >= 1.0:
        raise ValueError(f"{what}: the ratios leave nothing for training after the OOD draw")
    sub = _per_user_random(pool, data.num_users, v, t, gen, eligible=rest)
    label[rest] = sub[rest]
    label = _resolve_cold_users(pool, label, data.num_users, "train", notes, what)
    wanted = (
        [TRAIN]
        + ([VAL] if val_ratio > 0 else [])
        + ([TEST] if test_ratio > 0 else [])
        + ([OOD] if ood_ratio > 0 else [])
    )
    return _build(data, pool, label, wanted, notes, what)


__all__ = ["split_popularity"]
