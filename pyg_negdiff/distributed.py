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
import warnings
from typing import Sequence

import torch
import torch.distributed as dist
from torch import Tensor
from torch.distributed.nn.functional import all_gather

from pyg_negdiff.nn.base import Embeddings, Recommender
from pyg_negdiff.propagation import BatchEmbeddings, Propagation


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
        raise ValueError(f"WORLD_SIZE={value!r} in the environment is not a positive integer; "
                         f"torchrun sets it: unset it outside torchrun")
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


def broadcast_decision(decision: EpochDecision, device: torch.device | str | None = None) -> EpochDecision:
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


def shard_bounds(size: int, world_size: int) -> list[int]:
    """Boundaries of ``world_size`` contiguous shards of ``size`` items, sizes differing by at most one.

    Args:
        size (int): Items to split.
        world_size (int): Number of shards $W$.

    Returns:
        list[int]: $W + 1$ offsets; shard $r$ is ``[bounds[r], bounds[r + 1])``.

    Examples:
        >>> shard_bounds(10, 3)
        [0, 4, 7, 10]
    """
    base, extra = divmod(size, world_size)
    bounds = [0]
    for r in range(world_size):
        bounds.append(bounds[-1] + base + (1 if r < extra else 0))
    return bounds


def _shard_offsets(sizes: Sequence[int]) -> list[int]:
    """Start of each shard's rows when shards of ``sizes`` are concatenated."""
    out = [0]
    for n in sizes[:-1]:
        out.append(out[-1] + n)
    return out


def _gather_rows(rows: Tensor, sizes: Sequence[int]) -> list[Tensor]:
    """All ranks' ``rows`` (``sizes[r]`` rows from rank ``r``), with gradients to their owners."""
    pad = max(sizes) - rows.size(0)
    if pad:
        rows = torch.cat([rows, rows.new_zeros(pad, *rows.shape[1:])])
    with warnings.catch_warnings():  # deprecated in favour of a private API; it is the public one
        warnings.simplefilter("ignore", FutureWarning)
        parts = all_gather(rows)
    return [part[:n] for part, n in zip(parts, sizes)]


class ShardedPropagation(Propagation):
    r"""Splits each batch's propagation over the ranks of a process group.

    Rank $r$ calls ``inner`` on its shard (`shard_bounds`) of the batch's
    pairs and candidates, and the shards' rows are all-gathered with
    gradients into one `BatchEmbeddings` of the whole batch (rows of shard
    $r$ first for $r = 0, \ldots, W-1$; an item seeded by two shards has a
    row in each). A strategy that embeds the whole graph anyway
    (`FullPropagation`) is called on the whole batch, unsplit. See the module
    docstring for the gradient.

    Args:
        inner (Propagation): The strategy each rank runs on its shard.
        rank (int): This process's rank $r$.
        world_size (int): Number of processes $W$.
        seed (int): Seed of the neighbour sampling, offset by ``rank``.
    """

    def __init__(self, inner: Propagation, rank: int, world_size: int, seed: int = 0) -> None:
        self.inner, self.rank, self.world_size = inner, rank, world_size
        self.num_users, self.num_items, self.num_nodes = inner.num_users, inner.num_items, inner.num_nodes
        self.needs_candidates = inner.needs_candidates
        self.generator = torch.Generator().manual_seed(seed + 1 + rank)

    def check(self, model: Recommender) -> None:
        """See `Propagation.check`.

        Args:
            model (Recommender): The backbone.
        """
        self.inner.check(model)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.inner!r}, world_size={self.world_size})"

    def sparse_parameters(self, model: Recommender) -> list[torch.nn.Parameter]:
        """The inner strategy's (see `Propagation.sparse_parameters`).

        Args:
            model (Recommender): The backbone.

        Returns:
            list: Parameters with sparse gradients.
        """
        return self.inner.sparse_parameters(model)

    def embeddings(self, model: Recommender) -> Embeddings:
        """The inner strategy's full embeddings (see `Propagation.embeddings`).

        Args:
            model (Recommender): The backbone.

        Returns:
            Embeddings: All users and items.
        """
        return self.inner.embeddings(model)

    def to(self, device: torch.device | str) -> "ShardedPropagation":
        """Moves the inner strategy (see `Propagation.to`).

        Args:
            device (torch.device or str): Target device.

        Returns:
            ShardedPropagation: ``self``.
        """
        self.inner.to(device)
        if torch.device(device).type != self.generator.device.type:
            self.generator = torch.Generator(device=device).manual_seed(self.generator.initial_seed())
        return self

    def __call__(self, model: Recommender, users: Tensor, pos_items: Tensor,
                 candidates: Tensor | None = None,
                 generator: torch.Generator | None = None) -> BatchEmbeddings:
        """The whole batch's rows, this rank propagating its shard (see `Propagation.__call__`).

        Args:
            model (Recommender): The backbone.
            users (torch.Tensor): ``[B]`` user ids of the global batch.
            pos_items (torch.Tensor): ``[B]`` its positives.
            candidates (torch.Tensor, optional): ``[B, M]`` its candidate items.
            generator (torch.Generator, optional): Unused: the sampling draws from
                this rank's own generator.

        Returns:
            BatchEmbeddings: Rows of every shard.
        """
        if not self.inner.needs_candidates:
            return self.inner(model, users, pos_items, candidates, generator)
        bounds = shard_bounds(users.numel(), self.world_size)
        shards = [slice(bounds[r], bounds[r + 1]) for r in range(self.world_size)]
        items = pos_items if candidates is None else torch.cat([pos_items[:, None], candidates], dim=1)
        # Every rank can tell every shard's rows: the distinct users and items, sorted.
        layout = [(torch.unique(users[s], return_inverse=True), torch.unique(items[s], return_inverse=True))
                  for s in shards]
        own = shards[self.rank]
        part = self.inner(model, users[own], pos_items[own],
                          None if candidates is None else candidates[own], self.generator)
        user_sizes = [u[0].numel() for u, _ in layout]
        item_sizes = [i[0].numel() for _, i in layout]
        emb = Embeddings(torch.cat(_gather_rows(part.emb.user_layers, user_sizes)),
                         torch.cat(_gather_rows(part.emb.item_layers, item_sizes)), part.emb.pooling)
        user_off, item_off = _shard_offsets(user_sizes), _shard_offsets(item_sizes)
        user_rows = torch.cat([u[1] + user_off[r] for r, (u, _) in enumerate(layout)])
        item_rows = torch.cat([i[1] + item_off[r] for r, (_, i) in enumerate(layout)])
        return BatchEmbeddings(
            emb, user_rows, item_rows[:, 0] if candidates is not None else item_rows,
            item_rows[:, 1:] if candidates is not None else None,
            torch.cat([u[0] for u, _ in layout]), torch.cat([i[0] for _, i in layout]))


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

    def forward(self, users: Tensor, pos_items: Tensor, candidates: Tensor | None = None,
                generator: torch.Generator | None = None) -> BatchEmbeddings:
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


def wrap(model: Recommender, propagation: Propagation, seed: int = 0) -> PropagationModule | torch.nn.Module:
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


__all__ = ["EpochDecision", "PropagationModule", "RankZeroAborted", "ShardedPropagation", "broadcast_decision",
           "gather_states", "init_from_env", "is_main_process", "launched_world_size", "rank_and_world",
           "sampling_generator", "shard_bounds", "wrap"]
