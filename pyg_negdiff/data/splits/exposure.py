r"""The exposure shift: train on user-selected (MNAR) data, test on random exposure (docs/shifts/exposure.md)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from pyg_negdiff.data.interactions import DataValidationError, InteractionData
from pyg_negdiff.data.pairs import pair_keys
from pyg_negdiff.data.splits.common import (
    OOD,
    TEST,
    TRAIN,
    VAL,
    _Pool,
    _build,
    _check_choice,
    _check_ratios,
    _gather,
    _generator,
    _per_user_random,
    _resolve_cold_users,
    _small_users,
)


def split_exposure(
    data: InteractionData,
    val_ratio: float = 0.1,
    test_ratio: float = 0.0,
    seed: int = 0,
    *,
    random_part: str | None = None,
    overlap: Literal["test", "train"] = "test",
    min_user_interactions: int = 2,
) -> InteractionData:
    r"""Exposure shift: train on user-selected (MNAR) data, test on randomly exposed items.

    The input holds the random-exposure interactions in ``random_part``
    (default: ``"test_ood"`` if present, else ``"test"``) and the user-selected,
    missing-not-at-random ones in every other part (pooled). That is the layout
    of Coat and Yahoo!R3, where ``train.txt`` is what users chose to rate and
    ``test.txt`` what they rated when shown items at random.

    - The random-exposure part becomes ``"test_ood"``, unchanged except that
      interactions of users with no training data are dropped (and reported).
    - ``"val"`` (and, with ``test_ratio`` $> 0$, an IID ``"test"``) are carved
      per user from the MNAR pool as in `split_random`, so validation follows the
      training distribution and the exposure shift is seen only at test time.
    - A pair present in both pools (91 on Coat: the user chose the item and it
      was also shown at random) is kept where ``overlap`` says: ``"test"``
      (default) keeps the random-exposure sample complete and removes the pair
      from the MNAR pool; ``"train"`` keeps it for training and drops it from the test.

    Args:
        data (InteractionData): MNAR parts plus one random-exposure part.
        val_ratio (float): Expected share of each user's MNAR interactions in ``"val"``.
        test_ratio (float): Expected share of each user's MNAR interactions in an IID ``"test"``.
        seed (int): Seed of the carve.
        random_part (str, optional): Name of the random-exposure part.
        overlap (str): Where a pair in both pools goes: ``"test"`` or ``"train"``.
        min_user_interactions (int): Users with fewer MNAR interactions keep them all in train.

    Returns:
        InteractionData: Parts ``"train"``, ``"val"``, optionally ``"test"``, and ``"test_ood"``.

    Examples:
        >>> import torch
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> data = InteractionData(2, 6, {"train": torch.tensor([[0, 0, 0, 0, 1, 1, 1],
        ...                                                    [0, 1, 2, 3, 0, 1, 4]]),
        ...                               "test": torch.tensor([[0, 1, 1], [5, 4, 5]])})
        >>> out = split_exposure(data, val_ratio=0.25, seed=0)
        >>> out.parts["test_ood"].tolist()
        [[0, 1, 1], [5, 4, 5]]
        >>> out.parts["train"].size(1) + out.parts["val"].size(1)  # (1, 4) is in both: kept in test
        6
    """
    _check_ratios(val_ratio=val_ratio, test_ratio=test_ratio)
    _check_choice("overlap", overlap, ("test", "train"))
    if random_part is None:
        random_part = "test_ood" if "test_ood" in data.parts else "test"
    if random_part not in data.parts or random_part == "train":
        raise DataValidationError(
            f"the exposure split (--shift exposure, split_exposure) needs the randomly exposed "
            f"interactions in an evaluation part; {data.name!r} has parts {list(data.parts)}: "
            f"choose another --shift (in Python, name the part with random_part=)"
        )
    what = "exposure split"
    notes: list[str] = []
    mnar = _gather(data, [p for p in ["train"] + data.eval_parts if p != random_part], notes, what)
    rand = _gather(data, [random_part], notes, what)
    # Pairs in both pools.
    mnar_keys = pair_keys(mnar.index[0], mnar.index[1], data.num_items)
    rand_keys = pair_keys(rand.index[0], rand.index[1], data.num_items)
    in_rand = torch.from_numpy(np.isin(mnar_keys.numpy(), rand_keys.numpy()))
    in_mnar = torch.from_numpy(np.isin(rand_keys.numpy(), mnar_keys.numpy()))
    if bool(in_rand.any()):
        if overlap == "test":
            mnar = mnar.select(~in_rand)
            notes.append(
                f"{what}: {int(in_rand.sum())} pairs are both user-selected and randomly "
                f"exposed; kept in test_ood, removed from training (overlap='test')"
            )
        else:
            rand = rand.select(~in_mnar)
            notes.append(
                f"{what}: {int(in_mnar.sum())} pairs are both user-selected and randomly "
                f"exposed; kept in training, removed from test_ood (overlap='train')"
            )
    gen = _generator(seed)
    small = _small_users(mnar, data.num_users, min_user_interactions, notes, what)
    mnar_label = _per_user_random(mnar, data.num_users, val_ratio, test_ratio, gen, eligible=~small)
    pool = _Pool.cat([mnar, rand])
    label = torch.cat([mnar_label, torch.full((rand.size,), OOD, dtype=torch.long)])
    label = _resolve_cold_users(pool, label, data.num_users, "drop", notes, what)
    wanted = [TRAIN] + ([VAL] if val_ratio > 0 else []) + ([TEST] if test_ratio > 0 else []) + [OOD]
    return _build(data, pool, label, wanted, notes, what)


__all__ = ["split_exposure"]
