"""`plot_popularity`: train-vs-evaluation item popularity curves, the picture of a shift."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.popularity import GROUP_NAMES, gini, item_groups, kl_divergence

__all__ = ["plot_popularity"]


def plot_popularity(
    data: InteractionData,
    path: str | Path,
    *,
    parts: Sequence[str] | None = None,
    reference: str = "train",
    bins: int = 40,
) -> Path:
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
        raise ImportError(
            'plot_popularity needs matplotlib: pip install "pyg-negdiff[plot]" '
            "(or pip install matplotlib)"
        ) from err
    parts = (
        list(parts)
        if parts is not None
        else [reference] + [p for p in ["train"] + data.eval_parts if p != reference]
    )
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
        style = dict(
            color=color,
            lw=2.2 if part == reference else 1.6,
            ls="-" if part in (reference, "test_ood") else "--",
        )
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
            ax_binned.text(
                (lo + hi) / 2,
                1.0,
                name,
                transform=ax_binned.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=9,
            )
    ax_binned.set_yscale("log")
    ax_binned.set_xlabel(
        f"items ordered by {reference} popularity (share of all items, "
        f"{edges.numel() - 1} bins)"
    )
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
