r"""`EnvironmentInference`: the environment assignment the trainer reads, batch by batch.

The trainer uses it in three calls::

    env = EnvironmentInference("eiil", num_environments=2, update_every=5, seed=0)
    env.fit(data)                         # before training
    env.maybe_update(epoch, emb.detach()) # at the start of every epoch
    env.batch_environments(index)         # per batch: index = positions in data.train
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor

from pyg_negdiff.causal.base import EnvironmentStrategy, harden
from pyg_negdiff.causal.cluster import ClusterEnvironments
from pyg_negdiff.causal.eiil import EIILEnvironments
from pyg_negdiff.causal.proxies import (
    ActivityEnvironments,
    OracleEnvironments,
    PopularityEnvironments,
    TimeEnvironments,
)
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.nn.base import Embeddings

__all__ = ["STRATEGIES", "EnvironmentInference", "interaction_environments"]

#: Strategy name to class.
STRATEGIES: dict[str, type[EnvironmentStrategy]] = {
    cls.name: cls
    for cls in (
        PopularityEnvironments,
        ActivityEnvironments,
        TimeEnvironments,
        OracleEnvironments,
        EIILEnvironments,
        ClusterEnvironments,
    )
}


def _build(
    strategy: str | EnvironmentStrategy, num_environments: int | None, kwargs: dict[str, Any]
) -> EnvironmentStrategy:
    if isinstance(strategy, EnvironmentStrategy):
        if kwargs:
            raise ValueError(
                f"options {sorted(kwargs)} only apply when the strategy is given by name"
            )
        if num_environments is not None and num_environments != strategy.num_environments:
            raise ValueError(
                f"num_environments={num_environments} but the strategy has "
                f"{strategy.num_environments}"
            )
        return strategy
    try:
        cls = STRATEGIES[strategy.lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"unknown environment strategy {strategy!r}; choose from {sorted(STRATEGIES)}"
        ) from None
    return cls(3 if num_environments is None else num_environments, **kwargs)


class EnvironmentInference:
    r"""Assigns training interactions to $K$ environments and keeps the assignment current.

    Wraps an `EnvironmentStrategy` (by name or as an instance):

    | name | strategy | assignment |
    |---|---|---|
    | ``"popularity"`` | `PopularityEnvironments` | item-popularity tier (equal interaction mass) |
    | ``"activity"`` | `ActivityEnvironments` | user-activity tier |
    | ``"time"`` | `TimeEnvironments` | time window (needs timestamps) |
    | ``"oracle"`` | `OracleEnvironments` | ground truth ``data.env`` (synthetic data) |
    | ``"eiil"`` | `EIILEnvironments` | soft split maximizing the reference model's penalty |
    | ``"cluster"`` | `ClusterEnvironments` | $k$-means on loss, popularity, activity |

    Proxies are computed once by `fit`. Learned strategies are re-inferred by
    `maybe_update` from the model's current (detached) embeddings at epochs
    ``warmup``, ``warmup + update_every``, ...; each update costs one scoring
    pass over the training interactions plus the strategy's own work (a few
    hundred vectorized steps over an ``[E, K]`` matrix for EIIL), timed in
    ``update_seconds``.

    Every update draws its randomness from a generator seeded with ``seed`` and
    the update's number, so the assignments are deterministic under a seed.

    Args:
        strategy (str or EnvironmentStrategy): A name from `STRATEGIES` or an instance.
        num_environments (int, optional): $K$ (default: the strategy's, or 3 by name).
        update_every (int): Epochs between updates of a learned strategy. (default: ``5``)
        warmup (int): Epoch of the first update. (default: ``1``, after one epoch of
            plain training: a reference model that still leans on the confounders,
            which is what EIIL needs)
        seed (int): Seed of the inference.
        **kwargs (optional): Constructor options of the strategy named by ``strategy``.

    Examples:
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> data = InteractionData(3, 2, {"train": torch.tensor([[0, 1, 2, 0], [0, 0, 0, 1]])})
        >>> env = EnvironmentInference("popularity", num_environments=2)
        >>> env.fit(data).tolist()
        [0, 0, 0, 1]
        >>> env.batch_environments(torch.tensor([3, 0])).tolist()
        [1, 0]
    """

    def __init__(
        self,
        strategy: str | EnvironmentStrategy = "popularity",
        num_environments: int | None = None,
        *,
        update_every: int = 5,
        warmup: int = 1,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        if update_every < 1:
            raise ValueError(f"update_every must be >= 1, got {update_every}")
        self.strategy = _build(strategy, num_environments, kwargs)
        self.update_every = int(update_every)
        self.warmup = int(warmup)
        self.seed = int(seed)
        self.num_updates = 0
        self.update_seconds: list[float] = []
        self._assignment: Tensor | None = None
        self._on_device: Tensor | None = None

    # ---------------------------------------------------------------- state
    @property
    def num_environments(self) -> int:
        return self.strategy.num_environments

    @property
    def learned(self) -> bool:
        """Whether `maybe_update` re-infers the assignment."""
        return self.strategy.learned

    @property
    def assignment(self) -> Tensor:
        """The current assignment of ``data.train``: ``[E]`` ``long`` or ``[E, K]`` soft."""
        if self._assignment is None:
            raise RuntimeError("EnvironmentInference is not fitted: call fit(data) first")
        return self._assignment

    @property
    def labels(self) -> Tensor:
        """The current hard labels of ``data.train``, ``[E]`` (argmax of a soft assignment)."""
        return harden(self.assignment)

    @property
    def is_soft(self) -> bool:
        return self.assignment.dim() == 2

    def _generator(self) -> torch.Generator:
        # One stream per update: the n-th update draws the same numbers whatever happened before.
        return torch.Generator().manual_seed(self.seed * 1_000_003 + self.num_updates)

    def _set(self, assignment: Tensor) -> Tensor:
        num = self.strategy.data.train.size(1)
        if assignment.size(0) != num:
            raise RuntimeError(
                f"strategy returned {assignment.size(0)} assignments for {num} interactions"
            )
        self._assignment = assignment.detach()
        self._on_device = None
        self.num_updates += 1
        return self._assignment

    # ------------------------------------------------------------- contract
    def fit(self, data: InteractionData, emb: Embeddings | None = None) -> Tensor:
        """Initial assignment of the ``E`` training interactions.

        Args:
            data (InteractionData): The training data.
            emb (Embeddings, optional): A reference model; learned strategies infer
                from it at once (without it, they wait for the first update).

        Returns:
            torch.Tensor: ``[E]`` ``long`` or ``[E, K]`` float with rows summing to one.
        """
        self.num_updates = 0
        self.update_seconds = []
        start = time.perf_counter()
        out = self._set(
            self.strategy.fit(
                data, None if emb is None else emb.detach(), generator=self._generator()
            )
        )
        self.update_seconds.append(time.perf_counter() - start)
        return out

    def should_update(self, epoch: int) -> bool:
        """Whether `maybe_update` re-infers at ``epoch``.

        Args:
            epoch (int): The epoch about to start, counted from 0.
        """
        return (
            self.learned and epoch >= self.warmup and (epoch - self.warmup) % self.update_every == 0
        )

    def maybe_update(self, epoch: int, emb: Embeddings) -> bool:
        """Re-infers a learned strategy when ``epoch`` is due (no-op for proxies).

        Args:
            epoch (int): The epoch about to start, counted from 0.
            emb (Embeddings): The current model's embeddings.

        Returns:
            bool: Whether the assignment changed hands (an update ran).
        """
        if self._assignment is None:
            raise RuntimeError("EnvironmentInference is not fitted: call fit(data) first")
        if not self.should_update(epoch):
            return False
        self.update(emb)
        return True

    def update(self, emb: Embeddings) -> Tensor:
        """Re-infers a learned strategy from ``emb`` now.

        Args:
            emb (Embeddings): The current model's embeddings.

        Returns:
            torch.Tensor: The new assignment of the training interactions.
        """
        start = time.perf_counter()
        out = self._set(self.strategy.update(emb.detach(), generator=self._generator()))
        self.update_seconds.append(time.perf_counter() - start)
        return out

    def batch_environments(self, index: Tensor) -> Tensor:
        """Environments of the training interactions at positions ``index`` in ``data.train``.

        Args:
            index (torch.Tensor): ``[B]`` ``long`` positions.

        Returns:
            torch.Tensor: ``[B]`` ``long`` or ``[B, K]`` soft, on ``index``'s device.
        """
        assignment = self.assignment
        if self._on_device is None or self._on_device.device != index.device:
            self._on_device = assignment.to(index.device)
        return self._on_device[index]

    def environments(self, part: str) -> Tensor:
        """Hard labels of the interactions of ``part`` (see `interaction_environments`).

        Args:
            part (str): The part to label.
        """
        data = self.strategy._require_fit()
        return self.labels if part == "train" else self.strategy.assign(data, part)

    # ----------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The current assignment, the update count and the strategy's state (for checkpoints).

        Returns:
            dict: ``assignment``, ``num_updates`` and ``strategy`` (the strategy's
            `EnvironmentStrategy.state_dict`); empty before `fit`.

        Examples:
            >>> from pyg_negdiff.data.interactions import InteractionData
            >>> data = InteractionData(3, 2, {"train": torch.tensor([[0, 1, 2, 0], [0, 0, 0, 1]])})
            >>> env = EnvironmentInference("popularity", num_environments=2)
            >>> _ = env.fit(data)
            >>> other = EnvironmentInference("popularity", num_environments=2)
            >>> _ = other.fit(data)
            >>> other.load_state_dict(env.state_dict())
            >>> other.assignment.tolist(), other.num_updates
            ([0, 0, 0, 1], 1)
        """
        if self._assignment is None:
            return {}
        return {
            "assignment": self._assignment,
            "num_updates": self.num_updates,
            "strategy": self.strategy.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what `state_dict` returned (on an instance fitted on the same data).

        Args:
            state (dict): ``assignment``, ``num_updates`` and ``strategy``.
        """
        self._assignment = state["assignment"]
        self._on_device = None  # the copy on the training device is made again on first use
        self.num_updates = state["num_updates"]
        self.strategy.load_state_dict(state["strategy"])

    def __repr__(self) -> str:
        learned = (
            f", update_every={self.update_every}, warmup={self.warmup}" if self.learned else ""
        )
        return f"EnvironmentInference({self.strategy!r}{learned}, seed={self.seed})"


def interaction_environments(
    data: InteractionData,
    part: str,
    env: str | EnvironmentStrategy | EnvironmentInference = "popularity",
    num_environments: int = 3,
) -> Tensor:
    r"""Environment label of every interaction of ``part``: the ``groups`` of ``Evaluator.evaluate``.

    - A fitted `EnvironmentInference` or strategy labels ``part`` with its own
      rule: proxies apply their training tiers or windows, ``"oracle"`` reads
      ``data.env[part]``, ``"cluster"`` takes the nearest centroid. EIIL has no
      rule for interactions outside training and raises.
    - A name builds a proxy with ``num_environments`` and fits it on ``data``
      (``"popularity"``, ``"activity"``, ``"time"`` or ``"oracle"``).

    Args:
        data (InteractionData): The data (the one ``env`` was fitted on).
        part (str): The part to label, e.g. ``"val"`` or ``"test_ood"``.
        env (str, EnvironmentStrategy or EnvironmentInference): The labeling rule.
        num_environments (int): $K$ when ``env`` is a name.

    Returns:
        torch.Tensor: ``[E_part]`` ``long`` labels.

    Examples:
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> data = InteractionData(3, 2, {"train": torch.tensor([[0, 1, 2, 0], [0, 0, 0, 1]]),
        ...                               "val": torch.tensor([[1, 2], [1, 0]])})
        >>> interaction_environments(data, "val", "popularity", num_environments=2).tolist()
        [1, 0]
    """
    if isinstance(env, EnvironmentInference):
        return env.environments(part)
    if isinstance(env, str):
        strategy = _build(env, num_environments, {})
        if strategy.learned:
            raise ValueError(f"{env!r} needs a reference model: pass a fitted EnvironmentInference")
        strategy.fit(data)
        env = strategy
    return env.assign(data, part)
