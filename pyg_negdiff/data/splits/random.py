r"""The random (IID) split and `carve_validation`: per-user random parts, no shift (docs/shifts/random.md)."""

from __future__ import annotations

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.splits.common import (
    TEST,
    TRAIN,
    VAL,
    _build,
    _check_ratios,
    _gather,
    _generator,
    _part_pool,
    _per_user_random,
    _resolve_cold_users,
    _small_users,
)


def split_random(
    data: InteractionData,
    val_ratio: float = 0.1,
    test_ratio: float = 0.2,
    seed: int = 0,
    *,
    min_user_interactions: int = 2,
) -> InteractionData:
    r"""Random (IID) split, stratified per user.

    All parts of ``data`` are pooled. Each user's $n_u$ interactions are shuffled
    and, with a per-user offset $o_u \sim \mathcal{U}[0, 1)$, the one at
    shuffled rank $r$ goes to

    $$
    \text{test if } \frac{r + o_u}{n_u} < \rho_{test}, \quad
    \text{val if } \rho_{test} \le \frac{r + o_u}{n_u} < \rho_{test} + \rho_{val}, \quad
    \text{train otherwise,}
    $$

    so every user contributes $n_u \rho$ interactions to each held-out part in
    expectation (stochastic rounding, no bias against small users), and the
    last shuffled interaction always stays in training. The three parts follow
    the same distribution.

    Args:
        data (InteractionData): Interactions; all parts are pooled.
        val_ratio (float): Expected share $\rho_{val}$ of each user's interactions in ``"val"``.
        test_ratio (float): Expected share $\rho_{test}$ in ``"test"``.
        seed (int): Seed of the shuffle.
        min_user_interactions (int): Users with fewer interactions stay in train only.

    Returns:
        InteractionData: Parts ``"train"``, ``"val"``, ``"test"`` (a part whose ratio is 0 is left out).

    Examples:
        >>> import torch
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> g = torch.Generator().manual_seed(0)
        >>> data = InteractionData(50, 40, {"train": torch.stack([
        ...     torch.arange(50).repeat_interleave(10), torch.randint(0, 40, (500,), generator=g)])})
        >>> out = split_random(data, val_ratio=0.1, test_ratio=0.2, seed=0)
        >>> sorted(out.parts)
        ['test', 'train', 'val']
        >>> sum(p.size(1) for p in out.parts.values()) == data.train.unique(dim=1).size(1)
        True
    """
    _check_ratios(val_ratio=val_ratio, test_ratio=test_ratio)
    what = "random split"
    notes: list[str] = []
    pool = _gather(data, None, notes, what)
    gen = _generator(seed)
    small = _small_users(pool, data.num_users, min_user_interactions, notes, what)
    label = _per_user_random(pool, data.num_users, val_ratio, test_ratio, gen, eligible=~small)
    label = _resolve_cold_users(pool, label, data.num_users, "train", notes, what)
    wanted = [TRAIN] + ([VAL] if val_ratio > 0 else []) + ([TEST] if test_ratio > 0 else [])
    return _build(data, pool, label, wanted, notes, what)


def carve_validation(
    data: InteractionData, val_ratio: float = 0.1, seed: int = 0, *, min_user_interactions: int = 2
) -> InteractionData:
    r"""Carves a validation part out of ``"train"``, leaving every other part as it is.

    For pre-split data (ML-1M's published 80/20 split): the published test stays
    the test, and ``"val"`` is drawn from each user's training interactions as in
    `split_random` (expected share $\rho_{val}$ per user, one interaction always
    kept for training). Evaluation users without training data are reported, not moved.

    Args:
        data (InteractionData): Data without a ``"val"`` part.
        val_ratio (float): Expected share of each user's training interactions moved to ``"val"``.
        seed (int): Seed of the draw.
        min_user_interactions (int): Users with fewer training interactions keep them all.

    Examples:
        >>> import torch
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> data = InteractionData(2, 30, {"train": torch.stack([torch.arange(2).repeat(15),
        ...                                                    torch.arange(30)]),
        ...                                "test": torch.tensor([[0, 1], [1, 0]])})
        >>> out = carve_validation(data, val_ratio=0.2, seed=0)
        >>> out.parts["train"].size(1) + out.parts["val"].size(1), out.parts["test"].size(1)
        (30, 2)
    """
    if "val" in data.parts:
        raise ValueError(f"{data.name} already has a 'val' part; carve_validation would replace it")
    _check_ratios(val_ratio=val_ratio)
    what = "validation carve"
    notes: list[str] = []
    pool = _part_pool(data, "train")
    gen = _generator(seed)
    small = _small_users(pool, data.num_users, min_user_interactions, notes, what)
    label = _per_user_random(pool, data.num_users, val_ratio, 0.0, gen, eligible=~small)
    parts = {"train": pool.index[:, label == TRAIN], "val": pool.index[:, label == VAL]}
    times, envs = {}, {}
    for key, extra, out_extra in (("time", data.timestamps, times), ("env", data.env, envs)):
        if "train" in extra:
            out_extra["train"] = extra["train"][label == TRAIN]
            out_extra["val"] = extra["train"][label == VAL]
    for part in data.eval_parts:
        parts[part] = data.parts[part]
        if part in data.timestamps:
            times[part] = data.timestamps[part]
        if part in data.env:
            envs[part] = data.env[part]
    out = data.with_parts(parts, timestamps=times, env=envs)
    for part in out.eval_parts:
        cold = out.users_without_train(part)
        if cold.numel():
            notes.append(f"{what}: {cold.numel()} users of '{part}' have no training interaction")
    for message in notes:
        out.note(message)
    return out


# ------------------------------------------------------------------ popularity


__all__ = ["split_random", "carve_validation"]
