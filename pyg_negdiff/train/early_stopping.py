"""Validation-based model selection: the best epoch so far, and when to stop."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from pyg_negdiff.results import EpochStats


@dataclass
class EarlyStopping:
    r"""The best validation value so far and the count of evaluations since.

    After an evaluation with value $v$ at epoch $t$: if $v > v^\star$ (strictly),
    $t$ becomes the best epoch and the count $b$ of bad evaluations restarts at 0;
    otherwise $b \leftarrow b + 1$. Training stops once $b \ge$ ``patience``
    (never when ``patience`` is ``None``).

    Args:
        patience (int, optional): Bad evaluations before stopping.
        best_value (float): $v^\star$. (default: $-\infty$)
        best_epoch (int): The best epoch (-1 before any).
        best_val (dict): The validation metrics of the best epoch.
        bad_evals (int): $b$.
        stopped_early (bool): Whether the rule has fired.

    Example:
        >>> stop = EarlyStopping(patience=1)
        >>> stop.update(0, {"ndcg@20": 0.2}, 0.2), stop.update(1, {"ndcg@20": 0.1}, 0.1)
        (True, False)
        >>> stop.best_epoch, stop.stopped_early
        (0, True)
    """

    patience: int | None
    best_value: float = -math.inf
    best_epoch: int = -1
    best_val: dict[str, float] = field(default_factory=dict)
    bad_evals: int = 0
    stopped_early: bool = False

    @classmethod
    def from_loop(cls, patience: int | None, loop: dict[str, Any]) -> "EarlyStopping":
        """The counters of a checkpoint's loop state (`pyg_negdiff.checkpoint.initial_loop`)."""
        keys = ("best_value", "best_epoch", "best_val", "bad_evals", "stopped_early")
        return cls(patience, *(loop[key] for key in keys))

    def update(self, epoch: int, metrics: dict[str, float], value: float) -> bool:
        """Records one evaluation; returns whether it is the best so far."""
        improved = value > self.best_value
        if improved:
            self.best_value, self.best_epoch, self.best_val = value, epoch, metrics
            self.bad_evals = 0
        else:
            self.bad_evals += 1
        self.stopped_early = self.patience is not None and self.bad_evals >= self.patience
        return improved

    def loop_state(self, epoch: int, history: Sequence[EpochStats]) -> dict[str, Any]:
        """The loop state a checkpoint saves after ``epoch``."""
        return {
            "epoch": epoch,
            "history": [asdict(h) for h in history],
            "best_value": self.best_value,
            "best_epoch": self.best_epoch,
            "best_val": self.best_val,
            "bad_evals": self.bad_evals,
            "stopped_early": self.stopped_early,
        }
