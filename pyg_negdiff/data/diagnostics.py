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

The popularity measures live in `pyg_negdiff.data.popularity` and the plot in
`pyg_negdiff.data.plot` (`plot_popularity`, matplotlib, an optional extra); both are
re-exported here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Sequence

import torch
from torch import Tensor

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.plot import plot_popularity

# Re-exported: they lived here (metrics and the docs import them from this module).
from pyg_negdiff.data.popularity import (  # noqa: F401
    GROUP_NAMES,
    GroupBy,
    gini,
    head_items,
    interaction_groups,
    item_groups,
    kl_divergence,
)

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
        head = (
            f"Shift diagnostics of {self.name!r}: {self.num_users} users, {self.num_items} items\n"
            f"  KL(part || {self.reference}) in nats, {self.reference} smoothed with "
            f"+{self.smoothing:g} per item; Gini over all {self.num_items} items\n"
            f"  (iid): the same statistic for a sample of the part's size drawn from "
            f"{self.reference}, the value without any shift\n"
            f"  head / mid / tail: {self.grouping}\n"
        )
        has_time = any(s.time_range is not None for s in self.parts.values())
        cols = [
            "part",
            "inter.",
            "users",
            "items",
            "Gini (iid)",
            "KL (iid)",
            "head",
            "mid",
            "tail",
            "cold users",
            "cold items",
        ] + (["time range"] if has_time else [])
        rows = []
        for part, s in self.parts.items():
            kl = (
                "-"
                if s.kl is None
                else f"{s.kl:.3f}"
                + ("" if s.kl_iid is None or part == self.reference else f" ({s.kl_iid:.3f})")
            )
            gi = f"{s.gini:.3f}" + ("" if part == self.reference else f" ({s.gini_iid:.3f})")
            row = [
                part,
                f"{s.interactions:,}",
                f"{s.users:,}",
                f"{s.items:,}",
                gi,
                kl,
                *(f"{100 * s.group_share[g]:.1f}%" for g in GROUP_NAMES),
                f"{s.cold_users:,}",
                f"{100 * s.cold_item_share:.1f}%",
            ]
            if has_time:
                row.append(
                    "-"
                    if s.time_range is None
                    else f"{_format_time(s.time_range[0])} .. {_format_time(s.time_range[1])}"
                )
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


def _iid_samples(
    ref_pop: Tensor, size: int, draws: int, generator: torch.Generator
) -> list[Tensor]:
    """Item counts of ``draws`` samples of ``size`` interactions from the reference distribution."""
    if draws <= 0 or size <= 0 or int(ref_pop.sum()) == 0:
        return []
    probs = ref_pop.double() / ref_pop.sum()
    out = []
    for _ in range(draws):
        drawn = torch.multinomial(probs, size, replacement=True, generator=generator)
        out.append(torch.bincount(drawn, minlength=ref_pop.numel()))
    return out


def shift_report(
    data: InteractionData,
    *,
    reference: str = "train",
    smoothing: float = 1.0,
    head: float = 0.2,
    mid: float = 0.3,
    by: GroupBy = "items",
    baseline_draws: int = 3,
    seed: int = 0,
) -> ShiftReport:
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
        grouping = (
            f"items ranked by {reference} popularity, top {100 * head:g}% / next "
            f"{100 * mid:g}% / rest {100 * (1 - head - mid):g}% of the items"
        )
    else:
        grouping = (
            f"items ranked by {reference} popularity, covering the first {100 * head:g}% / "
            f"next {100 * mid:g}% / rest of the {reference} interactions"
        )
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
            kl_iid=(
                None
                if part == reference or not samples
                else sum(kl_divergence(c, ref_pop, smoothing) for c in samples) / len(samples)
            ),
            group_share={g: float(share[k]) for k, g in enumerate(GROUP_NAMES)},
            cold_users=int((~ref_users[users]).sum()),
            cold_item_share=float((ref_pop[index[1]] == 0).sum()) / e,
            time_range=(
                (float(time.min()), float(time.max()))
                if time is not None and time.numel()
                else None
            ),
        )
    return report
