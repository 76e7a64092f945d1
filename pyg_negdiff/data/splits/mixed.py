r"""The mixed shift: a temporal split whose shifted test keeps a share of the last window (docs/shifts/mixed.md)."""

from __future__ import annotations

from typing import Literal

import torch

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.splits.common import (
    DROP,
    OOD,
    TEST,
    TRAIN,
    VAL,
    TemporalMode,
    _build,
    capped_quotas,
    _check_choice,
    _check_ratios,
    _gather,
    _generator,
    _per_user_random,
    _rank_within,
    _resolve_cold_users,
)
from pyg_negdiff.data.splits.temporal import _require_timestamps, _temporal_labels


def split_mixed(
    data: InteractionData,
    val_ratio: float = 0.1,
    test_ratio: float = 0.2,
    *,
    ood_keep: float = 0.5,
    mode: TemporalMode = "global",
    iid_test_ratio: float = 0.0,
    seed: int = 0,
    min_user_interactions: int = 2,
    cold_users: Literal["drop", "keep"] = "drop",
) -> InteractionData:
    r"""Mixed shift: the last time window, resampled to near-uniform item frequency.

    First the temporal split (`split_temporal`, same ``mode`` and ratios): train
    on the past, validate on the next window. From the last window $W$, only
    interactions of users and items that have training data are eligible
    ($m_i$ of them for item $i$), and $B = \mathrm{round}(\kappa |W|)$ of them
    ($\kappa$ = ``ood_keep``) are drawn with water-filled per-item quotas
    (`capped_quotas` with supply $a_i = m_i$):

    $$
    q_i = \min(m_i, c), \qquad c = \min\{c : \textstyle\sum_i \min(m_i, c) \ge B\}.
    $$

    The draw is ``"test_ood"``: later than training *and* flatter in item
    popularity. The rest of $W$ is dropped (it is future data, so it cannot go
    to training) and reported.

    Args:
        data (InteractionData): Interactions with timestamps for every part.
        val_ratio (float): Share of the next-to-last window (``"val"``).
        test_ratio (float): Share of the last window $W$.
        ood_keep (float): Share $\kappa$ of $W$ kept in the capped ``"test_ood"``.
        mode (str): ``"global"`` or ``"user"`` time cuts, as in `split_temporal`.
        iid_test_ratio (float): Share of the training window moved to an IID ``"test"``.
        seed (int): Seed of every draw.
        min_user_interactions (int): In ``"user"`` mode, users with fewer
            interactions stay in train only.
        cold_users (str): ``"drop"`` or ``"keep"`` the evaluation interactions of
            users with no training interaction, as in `split_temporal`.

    Raises:
        DataValidationError: If any part has no timestamps.

    Examples:
        >>> import torch
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> from pyg_negdiff.data.diagnostics import gini
        >>> g = torch.Generator().manual_seed(0)
        >>> zipf = 1.0 / torch.arange(1, 101).double()
        >>> items = torch.multinomial(zipf.expand(300, -1), 20, generator=g).reshape(-1)
        >>> data = InteractionData(300, 100, {"train": torch.stack([
        ...     torch.arange(300).repeat_interleave(20), items])},
        ...     timestamps={"train": torch.rand(6000, generator=g)})
        >>> out = split_mixed(data, seed=0)
        >>> bool(out.timestamps["train"].max() < out.timestamps["test_ood"].min())
        True
        >>> bool(gini(out.item_popularity("test_ood")) < gini(out.item_popularity("val")))
        True
    """
    _check_ratios(val_ratio=val_ratio, test_ratio=test_ratio)
    _check_ratios(iid_test_ratio=iid_test_ratio)
    if not 0.0 < ood_keep <= 1.0:
        raise ValueError(f"'ood_keep' must be in (0, 1], got {ood_keep}")
    if test_ratio <= 0:
        raise ValueError("split_mixed needs a last window: test_ratio must be > 0")
    _check_choice("mode", mode, ("global", "user"))
    _check_choice("cold_users", cold_users, ("drop", "keep"))
    what = f"mixed split ({mode})"
    _require_timestamps(data, ["train"] + data.eval_parts, "split_mixed")
    notes: list[str] = []
    pool = _gather(data, None, notes, what)
    gen = _generator(seed)
    label = _temporal_labels(
        data, pool, mode, val_ratio, test_ratio, min_user_interactions, notes, what
    )
    if iid_test_ratio > 0:
        train = label == TRAIN
        sub = _per_user_random(pool, data.num_users, 0.0, iid_test_ratio, gen, eligible=train)
        label[train] = sub[train]
    label = _resolve_cold_users(pool, label, data.num_users, cold_users, notes, what)
    # The capped draw only takes items with training data (a cold item's rank is noise).
    items = pool.index[1]
    warm_item = torch.bincount(items[label == TRAIN], minlength=data.num_items) > 0
    window = label == OOD
    eligible = window & warm_item[items]
    window_size = int(window.sum())
    supply = torch.bincount(items[eligible], minlength=data.num_items)
    quota = capped_quotas(supply, round(ood_keep * window_size), gen)
    cand = torch.nonzero(eligible).view(-1)
    rank, _ = _rank_within(items[cand], data.num_items, generator=gen)
    keep = torch.zeros_like(window)
    keep[cand[rank < quota[items[cand]]]] = True
    label[window & ~keep] = DROP
    kept = int(keep.sum())
    notes.append(
        f"{what}: kept {kept} of the {window_size} interactions of the last window in the "
        f"item-capped test_ood ({window_size - int(eligible.sum())} were on items without "
        f"training data); the rest is dropped"
    )
    wanted = (
        [TRAIN] + ([VAL] if val_ratio > 0 else []) + ([TEST] if iid_test_ratio > 0 else []) + [OOD]
    )
    return _build(data, pool, label, wanted, notes, what)


__all__ = ["split_mixed"]
