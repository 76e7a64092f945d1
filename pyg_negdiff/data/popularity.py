r"""Item popularity measures: head items, head / mid / tail groups, Gini, KL divergence.

`pyg_negdiff.data.diagnostics.shift_report` reads them, the evaluator reports every
metric per group (`item_groups`), and `pyg_negdiff.data.plot` draws them.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import Tensor

from pyg_negdiff.data.interactions import InteractionData

__all__ = [
    "GROUP_NAMES",
    "head_items",
    "gini",
    "kl_divergence",
    "item_groups",
    "interaction_groups",
]

#: Display name of each popularity group label returned by `item_groups`.
GROUP_NAMES = ("head", "mid", "tail")

GroupBy = Literal["items", "interactions"]


def head_items(popularity: Tensor, fraction: float = 0.1) -> Tensor:
    r"""Boolean ``[I]`` mask of the $\lceil f I \rceil$ most popular items (ties broken by item id).

    Args:
        popularity (torch.Tensor): ``[I]`` training interaction count of every item.
        fraction (float): The share $f \in (0, 1]$ of items called the head. (default: ``0.1``)

    Returns:
        torch.Tensor: ``[I]`` booleans, ``True`` for head items.

    Examples:
        >>> head_items(torch.tensor([5, 0, 9, 1, 2, 2, 0, 3, 1, 7]), fraction=0.2).nonzero().view(-1).tolist()
        [2, 9]
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    num = popularity.numel()
    count = min(num, max(1, math.ceil(fraction * num)))
    # A stable sort on -popularity keeps the lower id first among equals: deterministic.
    order = torch.sort(-popularity.to(torch.float64), stable=True).indices[:count]
    mask = torch.zeros(num, dtype=torch.bool, device=popularity.device)
    mask[order] = True
    return mask


def gini(counts: Tensor) -> float:
    r"""Gini coefficient of a popularity vector, over all its entries (zeros included).

    With the $I$ counts sorted ascending, $x_{(1)} \le \ldots \le x_{(I)}$,

    $$
    G = \frac{\sum_{k=1}^{I} (2k - I - 1)\, x_{(k)}}{I \sum_{k} x_{(k)}},
    $$

    0 when every item is equally frequent, $(I-1)/I$ when one item has everything.

    Args:
        counts (torch.Tensor): ``[I]`` non-negative counts.

    Examples:
        >>> import torch
        >>> gini(torch.tensor([5, 5, 5, 5])), gini(torch.tensor([0, 0, 0, 8]))
        (0.0, 0.75)
    """
    x = torch.sort(counts.double().reshape(-1)).values
    n, total = x.numel(), float(x.sum())
    if n == 0 or total == 0.0:
        return 0.0
    k = torch.arange(1, n + 1, dtype=torch.double)
    return float(((2 * k - n - 1) * x).sum() / (n * total))


def kl_divergence(counts: Tensor, reference: Tensor, smoothing: float = 1.0) -> float:
    r"""$\mathrm{KL}(p \,\|\, \tilde q)$ in nats between two item-count vectors.

    $p_i = n_i / N$ is the empirical distribution of ``counts``, unsmoothed;
    the reference gets additive smoothing so that it is positive everywhere,

    $$
    \tilde q_i = \frac{m_i + \alpha}{M + \alpha I}, \qquad
    \mathrm{KL}(p \,\|\, \tilde q) = \sum_{i : n_i > 0} p_i \log \frac{p_i}{\tilde q_i}.
    $$

    It reads: how surprising the test items are to a model of the training
    distribution. It is finite for any test part when $\alpha > 0$.

    Args:
        counts (torch.Tensor): ``[I]`` counts $n_i$ of the compared part (the test).
        reference (torch.Tensor): ``[I]`` counts $m_i$ of the reference part (training).
        smoothing (float): $\alpha$, pseudo-count added to every reference item.

    Examples:
        >>> import torch
        >>> round(kl_divergence(torch.tensor([1, 1]), torch.tensor([3, 1]), smoothing=0.0), 4)
        0.1438
    """
    n = counts.double().reshape(-1)
    m = reference.double().reshape(-1)
    if n.numel() != m.numel():
        raise ValueError(f"counts has {n.numel()} items but reference has {m.numel()}")
    if float(n.sum()) == 0.0:
        return 0.0
    p = n / n.sum()
    q = (m + smoothing) / (m.sum() + smoothing * m.numel())
    support = p > 0
    if bool((q[support] <= 0).any()):
        return math.inf
    return float((p[support] * (p[support] / q[support]).log()).sum())


def item_groups(
    data: InteractionData,
    part: str = "train",
    *,
    head: float = 0.2,
    mid: float = 0.3,
    by: GroupBy = "items",
) -> Tensor:
    r"""Popularity group of every item: 0 = head, 1 = mid, 2 = tail (`GROUP_NAMES`).

    Items are ranked by their interaction count in ``part`` (the training part
    by default), most popular first, ties by item id.

    - ``by="items"`` (default): head is the top $\lceil h I \rfloor$ items,
      mid the next $\lceil m I \rfloor$ ($h$ = ``head``, $m$ = ``mid``,
      rounded), tail the rest (by default 20% / 30% / 50% of the items).
    - ``by="interactions"``: an item is head if the interactions of the items
      ranked before it make up less than a share $h$ of ``part``, mid if less
      than $h + m$, tail otherwise (groups of roughly equal interaction mass
      when $h = m = 1/3$).

    Items with no interaction in ``part`` are always tail.

    Args:
        data (InteractionData): The data.
        part (str): The part whose popularity defines the groups.
        head (float): Share $h$ of items (or of interactions) in the head.
        mid (float): Share $m$ in the mid group.
        by (str): ``"items"`` or ``"interactions"``.

    Returns:
        torch.Tensor: ``[I]`` ``long`` labels.

    Examples:
        >>> import torch
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> data = InteractionData(3, 10, {"train": torch.tensor(
        ...     [[0, 1, 2, 0, 1, 0, 2, 1], [4, 4, 4, 7, 7, 1, 1, 9]])})
        >>> item_groups(data).tolist()  # head: items 4, 1; mid: 7, 9 (item 0 is unseen: tail)
        [2, 0, 2, 2, 0, 2, 2, 1, 2, 1]
    """
    if not (0.0 <= head and 0.0 <= mid and head + mid <= 1.0):
        raise ValueError(f"need 0 <= head, mid and head + mid <= 1, got head={head}, mid={mid}")
    pop = data.item_popularity(part)
    num_items = pop.numel()
    order = torch.argsort(-pop, stable=True)
    groups = torch.full((num_items,), 2, dtype=torch.long)
    if by == "items":
        n_head = round(head * num_items)
        n_mid = round((head + mid) * num_items) - n_head
        ranked = torch.full((num_items,), 2, dtype=torch.long)
        ranked[:n_head] = 0
        ranked[n_head : n_head + n_mid] = 1
    elif by == "interactions":
        total = max(int(pop.sum()), 1)
        before = (torch.cumsum(pop[order], 0) - pop[order]).double() / total
        ranked = torch.bucketize(
            before, torch.tensor([head, head + mid], dtype=torch.double), right=True
        )
    else:
        raise ValueError(f"'by' must be 'items' or 'interactions', got {by!r}")
    groups[order] = ranked
    groups[pop == 0] = 2
    return groups


def interaction_groups(
    data: InteractionData, part: str, *, reference: str = "train", **kwargs: Any
) -> Tensor:
    r"""The popularity group (`item_groups` of ``reference``) of every interaction of ``part``.

    This is the ``groups`` argument of ``Evaluator.evaluate``, with
    ``group_names=GROUP_NAMES``, to read every metric on head, mid and tail items.

    Args:
        data (InteractionData): The data.
        part (str): The part whose interactions are labelled.
        reference (str): The part whose popularity defines the groups.
        **kwargs: Passed on to `item_groups` (``head``, ``mid``, ``by``).

    Returns:
        torch.Tensor: ``[E_part]`` ``long`` labels, 0 = head, 1 = mid, 2 = tail.

    Examples:
        >>> import torch
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> data = InteractionData(2, 4, {"train": torch.tensor([[0, 1, 1], [0, 0, 1]]),
        ...                               "test": torch.tensor([[0, 1], [3, 0]])})
        >>> interaction_groups(data, "test").tolist()
        [2, 0]
    """
    return item_groups(data, reference, **kwargs)[data.parts[part][1]]
