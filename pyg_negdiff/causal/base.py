r"""The interface every environment strategy shares.

A strategy assigns each training interaction to one of $K$ environments,
either hard (a ``[E]`` ``long`` label) or soft (a ``[E, K]`` row of weights
that sums to one), and labels the interactions of an evaluation part.
`EnvironmentInference` drives a strategy for the trainer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import Tensor

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.nn.base import Embeddings

__all__ = ["EnvironmentStrategy", "harden"]


def harden(assignment: Tensor) -> Tensor:
    """Hard labels of an assignment: ``[E]`` stays, ``[E, K]`` becomes its row-wise argmax.

    Args:
        assignment (torch.Tensor): ``[E]`` labels or ``[E, K]`` soft weights.

    Returns:
        torch.Tensor: ``[E]`` ``long`` labels.

    Examples:
        >>> harden(torch.tensor([[0.2, 0.8], [0.9, 0.1]])).tolist()
        [1, 0]
    """
    return assignment.argmax(-1) if assignment.dim() == 2 else assignment.long()


class EnvironmentStrategy(ABC):
    r"""Base class of the environment strategies.

    Subclasses implement `fit` (the assignment of ``data.train``), `assign`
    (labels of an evaluation part) and, when ``learned`` is true, `update`
    (re-inference from the current model's embeddings).

    Args:
        num_environments (int): Number of environments $K \geq 1$.
    """

    #: Registry name (``EnvironmentInference("popularity", ...)``).
    name: ClassVar[str] = ""
    #: Whether the assignment depends on a model, so that `update` re-infers it.
    learned: ClassVar[bool] = False

    def __init__(self, num_environments: int = 3) -> None:
        if int(num_environments) < 1:
            raise ValueError(f"num_environments must be >= 1, got {num_environments}")
        self.num_environments = int(num_environments)
        self.data: InteractionData | None = None

    @abstractmethod
    def fit(
        self,
        data: InteractionData,
        emb: Embeddings | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Assigns the training interactions: ``[E]`` ``long`` or ``[E, K]`` soft.

        Args:
            data (InteractionData): The data; ``data.train`` is assigned.
            emb (Embeddings, optional): A reference model's (detached) embeddings;
                only learned strategies read them.
            generator (torch.Generator, optional): Source of randomness.
        """

    def update(self, emb: Embeddings, *, generator: torch.Generator | None = None) -> Tensor:
        """Re-infers the training assignment from new embeddings (learned strategies only).

        Args:
            emb (Embeddings): The current model's embeddings.
            generator (torch.Generator, optional): The random source.

        Returns:
            torch.Tensor: The new assignment of the training interactions.
        """
        raise NotImplementedError(f"{type(self).__name__} does not depend on a model")

    @abstractmethod
    def assign(self, data: InteractionData, part: str) -> Tensor:
        """Hard environment label of every interaction of ``part``, ``[E_part]`` ``long``.

        Args:
            data (InteractionData): The data the strategy was fitted on (or, for
                proxies, data with the same items and users).
            part (str): The part to label, e.g. ``"val"`` or ``"test_ood"``.
        """

    def state_dict(self) -> dict[str, Tensor]:
        """What a learned strategy keeps between updates: its tensor attributes (for checkpoints).

        Returns:
            dict[str, torch.Tensor]: Attribute name to tensor (e.g. EIIL's logits,
            the cluster centroids); empty for a strategy without such state.
        """
        return {k: v for k, v in vars(self).items() if isinstance(v, Tensor)}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restores the tensors of `state_dict`.

        Args:
            state (dict[str, torch.Tensor]): What `state_dict` returned.
        """
        for key, value in state.items():
            setattr(self, key, value)

    def _require_fit(self) -> InteractionData:
        if self.data is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(data) first")
        return self.data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_environments={self.num_environments})"
