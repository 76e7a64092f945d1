r"""Data-parallel training with `torch.distributed`, launched by ``torchrun``.

Every rank holds the whole model and walks the same global batches (the batch
order, the sampler's candidates and every random draw of the sampler come
from one generator with the run's seed, identical on all ranks). What is
split is the propagation: with `NeighborPropagation` rank $r$ of $W$
propagates the subgraph of its shard of each global batch
(`ShardedPropagation`), and the shards' rows are all-gathered, with
gradients, into the batch's embeddings. The sampler and the loss then run on
the whole batch on every rank, so a sampler's denoiser and its own
optimizer see the same inputs everywhere and stay in sync without
communication. The model's gradients are averaged by
`torch.nn.parallel.DistributedDataParallel`:

$$
\frac{1}{W}\sum_{r} \Big( J_r^\top \sum_{r'} \frac{\partial \mathcal{L}}{\partial E_r}
  + \frac{\partial \mathcal{L}_{\text{rest}}}{\partial \theta} \Big)
= \sum_r J_r^\top \frac{\partial \mathcal{L}}{\partial E_r}
  + \frac{\partial \mathcal{L}_{\text{rest}}}{\partial \theta}
= \nabla_\theta \mathcal{L},
$$

where $E_r$ are rank $r$'s rows, $J_r$ their Jacobian, and the all-gather's
backward sums the $W$ identical gradients of its slice. With an unlimited
fan-out, $W$ processes therefore train the same parameters as one process
with the same global batch. The neighbour sampling itself draws from a
generator seeded per rank: a run is reproducible for a fixed world size.

With `FullPropagation` every rank propagates the whole graph: the result is
the same, but nothing is gained; distribute neighbour-mode runs.

Only rank 0 evaluates, writes checkpoints and results, and calls the epoch
callbacks (an Optuna objective reports there). After every epoch it
broadcasts its decision (`broadcast_decision`): go on, stop early, or abort
because it raised (a callback's `optuna.TrialPruned`, a full disk); on abort
the other ranks leave `Trainer.fit` with `RankZeroAborted` instead of waiting
forever in the next collective. A checkpoint holds every rank's own random
streams (`gather_states`), so a run resumes on the same number of ranks.
"""

from __future__ import annotations

import enum
import os

import torch
import torch.distributed as dist
from torch import Tensor

from pyg_negdiff.nn.base import Recommender
from pyg_negdiff.propagation import BatchEmbeddings, Propagation

# Moved to the propagation package; still importable from here.
from pyg_negdiff.propagation.sharded import ShardedPropagation, shard_bounds  # noqa: F401


def launched_world_size() -> int:
    """Number of processes this one runs with: the initialized process group's
    size, else the ``WORLD_SIZE`` that ``torchrun`` sets (1 outside both).

    Read before any process group exists, it tells whether a command was
    started under ``torchrun`` (the tuning commands refuse to be).

    Returns:
        int: The world size $W$.

    Raises:
        ValueError: ``WORLD_SIZE`` is not a positive integer.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    value = os.environ.get("WORLD_SIZE", "1")
    if not value.strip().isdigit() or int(value) < 1:
        raise ValueError(
            f"WORLD_SIZE={value!r} in the environment is not a positive integer; "
            f"torchrun sets it: unset it outside torchrun"
        )
    return int(value)


def init_from_env(backend: str | None = None) -> bool:
    """Joins the process group that ``torchrun`` describes in the environment.

    Does nothing outside ``torchrun`` (``WORLD_SIZE`` unset or 1) or when the
    group already exists.

    Args:
        backend (str, optional): ``"gloo"`` or ``"nccl"`` (default: ``"nccl"``
            when CUDA is available, else ``"gloo"``).

    Returns:
        bool: Whether this process is one of several.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    if launched_world_size() == 1:
        return False
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    dist.init_process_group(backend)
    return dist.get_world_size() > 1


def rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)`` of this process; ``(0, 1)`` without a process group.

    Returns:
        tuple: The rank and the number of processes.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    """Whether this process evaluates and writes (rank 0, or not distributed).

    Returns:
        bool: ``True`` on rank 0.
    """
    return rank_and_world()[0] == 0


class EpochDecision(enum.IntEnum):
    """What rank 0 tells every rank at the end of an epoch (`broadcast_decision`)."""

    #: Train the next epoch.
    CONTINUE = 0
    #: Early stopping ended the run: leave the loop and finish normally.
    STOP = 1
    #: Rank 0 raised (in evaluation, a checkpoint write or a callback): leave ``fit``.
    ABORT = 2


class RankZeroAborted(RuntimeError):
    """Raised by `Trainer.fit` on every rank but 0 when rank 0 stopped the run with an exception.

    Rank 0 raises its own exception (e.g. a callback's `optuna.TrialPruned`);
    the others learn of it through `broadcast_decision` and raise this one,
    so that no rank waits forever in a collective that rank 0 never reaches.
    The ranks are still in step afterwards: the process group stays usable.
    """


def broadcast_decision(
    decision: EpochDecision, device: torch.device | str | None = None
) -> EpochDecision:
    """Rank 0's ``decision`` on every rank (``decision`` itself without a process group).

    Every rank must call it at the same point (it is a collective).

    Args:
        decision (EpochDecision): This rank's value (only rank 0's counts).
        device (torch.device or str, optional): Where the one-element message
            lives: the training device (``nccl`` sends CUDA tensors only).
            (default: CPU)

    Returns:
        EpochDecision: Rank 0's value.

    Examples:
        >>> broadcast_decision(EpochDecision.STOP)  # one process
        <EpochDecision.STOP: 1>
    """
    if rank_and_world()[1] == 1:
        return decision
    value = torch.tensor([int(decision)], device=device)
    dist.broadcast(value, src=0)
    return EpochDecision(int(value.item()))


def gather_states(state: Tensor, device: torch.device | str | None = None) -> list[Tensor]:
    """Every rank's ``state`` (e.g. a random generator's), on every rank.

    Every rank must call it at the same point (it is a collective), with a
    tensor of the same size and type (a generator's ``get_state()`` is).

    Args:
        state (torch.Tensor): This rank's state.
        device (torch.device or str, optional): Where the exchange runs
            (``nccl`` sends CUDA tensors only). (default: CPU)

    Returns:
        list[torch.Tensor]: One state per rank, on the CPU, rank $r$'s at index $r$.

    Examples:
        >>> state = torch.Generator().manual_seed(0).get_state()
        >>> torch.equal(gather_states(state)[0], state)  # one process
        True
    """
    world_size = rank_and_world()[1]
    if world_size == 1:
        return [state]
    local = state.to(device)
    parts = [torch.empty_like(local) for _ in range(world_size)]
    dist.all_gather(parts, local)
    return [part.cpu() for part in parts]


class PropagationModule(torch.nn.Module):
    """The backbone and a propagation strategy as one module, for
    `DistributedDataParallel` to wrap: its forward is a step's propagation.

    Args:
        model (Recommender): The backbone.
        propagation (Propagation): The strategy.
    """

    def __init__(self, model: Recommender, propagation: Propagation) -> None:
        super().__init__()
        self.model = model
        self.propagation = propagation

    def forward(
        self,
        users: Tensor,
        pos_items: Tensor,
        candidates: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> BatchEmbeddings:
        """``propagation(model, ...)`` (see `Propagation.__call__`).

        Args:
            users (torch.Tensor): ``[B]`` user ids.
            pos_items (torch.Tensor): ``[B]`` positive item ids.
            candidates (torch.Tensor, optional): ``[B, M]`` candidate items.
            generator (torch.Generator, optional): Source of randomness.

        Returns:
            BatchEmbeddings: The batch's rows.
        """
        return self.propagation(self.model, users, pos_items, candidates, generator)


def sampling_generator(module: torch.nn.Module) -> torch.Generator | None:
    """This rank's own neighbour-sampling generator in a module made by `wrap`.

    Args:
        module (torch.nn.Module): What `wrap` returned.

    Returns:
        torch.Generator, optional: `ShardedPropagation.generator`; ``None`` in
        one process, where the sampling draws from the trainer's generator.
    """
    propagation = getattr(module, "module", module).propagation  # DistributedDataParallel wraps it
    return propagation.generator if isinstance(propagation, ShardedPropagation) else None


def wrap(
    model: Recommender, propagation: Propagation, seed: int = 0
) -> PropagationModule | torch.nn.Module:
    """The module a trainer calls for a step's embeddings: plain in one process,
    sharded and wrapped in `DistributedDataParallel` in several.

    When the propagation gives the embedding table sparse gradients
    (`NeighborPropagation`), the model's ``embedding`` module is marked
    ``sparse=True``: that flag is how DDP learns to all-reduce its gradient
    as a sparse tensor.

    Args:
        model (Recommender): The backbone (already on its device).
        propagation (Propagation): The strategy.
        seed (int): The run's seed (the neighbour sampling adds the rank).

    Returns:
        torch.nn.Module: A module whose forward returns `BatchEmbeddings`.
    """
    rank, world_size = rank_and_world()
    if world_size == 1:
        return PropagationModule(model, propagation)
    sharded = ShardedPropagation(propagation, rank, world_size, seed)
    if propagation.sparse_parameters(model):
        # DDP decides which gradients to all-reduce as sparse tensors from the
        # embedding modules' ``sparse`` flag (the propagation gathers rows sparsely itself).
        model.embedding.sparse = True
    device = model.embedding.weight.device
    module = PropagationModule(model, sharded.to(device))
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)


__all__ = [
    "EpochDecision",
    "PropagationModule",
    "RankZeroAborted",
    "ShardedPropagation",
    "broadcast_decision",
    "gather_states",
    "init_from_env",
    "is_main_process",
    "launched_world_size",
    "rank_and_world",
    "sampling_generator",
    "shard_bounds",
    "wrap",
]
