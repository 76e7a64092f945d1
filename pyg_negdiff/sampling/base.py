"""One interface for every negative sampler, heuristic or generative."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator

import torch
from torch import Tensor

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.nn.base import Embeddings


@dataclass
class SamplerState:
    r"""What a sampler may read about the model at the current step.

    Attributes:
        emb (Embeddings): The backbone's current embeddings of all users and items
            (with gradients: a negative built from them trains the model).
        epoch (int): Current epoch, counted from 0.
        num_epochs (int): Planned number of epochs (hardness schedules use
            `progress`).
        generator (torch.Generator, optional): The training run's random source.
        environments (torch.Tensor, optional): Environments of the batch's
            interactions, ``[B]`` labels or ``[B, K]`` soft weights, aligned with
            the batch (`pyg_negdiff.causal.EnvironmentInference.batch_environments`);
            ``None`` when the trainer has no environments. Environment-conditioned
            samplers read it.
    """

    emb: Embeddings
    epoch: int = 0
    num_epochs: int = 1
    generator: torch.Generator | None = None
    environments: Tensor | None = None

    @property
    def progress(self) -> float:
        r"""Training progress $\tau = \text{epoch} / \max(1, \text{num\_epochs} - 1) \in [0, 1]$."""
        return min(1.0, self.epoch / max(1, self.num_epochs - 1))


@dataclass
class NegativeSample:
    r"""What a sampler returns for a batch of $B$ (user, positive) pairs.

    Attributes:
        emb (torch.Tensor): Negative item representations in the pooled space,
            ``[B, D']`` or ``[B, K, D']`` for $K$ negatives per pair.
        items (torch.Tensor, optional): ``[B]`` or ``[B, K]`` item ids when the
            negatives are real items (heuristic samplers); L2 then also covers
            their layer-0 embeddings.
        probe_items (torch.Tensor, optional): Items that stand for the negatives in
            the false-hard-negative diagnostic. Heuristic samplers use ``items``;
            generative ones give the real item nearest each synthesized embedding.
        aux_loss (torch.Tensor, optional): A scalar added to the training loss
            (diffusion and contrastive terms).
        logs (dict[str, float]): Per-batch diagnostics (mean hardness, chosen step, ...).
    """

    emb: Tensor
    items: Tensor | None = None
    probe_items: Tensor | None = None
    aux_loss: Tensor | None = None
    logs: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.probe_items is None:
            self.probe_items = self.items


class NegativeSampler(torch.nn.Module, ABC):
    r"""Base class of all negative samplers.

    A sampler is called once per training batch as
    ``sampler(users, pos_items, state) -> NegativeSample``. Heuristic samplers
    pick item ids; generative samplers (`CNSDiffSampler`,
    `ADARSampler`) synthesize embeddings; the trainer treats both alike.
    A sampler is a `torch.nn.Module` so that learnable parts (a
    denoiser) are saved, moved and optimized with the model.

    Args:
        train_pairs (PairSet): The training positives, never returned as negatives.
    """

    def __init__(self, train_pairs: PairSet) -> None:
        super().__init__()
        self.train_pairs = train_pairs
        self.num_users = train_pairs.num_users
        self.num_items = train_pairs.num_items

    def uniform_candidates(self, users: Tensor, num_samples: int,
                           generator: torch.Generator | None = None) -> Tensor:
        r"""``[B, M]`` items drawn uniformly from each user's non-positives."""
        out = self.train_pairs.sample_complement(users, num_samples, generator)
        return out.to(users.device)

    def start_epoch(self, epoch: int, num_epochs: int) -> None:
        """Hook called by the trainer before each epoch (schedules, warm-up)."""

    def joint_parameters(self) -> Iterator[torch.nn.Parameter]:
        """Parameters the trainer's optimizer should step together with the model.

        All of them by default; a sampler that trains its parts with an
        optimizer of its own returns only the rest.
        """
        return self.parameters()

    @abstractmethod
    def forward(self, users: Tensor, pos_items: Tensor, state: SamplerState) -> NegativeSample:
        """Returns negatives for the ``[B]`` users and their ``[B]`` positive items."""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"
