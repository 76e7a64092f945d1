r"""The temporal shift: train on the past, test on the last time window (docs/shifts/temporal.md)."""

from __future__ import annotations

import math
from typing import Literal, Sequence

import torch
from torch import Tensor

from pyg_negdiff.data.interactions import DataValidationError, InteractionData
from pyg_negdiff.data.splits.common import (
    OOD,
    TEST,
    TRAIN,
    VAL,
    _Pool,
    TemporalMode,
    _argsort,
    _build,
    _check_choice,
    _check_ratios,
    _gather,
    _generator,
    _per_user_random,
    _quantile_labels,
    _rank_within,
    _resolve_cold_users,
    _small_users,
)


def _require_timestamps(data: InteractionData, parts: Sequence[str], what: str) -> None:
    missing = [p for p in parts if p not in data.timestamps]
    if missing:
        raise DataValidationError(
            f"{what} needs a timestamp for every interaction, but {data.name!r} has none for "
            f"part(s) {missing}. Load a file with a timestamp column (a RecBole .inter file with "
            f"'timestamp:float', or a CSV with a time column), or use split_random / "
            f"split_popularity, which need no time."
        )


def _temporal_labels(
    data: InteractionData,
    pool: _Pool,
    mode: TemporalMode,
    val_ratio: float,
    test_ratio: float,
    min_user_interactions: int,
    notes: list[str],
    what: str,
) -> Tensor:
    """TRAIN / VAL / OOD labels by time (OOD = the last window)."""
    time = pool.time
    assert time is not None
    if mode == "global":
        order = _argsort(time)
        n = pool.size
        sorted_time = time[order]
        t_val = sorted_time[min(math.floor((1.0 - val_ratio - test_ratio) * n + 1e-9), n - 1)]
        t_test = sorted_time[min(math.floor((1.0 - test_ratio) * n + 1e-9), n - 1)]
        label = torch.full((n,), TRAIN, dtype=torch.long)
        if val_ratio > 0:
            label[time >= t_val] = VAL
        if test_ratio > 0:
            label[time >= t_test] = OOD
        if val_ratio > 0 and test_ratio > 0 and bool(t_val == t_test):
            notes.append(
                f"{what}: the validation window is empty (too many ties at time {float(t_val)})"
            )
        return label
    if mode == "user":
        small = _small_users(pool, data.num_users, min_user_interactions, notes, what)
        label = torch.full((pool.size,), TRAIN, dtype=torch.long)
        idx = torch.nonzero(~small).view(-1)
        users = pool.index[0, idx]
        rank, size = _rank_within(users, data.num_users, time=time[idx])
        half = torch.full((idx.numel(),), 0.5, dtype=torch.double)
        sub = _quantile_labels(
            rank, size, half, [1.0 - val_ratio - test_ratio, 1.0 - test_ratio], [TRAIN, VAL, OOD]
        )
        sub[rank == 0] = TRAIN
        label[idx] = sub
        return label
    raise ValueError(f"'mode' must be 'global' or 'user', got {mode!r}")


def split_temporal(
    data: InteractionData,
    mode: TemporalMode = "global",
    val_ratio: float = 0.1,
    test_ratio: float = 0.2,
    *,
    iid_test_ratio: float = 0.0,
    seed: int = 0,
    min_user_interactions: int = 2,
    cold_users: Literal["drop", "keep"] = "drop",
) -> InteractionData:
    r"""Temporal shift: train on the past, validate on the next window, test on the last one.

    All parts are pooled with their timestamps $t$.

    ``mode="global"``: with $t_{(0)} \le \ldots \le t_{(N-1)}$ the sorted timestamps,
    the cut points are $\tau_{val} = t_{(\lfloor (1-\rho_{val}-\rho_{test}) N \rfloor)}$ and
    $\tau_{test} = t_{(\lfloor (1-\rho_{test}) N \rfloor)}$, and

    $$
    \text{train} = \{t < \tau_{val}\}, \quad
    \text{val} = \{\tau_{val} \le t < \tau_{test}\}, \quad
    \text{test}_{ood} = \{t \ge \tau_{test}\}.
    $$

    Ties at a cut go to the later part, so every test interaction is strictly
    later than every training one. Users whose first interaction falls after
    $\tau_{val}$ have no training data: their evaluation interactions are
    dropped (and reported).

    ``mode="user"``: each user's $n_u$ interactions are ordered by time (ties by
    input order); the one at rank $r$ goes to training if
    $(r + \tfrac12)/n_u < 1 - \rho_{val} - \rho_{test}$, to validation if it is
    below $1 - \rho_{test}$, otherwise to the test (a leave-last-out per user).
    The first interaction always stays in training. This keeps every user but
    only orders time within a user: another user's training data may be later.

    With ``iid_test_ratio`` $> 0$, an IID ``"test"`` is carved at random per user
    from the training window (same period as training), so that IID and OOD
    results can be read side by side.

    Args:
        data (InteractionData): Interactions with timestamps for every part.
        mode (str): ``"global"`` or ``"user"``.
        val_ratio (float): Share $\rho_{val}$ of the next-to-last window.
        test_ratio (float): Share $\rho_{test}$ of the last window (``"test_ood"``).
        iid_test_ratio (float): Share of the training window moved to an IID ``"test"``.
        seed (int): Seed of the IID carve (the time cuts are deterministic).
        min_user_interactions (int): In ``"user"`` mode, users with fewer
            interactions stay in train only.
        cold_users (str): What happens to the evaluation interactions of users
            with no training interaction (``"global"`` mode): ``"drop"`` them
            (reported), or ``"keep"`` them for a cold-start evaluation (also reported).

    Raises:
        DataValidationError: If any part has no timestamps.

    Examples:
        >>> import torch
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> data = InteractionData(2, 5, {"train": torch.tensor([[0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
        ...                                                    [0, 1, 1, 2, 2, 3, 3, 4, 4, 0]])},
        ...                        timestamps={"train": torch.arange(10.0)})
        >>> out = split_temporal(data, val_ratio=0.2, test_ratio=0.2)
        >>> out.timestamps["train"].tolist(), out.timestamps["test_ood"].tolist()
        ([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], [8.0, 9.0])
        >>> out = split_temporal(data, mode="user", val_ratio=0.2, test_ratio=0.2)
        >>> out.parts["test_ood"].tolist()  # the last interaction of each user
        [[0, 1], [4, 0]]
    """
    _check_ratios(val_ratio=val_ratio, test_ratio=test_ratio)
    _check_ratios(iid_test_ratio=iid_test_ratio)
    _check_choice("mode", mode, ("global", "user"))
    _check_choice("cold_users", cold_users, ("drop", "keep"))
    what = f"temporal split ({mode})"
    _require_timestamps(data, ["train"] + data.eval_parts, "split_temporal")
    notes: list[str] = []
    pool = _gather(data, None, notes, what)
    label = _temporal_labels(
        data, pool, mode, val_ratio, test_ratio, min_user_interactions, notes, what
    )
    if iid_test_ratio > 0:
        train = label == TRAIN
        sub = _per_user_random(
            pool, data.num_users, 0.0, iid_test_ratio, _generator(seed), eligible=train
        )
        label[train] = sub[train]
    label = _resolve_cold_users(pool, label, data.num_users, cold_users, notes, what)
    wanted = (
        [TRAIN]
        + ([VAL] if val_ratio > 0 else [])
        + ([TEST] if iid_test_ratio > 0 else [])
        + ([OOD] if test_ratio > 0 else [])
    )
    return _build(data, pool, label, wanted, notes, what)


__all__ = ["split_temporal"]
