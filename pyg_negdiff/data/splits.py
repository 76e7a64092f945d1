r"""Distribution-shift splits: random (IID), popularity, temporal, exposure and mixed.

Every split takes an `InteractionData`, pools the interactions it is asked to
re-split, and returns a new `InteractionData` (through `InteractionData.with_parts`)
with the parts

| part | meaning |
|---|---|
| ``"train"`` | what the model is fitted on |
| ``"val"`` | what early stopping and tuning read |
| ``"test"`` | the in-distribution (IID) test: same distribution as ``"train"`` |
| ``"test_ood"`` | the shifted (out-of-distribution) test |

and, when the input has them, the timestamps and environment labels of every
part. Randomness comes from one ``torch.Generator`` seeded with ``seed``: the same
input and seed give identical parts.

Common rules (the scenario pages in ``docs/shifts/`` give the exact construction):

- Pooling. A split that re-splits everything concatenates all parts of the input
  and drops repeated (user, item) pairs, keeping the earliest occurrence when
  timestamps exist (the first one otherwise). The parts of the output are
  disjoint sets of pairs.
- Users with too little data. Users with fewer than ``min_user_interactions``
  interactions stay in ``"train"`` only. A user who would have evaluation
  interactions but no training interaction is either moved back to training
  (random and popularity splits, where that changes nothing about the shift) or
  dropped from the evaluation parts (temporal, mixed and exposure splits, where
  moving would leak the future or the random-exposure sample into training;
  the temporal and mixed splits can keep them instead, ``cold_users="keep"``).
  Everything of this kind is reported through `InteractionData.note`.

Examples:
    >>> import torch
    >>> from pyg_negdiff.data.interactions import InteractionData
    >>> from pyg_negdiff.data.diagnostics import shift_report
    >>> g = torch.Generator().manual_seed(0)
    >>> zipf = 1.0 / torch.arange(1, 101).double()
    >>> items = torch.multinomial(zipf.expand(300, -1), 20, generator=g).reshape(-1)
    >>> data = InteractionData(300, 100, {"train": torch.stack([
    ...     torch.arange(300).repeat_interleave(20), items])})
    >>> out = split_popularity(data, seed=0)
    >>> report = shift_report(out)
    >>> {p: round(s.gini, 2) for p, s in report.parts.items()}  # item popularity Gini
    {'train': 0.51, 'val': 0.56, 'test': 0.53, 'test_ood': 0.0}
    >>> round(report.parts["test_ood"].gini_iid, 2)  # an unshifted part of that size
    0.55
"""
from __future__ import annotations

import math
from typing import Literal, Sequence

import numpy as np
import torch
from torch import Tensor

from pyg_negdiff.data.interactions import DataValidationError, InteractionData
from pyg_negdiff.data.pairs import pair_keys

__all__ = [
    "split_random",
    "split_popularity",
    "split_temporal",
    "split_exposure",
    "split_mixed",
    "carve_validation",
    "capped_quotas",
]

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
        return _Pool(self.index[:, mask], None if self.time is None else self.time[mask],
                     None if self.env is None else self.env[mask])

    @staticmethod
    def cat(pools: Sequence["_Pool"]) -> "_Pool":
        time = torch.cat([p.time for p in pools]) if all(p.time is not None for p in pools) else None
        env = torch.cat([p.env for p in pools]) if all(p.env is not None for p in pools) else None
        return _Pool(torch.cat([p.index for p in pools], dim=1), time, env)


def _part_pool(data: InteractionData, part: str) -> _Pool:
    return _Pool(data.parts[part], data.timestamps.get(part), data.env.get(part))


def _gather(data: InteractionData, parts: Sequence[str] | None, notes: list[str],
            what: str) -> _Pool:
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
        notes.append(f"{what}: dropped {dropped} repeated (user, item) pairs across the input "
                     f"parts, keeping the {rule} occurrence")
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


def _rank_within(group: Tensor, num_groups: int, *, time: Tensor | None = None,
                 generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
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


def _quantile_labels(rank: Tensor, size: Tensor, offset: Tensor, cuts: Sequence[float],
                     labels: Sequence[int]) -> Tensor:
    r"""Labels by the position $q = (r + o) / n$ of each element inside its group.

    With ``cuts`` $c_1 < c_2 < \ldots$, an element gets ``labels[k]`` for
    $c_k \le q < c_{k+1}$ ($c_0 = 0$). A group of size $n$ then puts
    $\lceil c_{k+1} n - o \rceil - \lceil c_k n - o \rceil$ elements into part $k$:
    with $o \sim \mathcal{U}[0, 1)$ that is $n (c_{k+1} - c_k)$ in expectation.
    """
    q = (rank.double() + offset.double()) / size.double()
    bucket = torch.bucketize(q, torch.tensor(list(cuts), dtype=torch.double), right=True)
    return torch.tensor(list(labels), dtype=torch.long)[bucket]


def capped_quotas(available: Tensor, budget: int,
                  generator: torch.Generator | None = None) -> Tensor:
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


def _resolve_cold_users(pool: _Pool, label: Tensor, num_users: int,
                        policy: Literal["train", "drop", "keep"],
                        notes: list[str], what: str) -> Tensor:
    """Moves to training, drops or keeps (``policy``) the evaluation interactions of users
    with no training one; always noted."""
    users = pool.index[0]
    has_train = torch.bincount(users[label == TRAIN], minlength=num_users) > 0
    cold = (label > TRAIN) & ~has_train[users]
    if bool(cold.any()) and policy == "keep":
        notes.append(f"{what}: {int(torch.unique(users[cold]).numel())} users have evaluation "
                     f"interactions but no training one; their {int(cold.sum())} evaluation "
                     f"interactions are kept (cold-start users)")
    elif bool(cold.any()):
        n_users = int(torch.unique(users[cold]).numel())
        label = label.clone()
        label[cold] = TRAIN if policy == "train" else DROP
        action = "moved to train" if policy == "train" else "dropped from the evaluation parts"
        notes.append(f"{what}: {n_users} users had evaluation interactions but no training one; "
                     f"their {int(cold.sum())} evaluation interactions were {action}")
    return label


def _small_users(pool: _Pool, num_users: int, min_user_interactions: int, notes: list[str],
                 what: str) -> Tensor:
    """Mask of the interactions of users with fewer than ``min_user_interactions`` (noted)."""
    degree = torch.bincount(pool.index[0], minlength=num_users)
    small = (degree > 0) & (degree < min_user_interactions)
    if bool(small.any()):
        notes.append(f"{what}: {int(small.sum())} users have fewer than {min_user_interactions} "
                     f"interactions; their {int(degree[small].sum())} interactions stay in train only")
    return small[pool.index[0]]


def _build(data: InteractionData, pool: _Pool, label: Tensor, wanted: Sequence[int],
           notes: list[str], what: str) -> InteractionData:
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


def _per_user_random(pool: _Pool, num_users: int, val_ratio: float, test_ratio: float,
                     generator: torch.Generator, eligible: Tensor | None = None) -> Tensor:
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
    sub = _quantile_labels(rank, size, offset, [test_ratio, test_ratio + val_ratio],
                           [TEST, VAL, TRAIN])
    sub[rank == size - 1] = TRAIN
    label[idx] = sub
    return label


# ---------------------------------------------------------------------- random
def split_random(data: InteractionData, val_ratio: float = 0.1, test_ratio: float = 0.2,
                 seed: int = 0, *, min_user_interactions: int = 2) -> InteractionData:
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


def carve_validation(data: InteractionData, val_ratio: float = 0.1, seed: int = 0, *,
                     min_user_interactions: int = 2) -> InteractionData:
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
def split_popularity(data: InteractionData, val_ratio: float = 0.1, test_ratio: float = 0.1,
                     ood_ratio: float = 0.1, seed: int = 0, *, max_item_fraction: float = 0.5,
                     val_from: Literal["iid", "ood"] = "iid",
                     min_user_interactions: int = 2, ood_items: Literal["all", "tail"] = "all",
                     head_fraction: float = 1 / 3) -> InteractionData:
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
        notes.append(f"{what}: only {int(quota.sum())} of the {budget} capped interactions could be "
                     f"drawn with max_item_fraction={max_item_fraction}")
    label = torch.full((n,), TRAIN, dtype=torch.long)
    cand = torch.nonzero(~small).view(-1)
    rank, _ = _rank_within(items[cand], data.num_items, generator=gen)
    capped = cand[rank < quota[items[cand]]]
    label[capped] = OOD
    if n_val_ood:
        share = n_val_ood / max(int(capped.numel()), 1)
        to_val = capped[torch.randperm(capped.numel(), generator=gen)[:round(share * capped.numel())]]
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
    wanted = [TRAIN] + ([VAL] if val_ratio > 0 else []) + ([TEST] if test_ratio > 0 else []) + \
        ([OOD] if ood_ratio > 0 else [])
    return _build(data, pool, label, wanted, notes, what)


# -------------------------------------------------------------------- temporal
def _require_timestamps(data: InteractionData, parts: Sequence[str], what: str) -> None:
    missing = [p for p in parts if p not in data.timestamps]
    if missing:
        raise DataValidationError(
            f"{what} needs a timestamp for every interaction, but {data.name!r} has none for "
            f"part(s) {missing}. Load a file with a timestamp column (a RecBole .inter file with "
            f"'timestamp:float', or a CSV with a time column), or use split_random / "
            f"split_popularity, which need no time.")


def _temporal_labels(data: InteractionData, pool: _Pool, mode: TemporalMode, val_ratio: float,
                     test_ratio: float, min_user_interactions: int, notes: list[str],
                     what: str) -> Tensor:
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
            notes.append(f"{what}: the validation window is empty (too many ties at time {float(t_val)})")
        return label
    if mode == "user":
        small = _small_users(pool, data.num_users, min_user_interactions, notes, what)
        label = torch.full((pool.size,), TRAIN, dtype=torch.long)
        idx = torch.nonzero(~small).view(-1)
        users = pool.index[0, idx]
        rank, size = _rank_within(users, data.num_users, time=time[idx])
        half = torch.full((idx.numel(),), 0.5, dtype=torch.double)
        sub = _quantile_labels(rank, size, half, [1.0 - val_ratio - test_ratio, 1.0 - test_ratio],
                               [TRAIN, VAL, OOD])
        sub[rank == 0] = TRAIN
        label[idx] = sub
        return label
    raise ValueError(f"'mode' must be 'global' or 'user', got {mode!r}")


def split_temporal(data: InteractionData, mode: TemporalMode = "global", val_ratio: float = 0.1,
                   test_ratio: float = 0.2, *, iid_test_ratio: float = 0.0, seed: int = 0,
                   min_user_interactions: int = 2,
                   cold_users: Literal["drop", "keep"] = "drop") -> InteractionData:
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
    label = _temporal_labels(data, pool, mode, val_ratio, test_ratio, min_user_interactions,
                             notes, what)
    if iid_test_ratio > 0:
        train = label == TRAIN
        sub = _per_user_random(pool, data.num_users, 0.0, iid_test_ratio, _generator(seed),
                               eligible=train)
        label[train] = sub[train]
    label = _resolve_cold_users(pool, label, data.num_users, cold_users, notes, what)
    wanted = [TRAIN] + ([VAL] if val_ratio > 0 else []) + ([TEST] if iid_test_ratio > 0 else []) + \
        ([OOD] if test_ratio > 0 else [])
    return _build(data, pool, label, wanted, notes, what)


# ----------------------------------------------------------------------- mixed
def split_mixed(data: InteractionData, val_ratio: float = 0.1, test_ratio: float = 0.2, *,
                ood_keep: float = 0.5, mode: TemporalMode = "global", iid_test_ratio: float = 0.0,
                seed: int = 0, min_user_interactions: int = 2,
                cold_users: Literal["drop", "keep"] = "drop") -> InteractionData:
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
    label = _temporal_labels(data, pool, mode, val_ratio, test_ratio, min_user_interactions,
                             notes, what)
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
    notes.append(f"{what}: kept {kept} of the {window_size} interactions of the last window in the "
                 f"item-capped test_ood ({window_size - int(eligible.sum())} were on items without "
                 f"training data); the rest is dropped")
    wanted = [TRAIN] + ([VAL] if val_ratio > 0 else []) + ([TEST] if iid_test_ratio > 0 else []) + [OOD]
    return _build(data, pool, label, wanted, notes, what)


# -------------------------------------------------------------------- exposure
def split_exposure(data: InteractionData, val_ratio: float = 0.1, test_ratio: float = 0.0,
                   seed: int = 0, *, random_part: str | None = None,
                   overlap: Literal["test", "train"] = "test",
                   min_user_interactions: int = 2) -> InteractionData:
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
            f"split_exposure needs the randomly exposed interactions in an evaluation part; "
            f"{data.name!r} has parts {list(data.parts)} (pass random_part=...)")
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
            notes.append(f"{what}: {int(in_rand.sum())} pairs are both user-selected and randomly "
                         f"exposed; kept in test_ood, removed from training (overlap='test')")
        else:
            rand = rand.select(~in_mnar)
            notes.append(f"{what}: {int(in_mnar.sum())} pairs are both user-selected and randomly "
                         f"exposed; kept in training, removed from test_ood (overlap='train')")
    gen = _generator(seed)
    small = _small_users(mnar, data.num_users, min_user_interactions, notes, what)
    mnar_label = _per_user_random(mnar, data.num_users, val_ratio, test_ratio, gen, eligible=~small)
    pool = _Pool.cat([mnar, rand])
    label = torch.cat([mnar_label, torch.full((rand.size,), OOD, dtype=torch.long)])
    label = _resolve_cold_users(pool, label, data.num_users, "drop", notes, what)
    wanted = [TRAIN] + ([VAL] if val_ratio > 0 else []) + ([TEST] if test_ratio > 0 else []) + [OOD]
    return _build(data, pool, label, wanted, notes, what)
