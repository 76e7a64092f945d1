r"""`ClusterEnvironments`: $k$-means clusters of interaction, item or user features."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.utils import scatter

from pyg_negdiff.causal.reference import (
    Feature,
    Level,
    _ReferenceStrategy,
    _standardize,
    interaction_features,
    kmeans,
)
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.nn.base import Embeddings

__all__ = ["ClusterEnvironments"]


class ClusterEnvironments(_ReferenceStrategy):
    r"""Environments as $k$-means clusters of interaction, item or user features.

    Every training interaction is described by features among the reference
    loss $\ell_i$, the log popularity of its item $\log(1 + n_i)$ and the log
    activity of its user $\log(1 + d_u)$ (`interaction_features`). With
    ``level="interaction"`` the standardized features of the interactions are
    clustered with seeded $k$-means (`kmeans`). With ``level="item"`` (or
    ``"user"``) they are first averaged per item (user), the items are
    clustered, each item counting once, and an interaction takes its item's
    environment: the grouping for confounders that act on items, such as
    exposure. Clusters are numbered by their centroid's first feature, increasing.

    Without a reference model the loss feature is left out until the first
    update. Evaluation parts are labeled by the nearest centroid: through their
    item (user) at the item (user) level, where items without training
    interactions have popularity 0 and average other features; at the
    interaction level from their own features under the last reference model
    (which has not trained on them, so their losses run higher).

    Args:
        num_environments (int): $K$. (default: ``2``)
        features (Sequence[str]): Among ``"loss"``, ``"popularity"``, ``"activity"``.
        level (str): What is clustered: ``"interaction"``, ``"item"`` or ``"user"``.
        num_iters (int): Lloyd iterations.
        num_init (int): $k$-means++ restarts.
        num_negatives (int): Uniform negatives per interaction in the reference loss.
        batch_size (int): Interactions scored at once for the reference losses.

    Examples:
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> data = InteractionData(4, 3, {"train": torch.tensor([[0, 1, 2, 3, 0], [0, 0, 0, 0, 1]]),
        ...                               "val": torch.tensor([[1, 2], [1, 2]])})
        >>> env = ClusterEnvironments(2, features=["popularity"], level="item")
        >>> env.fit(data, generator=torch.Generator().manual_seed(0)).tolist()
        [1, 1, 1, 1, 0]
        >>> env.assign(data, "val").tolist()  # item 2 was never seen: popularity 0
        [0, 0]
    """

    name = "cluster"

    def __init__(
        self,
        num_environments: int = 2,
        *,
        features: Sequence[Feature] = ("loss", "popularity"),
        level: Level = "item",
        num_iters: int = 50,
        num_init: int = 3,
        num_negatives: int = 4,
        batch_size: int = 65536,
    ) -> None:
        super().__init__(num_environments, num_negatives=num_negatives, batch_size=batch_size)
        if not features:
            raise ValueError("at least one feature is needed")
        if level not in ("interaction", "item", "user"):
            raise ValueError(f"level must be 'interaction', 'item' or 'user', got {level!r}")
        self.features = tuple(features)
        self.level = level
        self.num_iters, self.num_init = num_iters, num_init

    def _active(self, emb: Embeddings | None) -> tuple[Feature, ...]:
        active = tuple(f for f in self.features if emb is not None or f != "loss")
        if not active:
            raise ValueError("the only feature is 'loss', which needs reference embeddings")
        return active

    def _features(
        self, part: str, emb: Embeddings | None, generator: torch.Generator | None
    ) -> Tensor:
        active = self._active(emb)
        loss = None
        if "loss" in active:
            loss = F.softplus(-self._margins(part, emb, generator)).mean(-1)
        return interaction_features(self._require_fit(), part, active, loss)

    def _entity_features(self, x: Tensor) -> Tensor:
        """Per-item (user) means of the training features ``[N, F]``; unseen ones filled in."""
        data = self._require_fit()
        row, size = (1, data.num_items) if self.level == "item" else (0, data.num_users)
        own = "popularity" if self.level == "item" else "activity"
        index = data.train[row].to(x.device)
        count = torch.bincount(index, minlength=size)
        points = scatter(x, index, dim=0, dim_size=size, reduce="mean")
        seen = count > 0
        fill = points[seen].mean(0)
        for col, name in enumerate(self._active(self.emb)):
            fill[col] = 0.0 if name == own else fill[col]  # log(1 + 0) for an unseen item
        points[~seen] = fill
        self.seen = seen
        return points

    def fit(
        self,
        data: InteractionData,
        emb: Embeddings | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        self._fit_data(data)
        return self._cluster(emb, generator)

    def update(self, emb: Embeddings, *, generator: torch.Generator | None = None) -> Tensor:
        return self._cluster(emb.detach(), generator)

    def _cluster(self, emb: Embeddings | None, generator: torch.Generator | None) -> Tensor:
        self.emb = emb
        x = self._features("train", emb, generator)
        if self.level != "interaction":
            points = self._entity_features(x)
            _, self.mean, self.std = _standardize(points[self.seen])
            x = (points - self.mean) / self.std
            labels, centroids = kmeans(
                x[self.seen],
                self.num_environments,
                num_iters=self.num_iters,
                num_init=self.num_init,
                generator=generator,
            )
        else:
            x, self.mean, self.std = _standardize(x)
            labels, centroids = kmeans(
                x,
                self.num_environments,
                num_iters=self.num_iters,
                num_init=self.num_init,
                generator=generator,
            )
        order = torch.argsort(centroids[:, 0])
        self.centroids = centroids[order]
        if self.level == "interaction":
            rank = torch.empty_like(order)
            rank[order] = torch.arange(order.numel(), device=order.device)
            return rank[labels]
        # every item (user), seen or not, gets its nearest centroid
        self.entity_labels = torch.cdist(x, self.centroids).argmin(-1)
        row = 1 if self.level == "item" else 0
        return self.entity_labels[self.data.train[row].to(x.device)]

    def assign(self, data: InteractionData, part: str) -> Tensor:
        if data is not self._require_fit():
            raise ValueError("assign() labels parts of the data the strategy was fitted on")
        if self.level != "interaction":
            row = 1 if self.level == "item" else 0
            return self.entity_labels[data.parts[part][row].to(self.entity_labels.device)]
        gen = torch.Generator().manual_seed(0)
        x, _, _ = _standardize(self._features(part, self.emb, gen), self.mean, self.std)
        return torch.cdist(x, self.centroids).argmin(-1)

    def __repr__(self) -> str:
        return (
            f"ClusterEnvironments(num_environments={self.num_environments}, "
            f"features={list(self.features)}, level={self.level!r})"
        )
