"""What training returns: the history rows, a step's statistics and the run's result."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

__all__ = ["EpochStats", "StepStats", "TrainResult", "NonFiniteLossError"]


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the model holds the last good checkpoint.

    Attributes:
        result (TrainResult, optional): What `Trainer.fit` had when it stopped:
            the history so far and the test metrics of the restored weights, with
            ``diverged`` set to the message (the CLI still writes it as JSON).
    """

    result: "TrainResult | None" = None


@dataclass
class EpochStats:
    """One row of the training history."""

    epoch: int
    loss: float
    bpr: float
    train_time: float
    eval_time: float = 0.0
    val: dict[str, float] = field(default_factory=dict)
    fhn_ratio: float | None = None
    sampler_logs: dict[str, float] = field(default_factory=dict)


@dataclass
class StepStats:
    """What `Trainer.train_step` returns.

    Attributes:
        loss (float): The step's training loss.
        bpr_sum (float): Sum of the per-pair BPR losses.
        logs (dict[str, float]): The sampler's diagnostics.
        probe_items (torch.Tensor, optional): Item ids standing for the negatives
            (for the false-hard-negative ratio).
    """

    loss: float
    bpr_sum: float
    logs: dict[str, float] = field(default_factory=dict)
    probe_items: Tensor | None = None


@dataclass
class TrainResult:
    """What `Trainer.fit` returns.

    Attributes:
        history (list[EpochStats]): One entry per epoch.
        best_epoch (int): Epoch whose weights were restored (chosen on validation).
        best_val (dict[str, float]): Validation metrics of that epoch.
        test (dict[str, dict[str, float]]): Metrics of every test part at ``best_epoch``,
            read once, after training.
        stopped_early (bool): Whether early stopping ended the run.
        config (dict[str, Any]): The run's settings, for result files (`Trainer.config`;
            `pyg_negdiff.experiment.run` adds the `RunConfig` values).
        diverged (str, optional): Why training stopped on a non-finite loss
            (`NonFiniteLossError`); ``None`` when it did not.
    """

    history: list[EpochStats]
    best_epoch: int
    best_val: dict[str, float]
    test: dict[str, dict[str, float]]
    stopped_early: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    diverged: str | None = None

    @property
    def epoch_time(self) -> float:
        """Mean training time of an epoch, evaluation excluded, in seconds."""
        return float(np.mean([h.train_time for h in self.history])) if self.history else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | Path) -> None:
        """Writes `to_dict` as JSON, creating the parent folder.

        Args:
            path (str or os.PathLike): The JSON file.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2))
