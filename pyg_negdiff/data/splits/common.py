r"""What every shift split shares: the pool of interactions being split, per-user ranks and
quantiles, capped quotas, the handling of users with too little data, and the assembly of the
output parts."""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import torch
from torch import Tensor

from pyg_negdiff.data.interactions import DataValidationError, InteractionData
from pyg_negdiff.data.pairs import pair_keys

#: Integer code of each output part while a split is being built.
TRAIN, VAL, TEST, OOD, DROP = 0, 1, 2, 3, -1
_NAMES = {TRAIN: "train", VAL: "val", TEST: "test", OOD: "test_ood"}

TemporalMode = Literal["global", "user"]


# ---------------------------------------------------------------------- pooling
class _Pool:
    """All interactions being split, with their optional timestamps and environments."""

    def __init__(self, index: Tensor, time: Tensor | None, env: Tensor | None) -> None:
        self.index, self.time, self.env = index, time, env

    @property
    def size(self) -> int:
        return self.index.size(1)

    def select(self, mask: Tensor) -> "_Pool":
        return _Pool(
            self.index[:, mask],
            None if self.time is None else self.time[mask],
            None if self.env is None else self.env[mask],
        )

    @staticmethod
    def cat(pools: Sequence["_Pool"]) -> "_Pool":
        time = (
            torch.cat([p.time for p in pools]) if all(p.time is not None for p in pools) else None
        )
        env = torch.cat([p.env for p in pools]) if all(p.env is not None for p in pools) else None
        return _Pool(torch.cat([p.index for p in pools], dim=1), time, env)


def _part_pool(data: InteractionData, part: str) -> _Pool:
    return _Pool(data.parts[part], data.timestamps.get(part), data.env.get(part))


def _gather(
    data: InteractionData, parts: Sequence[str] | None, notes: list[str], what: str
) -> _Pool:
    """Concatenates ``parts`` (default: all, train first) and drops repeated pairs."""
    parts = list(parts) if parts is not None else ["train"] + data.eval_parts
    pool = _Pool.cat([_part_pool(data, p) for p in parts])
    missing_time = [p for p in parts if p not in data.timestamps]
    if data.timestamps and missing_time:
        notes.append(f"{what}: parts {missing_time} have no timestamps, so the result has none")
    keep = _first_occurrence(pool.index, pool.time, data.num_items)
    dropped = pool.size - int(keep.numel())
    if dropped:
        pool = pool.select(keep)
        rule = "earliest" if pool.time is not None else "first"
        notes.append(
            f"{what}: dropped {dropped} repeated (user, item) pairs across the input "
            f"parts, keeping the {rule} occurrence"
        )
    return pool


def _first_occurrence(index: Tensor, time: Tensor | None, num_items: int) -> Tensor:
    """Positions (ascending) of the first (or earliest) occurrence of every distinct pair."""
    key = pair_keys(index[0], index[1], num_items)
    if time is not None:
        order = _argsort(time)
        order = order[_argsort(key[order])]
    else:
        order = _argsort(key)
    sorted_key = key[order]
    first = torch.ones_like(sorted_key, dtype=torch.bool)
    first[1:] = sorted_key[1:] != sorted_key[:-1]
    return order[first][_argsort(order[first])]


# ------------------------------------------------------------------ primitives
def _argsort(values: Tensor) -> Tensor:
    """Stable argsort (ties keep their order), so the result is unique and seed-free.

    NumPy's single-threaded sort: torch's parallel CPU sort is up to 20x slower when
    other processes compete for the cores, and both give the same permutation.
    """
    return torch.from_numpy(np.argsort(values.numpy(), kind="stable"))


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _rank_within(
    group: Tensor,
    num_groups: int,
    *,
    time: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Rank $r \in [0, n_g)$ of every element inside its group, and the group size $n_g$.

    The order inside a group is by ``time`` (ties by position) when given,
    otherwise a uniformly random permutation drawn from ``generator``.
    """
    n = group.numel()
    if time is not None:
        order = _argsort(time)
    else:
        order = torch.randperm(n, generator=generator)
    order = order[_argsort(group[order])]
    size = torch.bincount(group, minlength=num_groups)
    start = torch.cumsum(size, 0) - size
    rank = torch.empty(n, dtype=torch.long)
    rank[order] = torch.arange(n) - start[group[order]]
    return rank, size[group]


def _quantile_labels(
    rank: Tensor, size: Tensor, offset: Tensor, cuts: Sequence[float], labels: Sequence[int]
) -> Tensor:
    r"""Labels by the position $q = (r + o) / n$ of each element inside its group.

    With ``cuts`` $c_1 < c_2 < \ldots$, an element gets ``labels[k]`` for
    $c_k \le q < c_{k+1}$ ($c_0 = 0$). A group of size $n$ then puts
    $\lceil c_{k+1} n - o \rceil - \lceil c_k n - o \rceil$ elements into part $k$:
    with $o \sim \mathcal{U}[0, 1)$ that is $n (c_{k+1} - c_k)$ in expectation.
    """
    q = (rank.double() + offset.double()) / size.double()
    bucket = torch.bucketize(q, torch.tensor(list(cuts), dtype=torch.double), right=True)
    return torch.tensor(list(labels), dtype=torch.long)[bucket]


def capped_quotas(
    available: Tensor, budget: int, generator: torch.Generator | None = None
) -> Tensor:
    r"""Per-item test quotas that are as equal as the supply allows (water filling).

    Finds the smallest cap $c$ with $\sum_i \min(a_i, c) \ge B$ and gives
    item $i$ the quota $\min(a_i, c - 1)$, plus one for $B - \sum_i \min(a_i, c-1)$
    items drawn at random among those with $a_i \ge c$; so the quotas sum to
    exactly $B$ (or to $\sum_i a_i$ if the supply is short), and no item gets
    more than $c$.

    Args:
        available (torch.Tensor): ``[I]`` supply $a_i \ge 0$ of every item.
        budget (int): Total $B$ to hand out.
        generator (torch.Generator, optional): Breaks ties at the cap.

    Returns:
        torch.Tensor: ``[I]`` quotas $0 \le q_i \le a_i$.

    Examples:
        >>> import torch
        >>> capped_quotas(torch.tensor([100, 50, 3, 0, 8]), budget=21).tolist()  # cap c = 6
        [6, 6, 3, 0, 6]
    """
    available = available.long()
    total = int(available.sum())
    if budget >= total:
        return available.clone()
    if budget <= 0:
        return torch.zeros_like(available)
    lo, hi = 1, int(available.max())  # S(hi) = total > budget; find the smallest c with S(c) >= B
    while lo < hi:
        mid = (lo + hi) // 2
        if int(available.clamp(max=mid).sum()) >= budget:
            hi = mid
        else:
            lo = mid + 1
    cap = lo
    quota = available.clamp(max=cap - 1)
    rest = budget - int(quota.sum())
    candidates = torch.nonzero(available >= cap).view(-1)
    chosen = candidates[torch.randperm(candidates.numel(), generator=generator)[:rest]]
    quota[chosen] += 1
    return quota


def _resolve_cold_users(
    pool: _Pool,
    label: Tensor,
    num_users: int,
    policy: Literal["train", "drop", "keep"],
    notes: list[str],
    what: str,
) -> Tensor:
    """Moves to training, drops or keeps (``policy``) the evaluation interactions of users
    with no training one; always noted."""
    users = pool.index[0]
    has_train = torch.bincount(users[label == TRAIN], minlength=num_users) > 0
    cold = (label > TRAIN) & ~has_train[users]
    if bool(cold.any()) and policy == "keep":
        notes.append(
            f"{what}: {int(torch.unique(users[cold]).numel())} users have evaluation "
            f"interactions but no training one; their {int(cold.sum())} evaluation "
            f"interactions are kept (cold-start users)"
        )
    elif bool(cold.any()):
        n_users = int(torch.unique(users[cold]).numel())
        label = label.clone()
        label[cold] = TRAIN if policy == "train" else DROP
        action = "moved to train" if policy == "train" else "dropped from the evaluation parts"
        notes.append(
            f"{what}: {n_users} users had evaluation interactions but no training one; "
            f"their {int(cold.sum())} evaluation interactions were {action}"
        )
    return label


def _small_users(
    pool: _Pool, num_users: int, min_user_interactions: int, notes: list[str], what: str
) -> Tensor:
    """Mask of the interactions of users with fewer than ``min_user_interactions`` (noted)."""
    degree = torch.bincount(pool.index[0], minlength=num_users)
    small = (degree > 0) & (degree < min_user_interactions)
    if bool(small.any()):
        notes.append(
            f"{what}: {int(small.sum())} users have fewer than {min_user_interactions} "
            f"interactions; their {int(degree[small].sum())} interactions stay in train only"
        )
    return small[pool.index[0]]


def _build(
    data: InteractionData,
    pool: _Pool,
    label: Tensor,
    wanted: Sequence[int],
    notes: list[str],
    what: str,
) -> InteractionData:
    """The output `InteractionData`: one part per wanted label, in pool order; notes recorded."""
    parts, times, envs = {}, {}, {}
    for code in wanted:
        mask = label == code
        name = _NAMES[code]
        if code != TRAIN and not bool(mask.any()):
            notes.append(f"{what}: part '{name}' came out empty and is left out")
            continue
        parts[name] = pool.index[:, mask]
        if pool.time is not None:
            times[name] = pool.time[mask]
        if pool.env is not None:
            envs[name] = pool.env[mask]
    if parts["train"].numel() == 0:
        raise DataValidationError(f"{what}: no interaction is left for training; lower the ratios")
    out = data.with_parts(parts, timestamps=times, env=envs)
    for message in notes:
        out.note(message)
    return out


def _check_ratios(**ratios: float) -> None:
    for name, value in ratios.items():
        if not 0.0 <= value < 1.0:
            raise ValueError(f"'{name}' must be in [0, 1), got {value}")
    if sum(ratios.values()) >= 1.0:
        raise ValueError(f"the held-out ratios {ratios} leave nothing for training (sum >= 1)")


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"'{name}' must be one of {list(choices)}, got {value!r}")


def _per_user_random(
    pool: _Pool,
    num_users: int,
    val_ratio: float,
    test_ratio: float,
    generator: torch.Generator,
    eligible: Tensor | None = None,
) -> Tensor:
    r"""Per-user random split of ``pool`` into TRAIN / VAL / TEST labels.

    Each user's interactions are shuffled; with a per-user offset
    $o_u \sim \mathcal{U}[0, 1)$ the one at shuffled rank $r$ goes to the test
    part if $(r + o_u)/n_u < \rho_{test}$, to validation if it is below
    $\rho_{test} + \rho_{val}$, otherwise to training. The last shuffled
    interaction always stays in training. Only ``eligible`` interactions are
    split; the others get TRAIN.
    """
    label = torch.full((pool.size,), TRAIN, dtype=torch.long)
    idx = torch.arange(pool.size) if eligible is None else torch.nonzero(eligible).view(-1)
    if idx.numel() == 0 or val_ratio + test_ratio <= 0:
        return label
    users = pool.index[0, idx]
    rank, size = _rank_within(users, num_users, generator=generator)
    offset = torch.rand(num_users, generator=generator, dtype=torch.double)[users]
    sub = _quantile_labels(
        rank, size, offset, [test_ratio, test_ratio + val_ratio], [TEST, VAL, TRAIN]
    )
    sub[rank == size - 1] = TRAIN
    label[idx] = sub
    return label


__all__ = ["capped_quotas"]
