"""What the trainer asks of the objects it is given."""

from __future__ import annotations

from typing import Callable, Protocol

from torch import Tensor

from pyg_negdiff.nn.base import Embeddings


class Environments(Protocol):
    """What the trainer needs from `pyg_negdiff.causal.EnvironmentInference`.

    An object that also has ``state_dict()`` and ``load_state_dict(state)`` is
    saved in checkpoints and restored on resume (see `pyg_negdiff.checkpoint`).
    """

    def maybe_update(self, epoch: int, emb: Embeddings) -> bool: ...

    def batch_environments(self, index: Tensor) -> Tensor: ...


#: Called as ``fn(epoch, val_metrics)`` after every evaluation.
EpochCallback = Callable[[int, dict[str, float]], None]
