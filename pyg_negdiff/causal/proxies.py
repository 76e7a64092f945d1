r"""Observed proxies of the confounders: item popularity, user activity, time, and ground truth.

They need no model, so their assignment is computed once by `fit` and never
updated. Each groups the training interactions into $K$ quantile groups of
(roughly) equal numbers of interactions, which keeps every environment
represented in a training batch.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from pyg_negdiff.causal.base import EnvironmentStrategy
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.nn.base import Embeddings

__all__ = [
    "mass_quantile_groups",
    "count_quantile_groups",
    "PopularityEnvironments",
    "ActivityEnvironments",
    "TimeEnvironments",
    "OracleEnvironments",
]


def mass_quantile_groups(counts: Tensor, num_groups: int) -> Tensor:
    r"""Splits entities (items or users) into groups of about equal interaction mass.

    Entities are ranked by count, largest first (ties by id), and entity $n$
    goes to group $\lfloor K\,c_n / C \rfloor$, where $c_n$ is the mass of the
    entities ranked before it plus half its own and $C$ the total: group 0
    holds the heaviest entities, group $K-1$ the lightest. Entities with a
    count of zero go to group $K-1$.

    Args:
        counts (torch.Tensor): ``[N]`` interaction counts.
        num_groups (int): Number of groups $K$.

    Returns:
        torch.Tensor: ``[N]`` ``long`` labels in $[0, K)$.

    Examples:
        >>> mass_quantile_groups(torch.tensor([1, 6, 0, 2, 3]), 2).tolist()
        [1, 0, 1, 1, 1]
    """
    counts = counts.reshape(-1).double()
    order = torch.argsort(-counts, stable=True)
    ranked = counts[order]
    total = ranked.sum().clamp_min(1.0)
    mid = (torch.cumsum(ranked, 0) - 0.5 * ranked) / total
    groups = torch.empty_like(order)
    groups[order] = (mid * num_groups).long().clamp_(0, num_groups - 1)
    groups[counts == 0] = num_groups - 1
    return groups


def count_quantile_groups(counts: Tensor, num_groups: int) -> Tensor:
    r"""Splits entities into groups of equal size by count: the $k$-th $K$-quantile goes to group $k$.

    Entities are ranked by count, largest first (ties by id); the entity of
    rank $r$ among $N$ goes to group $\lfloor K r / N \rfloor$. Entities with
    a count of zero go to group $K-1$.

    Args:
        counts (torch.Tensor): ``[N]`` interaction counts.
        num_groups (int): Number of groups $K$.

    Returns:
        torch.Tensor: ``[N]`` ``long`` labels in $[0, K)$.

    Examples:
        >>> count_quantile_groups(torch.tensor([1, 6, 0, 2, 3, 5]), 3).tolist()
        [2, 0, 2, 1, 1, 0]
    """
    counts = counts.reshape(-1)
    order = torch.argsort(-counts, stable=True)
    groups = torch.empty_like(order)
    groups[order] = (
        torch.arange(counts.numel(), device=counts.device) * num_groups // max(1, counts.numel())
    )
    groups[counts == 0] = num_groups - 1
    return groups


class _CountProxy(EnvironmentStrategy):
    """Interactions grouped by a count of their item (row 1) or user (row 0)."""

    row: ClassVar[int]
    entities: ClassVar[str]

    def __init__(self, num_environments: int = 3, *, by: str | None = None) -> None:
        super().__init__(num_environments)
        by = self.entities if by is None else by
        if by not in (self.entities, "interactions"):
            raise ValueError(f"'by' must be {self.entities!r} or 'interactions', got {by!r}")
        self.by = by

    def _counts(self, data: InteractionData) -> Tensor:
        raise NotImplementedError

    def fit(
        self,
        data: InteractionData,
        emb: Embeddings | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        self.data = data
        split = mass_quantile_groups if self.by == "interactions" else count_quantile_groups
        self.groups = split(self._counts(data), self.num_environments)
        return self.groups[data.train[self.row]]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_environments={self.num_environments}, by={self.by!r})"

    def assign(self, data: InteractionData, part: str) -> Tensor:
        self._require_fit()
        return self.groups[data.parts[part][self.row]]


class PopularityEnvironments(_CountProxy):
    r"""Environment = item-popularity tier of the interaction's item.

    Items are ranked by training popularity and cut into $K$ tiers, either of
    equal numbers of items (``by="items"``, `count_quantile_groups`, the tiers
    of `pyg_negdiff.data.diagnostics.item_groups`) or of equal numbers of
    interactions (``by="interactions"``, `mass_quantile_groups`, which keeps
    every environment equally represented in a batch). Environment 0 is the head,
    $K-1$ the long tail. Popularity is the classic observed proxy of exposure
    bias. Items never seen in training are tail.

    Args:
        num_environments (int): $K$.
        by (str): ``"items"`` (default) or ``"interactions"``.

    Examples:
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> data = InteractionData(3, 2, {"train": torch.tensor([[0, 1, 2, 0], [0, 0, 0, 1]]),
        ...                               "test": torch.tensor([[1, 2], [1, 0]])})
        >>> env = PopularityEnvironments(2)
        >>> env.fit(data).tolist(), env.assign(data, "test").tolist()
        ([0, 0, 0, 1], [1, 0])
    """

    name = "popularity"
    row = 1
    entities = "items"

    def _counts(self, data: InteractionData) -> Tensor:
        return data.item_popularity("train")


class ActivityEnvironments(_CountProxy):
    r"""Environment = activity tier of the interaction's user.

    Users are ranked by their number of training interactions and cut into $K$
    tiers of equal numbers of users (``by="users"``) or of interactions
    (``by="interactions"``): environment 0 holds the most active users. Users
    without training data are in the least active tier.

    Args:
        num_environments (int): $K$.
        by (str): ``"users"`` (default) or ``"interactions"``.
    """

    name = "activity"
    row = 0
    entities = "users"

    def _counts(self, data: InteractionData) -> Tensor:
        return data.user_degree("train")


class TimeEnvironments(EnvironmentStrategy):
    r"""Environment = time window of the interaction.

    The training timestamps are cut at their $k/K$ quantiles
    ($k = 1, \ldots, K-1$) into $K$ windows of equal size, earliest first.
    An evaluation part is labeled with the same cut points, so interactions after
    the end of training fall in the last window. Needs ``data.timestamps``.

    Args:
        num_environments (int): Number of windows $K$.
    """

    name = "time"

    def fit(
        self,
        data: InteractionData,
        emb: Embeddings | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        if "train" not in data.timestamps:
            raise ValueError(f"{data.name}: the 'time' environments need training timestamps")
        self.data = data
        time = data.timestamps["train"].double()
        ranked = torch.sort(time).values
        n = ranked.numel()
        cut = torch.arange(1, self.num_environments, dtype=torch.long) * n // self.num_environments
        self.boundaries = ranked[cut]
        return self._label(time)

    def _label(self, time: Tensor) -> Tensor:
        return torch.bucketize(time.double(), self.boundaries, right=True)

    def assign(self, data: InteractionData, part: str) -> Tensor:
        self._require_fit()
        if part not in data.timestamps:
            raise ValueError(f"{data.name}: part {part!r} has no timestamps")
        return self._label(data.timestamps[part])


class OracleEnvironments(EnvironmentStrategy):
    r"""The ground-truth environments ``data.env`` (synthetic data only).

    An upper bound for the other strategies: what the penalty achieves when
    the confounder groups are known.

    Args:
        num_environments (int): $K$; the labels of ``data.env`` must lie in $[0, K)$.
    """

    name = "oracle"

    def fit(
        self,
        data: InteractionData,
        emb: Embeddings | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        self.data = data
        return self.assign(data, "train")

    def assign(self, data: InteractionData, part: str) -> Tensor:
        if part not in data.env:
            raise ValueError(
                f"{data.name}: no ground-truth environments for part {part!r} "
                f"(data.env has {sorted(data.env)})"
            )
        labels = data.env[part].long()
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.num_environments):
            raise ValueError(
                f"ground-truth labels span [{int(labels.min())}, {int(labels.max())}], "
                f"outside [0, {self.num_environments})"
            )
        return labels
