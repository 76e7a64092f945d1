"""One interface for every negative sampler, heuristic or generative."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import torch
from torch import Tensor

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.nn.base import Embeddings
from pyg_negdiff.validation import check_ids


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
            A sampler may fill some of them during the backward pass (gradient
            norms): the trainer reads them after its optimizer step.
        weight (torch.Tensor, optional): ``[K]`` or ``[B, K]`` BPR weights of the
            $K$ negatives (`pyg_negdiff.loss.bpr_loss`); ``None`` averages them.
    """

    emb: Tensor
    items: Tensor | None = None
    probe_items: Tensor | None = None
    aux_loss: Tensor | None = None
    logs: dict[str, float] = field(default_factory=dict)
    weight: Tensor | None = None

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

    **Candidate pools.** Mini-batch propagation
    (`pyg_negdiff.propagation.NeighborPropagation`) embeds only the nodes a
    batch needs, so it asks the sampler beforehand which items its next
    `forward` reads besides the positives: `candidate_items` draws them (the
    first draw `forward` makes, with the same generator), and inside
    `subgraph` the sampler runs on the subgraph's rows, `uniform_candidates`
    handing back those pre-drawn items instead of drawing again. Every sampler
    whose item draws go through `uniform_candidates` works this way;
    `num_candidate_items` says how many it draws per pair (1 by default: the
    diffusion samplers' random negative). A sampler that draws items another
    way overrides `candidate_items` with its draw and reads it back with
    `replayed_candidates` (as `PopularitySampler` does), or sets
    ``subgraph_ready = False``.

    Args:
        train_pairs (PairSet): The training positives, never returned as negatives.
    """

    #: Whether the sampler can run on a subgraph's rows (see the class docstring).
    subgraph_ready: bool = True

    def __init__(self, train_pairs: PairSet) -> None:
        super().__init__()
        self.train_pairs = train_pairs
        self.num_users = train_pairs.num_users
        self.num_items = train_pairs.num_items
        self._replay: Tensor | None = None
        self.register_forward_pre_hook(_check_batch)  # every sampler's call, before forward

    @property
    def num_candidate_items(self) -> int:
        """Items per (user, positive) pair that `forward` draws with `uniform_candidates`."""
        return 1

    def candidate_items(
        self, users: Tensor, pos_items: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        r"""Draws now the ``[B, M]`` items the next `forward` on these pairs will read.

        Args:
            users (torch.Tensor): ``[B]`` users of the batch.
            pos_items (torch.Tensor): ``[B]`` their positives.
            generator (torch.Generator, optional): The training run's random source,
                in the state `forward` would find it.

        Returns:
            torch.Tensor: ``[B, M]`` item ids, $M$ = `num_candidate_items`.
        """
        return self.uniform_candidates(users, self.num_candidate_items, generator)

    @contextmanager
    def subgraph(self, candidates: Tensor, train_pairs: PairSet) -> Iterator[None]:
        """Runs the sampler on a subgraph's rows: ids inside are the subgraph's.

        Args:
            candidates (torch.Tensor): ``[B, M]`` pre-drawn items (from
                `candidate_items`) as rows of the subgraph's item table; the
                next `uniform_candidates` call returns them.
            train_pairs (PairSet): The training positives in the subgraph's ids.

        Yields:
            None
        """
        saved = self.train_pairs
        self.train_pairs, self._replay = train_pairs, candidates
        try:
            yield
            if self._replay is not None:
                raise RuntimeError(
                    f"{type(self).__name__} did not draw the items it declared in "
                    f"candidate_items; it cannot run on a subgraph"
                )
        finally:
            self.train_pairs, self._replay = saved, None

    def uniform_candidates(
        self, users: Tensor, num_samples: int, generator: torch.Generator | None = None
    ) -> Tensor:
        r"""``[B, M]`` items drawn uniformly from each user's non-positives.

        Inside `subgraph`, returns the pre-drawn candidates instead (once).

        Args:
            users (torch.Tensor): ``[B]`` user ids.
            num_samples (int): Items per user $M$.
            generator (torch.Generator, optional): Source of randomness.

        Returns:
            torch.Tensor: ``[B, M]`` item ids.
        """
        replayed = self.replayed_candidates(users, num_samples)
        if replayed is not None:
            return replayed
        out = self.train_pairs.sample_complement(users, num_samples, generator)
        return out.to(users.device)

    def replayed_candidates(self, users: Tensor, num_samples: int) -> Tensor | None:
        """Inside `subgraph`, the pre-drawn ``[B, M]`` candidates (once); else ``None``.

        A sampler that draws its items its own way (not with
        `uniform_candidates`) overrides `candidate_items` with that draw and
        reads it back here in `forward`.

        Args:
            users (torch.Tensor): ``[B]`` user ids.
            num_samples (int): Items per user $M$.

        Returns:
            torch.Tensor, optional: ``[B, M]`` rows of the subgraph's item table.
        """
        if self._replay is None:
            return None
        out, self._replay = self._replay, None
        if tuple(out.shape) != (users.numel(), num_samples):
            raise RuntimeError(
                f"{type(self).__name__} drew {num_samples} items for {users.numel()} "
                f"pairs but declared {tuple(out.shape)} in candidate_items"
            )
        return out

    def start_epoch(self, epoch: int, num_epochs: int) -> None:
        """Hook called by the trainer before each epoch (schedules, warm-up).

        A loop of your own should call it too.

        Args:
            epoch (int): The epoch about to start, counted from 0.
            num_epochs (int): Planned number of epochs.
        """

    def joint_parameters(self) -> Iterator[torch.nn.Parameter]:
        """Parameters the trainer's optimizer should step together with the model.

        All of them by default; a sampler that trains its parts with an
        optimizer of its own returns only the rest.
        """
        return self.parameters()

    @abstractmethod
    def forward(self, users: Tensor, pos_items: Tensor, state: SamplerState) -> NegativeSample:
        """Returns negatives for the ``[B]`` users and their ``[B]`` positive items.

        Args:
            users (torch.Tensor): ``[B]`` user ids of the batch.
            pos_items (torch.Tensor): ``[B]`` their positive items.
            state (SamplerState): The model's current embeddings, the epoch and
                the random generator.

        Returns:
            NegativeSample: Negative embeddings (and item ids, for heuristic
            samplers), plus any auxiliary loss.
        """

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"


def _check_batch(sampler: NegativeSampler, args: tuple[Any, ...]) -> None:
    """Checks a call's ``users`` and ``pos_items`` against the sampler's (sub)graph.

    Out-of-range ids used to pass (a positive beyond the item table) or surface as a raw
    ``IndexError: index -26560`` deep inside a sampler. Inside `NegativeSampler.subgraph`
    the bounds are the subgraph's.
    """
    if len(args) < 2:
        return
    users, pos_items = args[0], args[1]
    pairs = sampler.train_pairs
    check_ids("users", users, pairs.num_users, "the sampler's num_users")
    length = users.numel()
    check_ids("pos_items", pos_items, pairs.num_items, "the sampler's num_items", length=length)
