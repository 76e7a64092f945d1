r"""How far each evaluation part of a split is from its training part.

`shift_report` measures, for every part of an `InteractionData`, against the
training part:

- $\mathrm{KL}(p_{part} \,\|\, \tilde p_{train})$, the divergence of the part's
  item distribution from the (smoothed) training one;
- the Gini coefficient of the part's item popularity (0: every item equally
  frequent, near 1: all interactions on one item);
- the share of the part's interactions on head / mid / tail items, with the
  groups fixed by *training* popularity (`item_groups`, also what the evaluator
  uses to report every metric per group);
- users and items without training data, and the time range when timestamps exist.

`plot_popularity` draws the same comparison (matplotlib, an optional extra).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Sequence

import torch
from torch import Tensor

from pyg_negdiff.data.interactions import InteractionData

__all__ = [
    "GROUP_NAMES",
    "gini",
    "kl_divergence",
    "item_groups",
    "interaction_groups",
    "PartShift",
    "ShiftReport",
    "shift_report",
    "plot_popularity",
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


def item_groups(data: InteractionData, part: str = "train", *, head: float = 0.2, mid: float = 0.3,
                by: GroupBy = "items") -> Tensor:
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
        ranked[n_head:n_head + n_mid] = 1
    elif by == "interactions":
        total = max(int(pop.sum()), 1)
        before = (torch.cumsum(pop[order], 0) - pop[order]).double() / total
        ranked = torch.bucketize(before, torch.tensor([head, head + mid], dtype=torch.double),
                                 right=True)
    else:
        raise ValueError(f"'by' must be 'items' or 'interactions', got {by!r}")
    groups[order] = ranked
    groups[pop == 0] = 2
    return groups


def interaction_groups(data: InteractionData, part: str, *, reference: str = "train",
                       **kwargs: Any) -> Tensor:
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


@dataclass
class PartShift:
    """Shift statistics of one part against the reference (training) part.

    Attributes:
        interactions (int): Number of interactions.
        users (int): Distinct users.
        items (int): Distinct items.
        gini (float): Gini coefficient of the part's item popularity (`gini`).
        kl (float, optional): $\\mathrm{KL}(p_{part} \\| \\tilde p_{ref})$ in nats;
            ``None`` for the reference part itself.
        gini_iid (float): Mean Gini of same-size samples drawn from the reference
            distribution: what an unshifted part of this size would show.
        kl_iid (float, optional): Mean KL of those samples. Both estimates grow as a
            part gets smaller (sampling zeros), so read ``gini`` and ``kl`` against them.
            (The samples come from the reference counts as they are, so the sampling
            noise of the reference itself is not in the baseline.)
        group_share (dict[str, float]): Share of interactions on head / mid / tail items.
        cold_users (int): Users of the part with no training interaction.
        cold_item_share (float): Share of interactions on items with no training interaction.
        time_range (tuple[float, float], optional): Earliest and latest timestamp.
    """

    interactions: int
    users: int
    items: int
    gini: float
    kl: float | None
    gini_iid: float
    kl_iid: float | None
    group_share: dict[str, float]
    cold_users: int
    cold_item_share: float
    time_range: tuple[float, float] | None = None


@dataclass
class ShiftReport:
    """Distribution-shift diagnostics of every part of a split (see `shift_report`).

    ``str(report)`` is a readable table; `to_dict` gives plain values for JSON.

    Attributes:
        name (str): Name of the data.
        num_users (int): Number of users.
        num_items (int): Number of items.
        reference (str): The part everything is compared with (``"train"``).
        grouping (str): How head / mid / tail were defined.
        smoothing (float): Pseudo-count $\\alpha$ of the KL reference.
        parts (dict[str, PartShift]): Statistics per part, reference first.
    """

    name: str
    num_users: int
    num_items: int
    reference: str
    grouping: str
    smoothing: float
    parts: dict[str, PartShift] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain Python values (JSON-serializable)."""
        out = asdict(self)
        for stats in out["parts"].values():
            if stats["time_range"] is not None:
                stats["time_range"] = list(stats["time_range"])
        return out

    def __str__(self) -> str:
        head = (f"Shift diagnostics of {self.name!r}: {self.num_users} users, {self.num_items} items\n"
                f"  KL(part || {self.reference}) in nats, {self.reference} smoothed with "
                f"+{self.smoothing:g} per item; Gini over all {self.num_items} items\n"
                f"  (iid): the same statistic for a sample of the part's size drawn from "
                f"{self.reference}, the value without any shift\n"
                f"  head / mid / tail: {self.grouping}\n")
        has_time = any(s.time_range is not None for s in self.parts.values())
        cols = ["part", "inter.", "users", "items", "Gini (iid)", "KL (iid)", "head", "mid", "tail",
                "cold users", "cold items"] + (["time range"] if has_time else [])
        rows = []
        for part, s in self.parts.items():
            kl = "-" if s.kl is None else f"{s.kl:.3f}" + (
                "" if s.kl_iid is None or part == self.reference else f" ({s.kl_iid:.3f})")
            gi = f"{s.gini:.3f}" + ("" if part == self.reference else f" ({s.gini_iid:.3f})")
            row = [part, f"{s.interactions:,}", f"{s.users:,}", f"{s.items:,}", gi, kl,
                   *(f"{100 * s.group_share[g]:.1f}%" for g in GROUP_NAMES),
                   f"{s.cold_users:,}", f"{100 * s.cold_item_share:.1f}%"]
            if has_time:
                row.append("-" if s.time_range is None else
                           f"{_format_time(s.time_range[0])} .. {_format_time(s.time_range[1])}")
            rows.append(row)
        widths = [max(len(c), *(len(r[k]) for r in rows)) for k, c in enumerate(cols)]

        def line(cells: Sequence[str]) -> str:
            first = cells[0].ljust(widths[0])
            rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
            if has_time:  # the time range reads better left-aligned
                rest[-1] = cells[-1].ljust(widths[-1])
            return "  ".join([first, *rest]).rstrip()

        return head + "\n".join([line(cols)] + [line(r) for r in rows])


def _format_time(t: float) -> str:
    """A Unix time in seconds as a UTC date; any other number as it is."""
    if 1e8 <= t <= 4.2e9:
        return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
    return f"{t:g}"


def _iid_samples(ref_pop: Tensor, size: int, draws: int, generator: torch.Generator) -> list[Tensor]:
    """Item counts of ``draws`` samples of ``size`` interactions from the reference distribution."""
    if draws <= 0 or size <= 0 or int(ref_pop.sum()) == 0:
        return []
    probs = ref_pop.double() / ref_pop.sum()
    out = []
    for _ in range(draws):
        drawn = torch.multinomial(probs, size, replacement=True, generator=generator)
        out.append(torch.bincount(drawn, minlength=ref_pop.numel()))
    return out


def shift_report(data: InteractionData, *, reference: str = "train", smoothing: float = 1.0,
                 head: float = 0.2, mid: float = 0.3, by: GroupBy = "items",
                 baseline_draws: int = 3, seed: int = 0) -> ShiftReport:
    r"""Shift diagnostics of every part of ``data`` against ``reference``.

    Args:
        data (InteractionData): A split.
        reference (str): The part compared with (``"train"``).
        smoothing (float): $\alpha$ of `kl_divergence`.
        head (float): Head share of `item_groups`.
        mid (float): Mid share of `item_groups`.
        by (str): ``"items"`` or ``"interactions"``, as in `item_groups`.
        baseline_draws (int): Samples per part for the IID baselines ``gini_iid``
            and ``kl_iid`` (0 skips them).
        seed (int): Seed of those samples.

    Returns:
        ShiftReport: One `PartShift` per part, reference first.

    Examples:
        >>> import torch
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> data = InteractionData(3, 4, {"train": torch.tensor([[0, 1, 2, 0], [0, 0, 0, 1]]),
        ...                               "test_ood": torch.tensor([[1, 2, 0], [1, 2, 3]])})
        >>> report = shift_report(data)
        >>> report.parts["train"].gini, report.parts["test_ood"].gini
        (0.625, 0.25)
        >>> report.parts["test_ood"].group_share
        {'head': 0.0, 'mid': 0.3333333333333333, 'tail': 0.6666666666666666}
    """
    if reference not in data.parts:
        raise KeyError(f"no part {reference!r} in {data.name}; it has {list(data.parts)}")
    groups = item_groups(data, reference, head=head, mid=mid, by=by)
    ref_pop = data.item_popularity(reference)
    ref_users = data.user_degree(reference) > 0
    if by == "items":
        grouping = (f"items ranked by {reference} popularity, top {100 * head:g}% / next "
                    f"{100 * mid:g}% / rest {100 * (1 - head - mid):g}% of the items")
    else:
        grouping = (f"items ranked by {reference} popularity, covering the first {100 * head:g}% / "
                    f"next {100 * mid:g}% / rest of the {reference} interactions")
    report = ShiftReport(data.name, data.num_users, data.num_items, reference, grouping, smoothing)
    gen = torch.Generator().manual_seed(seed)
    for part in [reference] + [p for p in ["train"] + data.eval_parts if p != reference]:
        index = data.parts[part]
        pop = data.item_popularity(part)
        e = max(index.size(1), 1)
        share = torch.bincount(groups[index[1]], minlength=3).double() / e
        users = torch.unique(index[0])
        time = data.timestamps.get(part)
        samples = _iid_samples(ref_pop, index.size(1), baseline_draws, gen)
        report.parts[part] = PartShift(
            interactions=index.size(1),
            users=users.numel(),
            items=int((pop > 0).sum()),
            gini=gini(pop),
            kl=None if part == reference else kl_divergence(pop, ref_pop, smoothing),
            gini_iid=sum(gini(c) for c in samples) / len(samples) if samples else gini(pop),
            kl_iid=None if part == reference or not samples else
            sum(kl_divergence(c, ref_pop, smoothing) for c in samples) / len(samples),
            group_share={g: float(share[k]) for k, g in enumerate(GROUP_NAMES)},
            cold_users=int((~ref_users[users]).sum()),
            cold_item_share=float((ref_pop[index[1]] == 0).sum()) / e,
            time_range=(float(time.min()), float(time.max()))
            if time is not None and time.numel() else None,
        )
    return report


def plot_popularity(data: InteractionData, path: str | Path, *, parts: Sequence[str] | None = None,
                    reference: str = "train", bins: int = 40) -> Path:
    r"""Writes a PNG comparing the item popularity of ``reference`` with every other part.

    Left: each part's item frequencies, sorted from most to least frequent and
    divided by the part's size (log scale), against the item rank as a share of
    the items. A flatter curve is a more uniform item distribution.
    Right: items ordered by *reference* popularity and cut into ``bins`` equal
    bins; each part's share of interactions per bin (log scale), with the head /
    mid / tail groups of `item_groups` shaded. An IID test follows the training
    curve; a popularity-shifted test is flat.

    Needs matplotlib (``pip install "pyg-negdiff[plot]"``).

    Args:
        data (InteractionData): A split.
        path (str or Path): Output file (the suffix picks the format, e.g. ``.png``).
        parts (Sequence[str], optional): Parts to draw (default: all).
        reference (str): The part whose popularity orders the items.
        bins (int): Number of item bins in the right panel.

    Returns:
        Path: ``path``.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plot_popularity needs matplotlib: pip install \"pyg-negdiff[plot]\" "
                          "(or pip install matplotlib)") from err
    parts = list(parts) if parts is not None else [reference] + [
        p for p in ["train"] + data.eval_parts if p != reference]
    num_items = data.num_items
    ref_pop = data.item_popularity(reference)
    order = torch.argsort(-ref_pop, stable=True)
    groups = item_groups(data, reference)
    edges = torch.linspace(0, num_items, bins + 1).round().long()
    edges = torch.unique(edges)
    bin_of_rank = torch.bucketize(torch.arange(num_items), edges[1:], right=True)
    centers = ((edges[:-1] + edges[1:]).double() / 2 / num_items).numpy()

    colors = {"train": "#222222", "val": "#1f77b4", "test": "#2ca02c", "test_ood": "#d62728"}
    fig = Figure(figsize=(12, 4.6), layout="constrained")
    ax_sorted, ax_binned = fig.subplots(1, 2)
    extra = iter(["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"])
    for part in parts:
        pop = data.item_popularity(part).double()
        total = float(pop.sum())
        if total == 0:
            continue
        color = colors.get(part) or next(extra, None)
        g = gini(pop)
        label = f"{part} (n={int(total):,}, Gini {g:.2f})"
        if part != reference:
            label += f", KL {kl_divergence(pop, ref_pop):.2f}"
        style = dict(color=color, lw=2.2 if part == reference else 1.6,
                     ls="-" if part in (reference, "test_ood") else "--")
        freq = torch.sort(pop, descending=True).values
        freq = freq[freq > 0] / total
        x = (torch.arange(freq.numel()).double() + 0.5) / num_items
        ax_sorted.plot(x.numpy(), freq.numpy(), label=label, **style)
        per_bin = torch.zeros(edges.numel() - 1, dtype=torch.double)
        per_bin.index_add_(0, bin_of_rank, pop[order] / total)
        mask = (per_bin > 0).numpy()
        ax_binned.plot(centers[mask], per_bin.numpy()[mask], marker="o", ms=3, label=part, **style)
    ax_sorted.set_yscale("log")
    ax_sorted.set_xlabel("item rank within the part (share of all items)")
    ax_sorted.set_ylabel("share of the part's interactions")
    ax_sorted.set_title("Sorted item frequency per part")
    ax_sorted.set_xlim(0, 1)
    ax_sorted.legend(fontsize=8, loc="upper right")
    ax_sorted.grid(True, which="major", alpha=0.3)

    ranks_sorted = groups[order]
    shades = {0: "#f6c6c6", 1: "#f9e3b4", 2: "#cfe3f7"}
    for gid, name in enumerate(GROUP_NAMES):
        where = torch.nonzero(ranks_sorted == gid).view(-1)
        if where.numel():
            lo, hi = int(where.min()) / num_items, (int(where.max()) + 1) / num_items
            ax_binned.axvspan(lo, hi, color=shades[gid], alpha=0.6, lw=0)
            ax_binned.text((lo + hi) / 2, 1.0, name, transform=ax_binned.get_xaxis_transform(),
                           ha="center", va="bottom", fontsize=9)
    ax_binned.set_yscale("log")
    ax_binned.set_xlabel(f"items ordered by {reference} popularity (share of all items, "
                         f"{edges.numel() - 1} bins)")
    ax_binned.set_ylabel("share of the part's interactions in the bin")
    ax_binned.set_title(f"Where each part's interactions fall, by {reference} popularity", pad=16)
    ax_binned.set_xlim(0, 1)
    ax_binned.legend(fontsize=8, loc="upper right")
    ax_binned.grid(True, which="major", alpha=0.3)
    fig.suptitle(f"{data.name}: item popularity, {reference} vs evaluation parts")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
