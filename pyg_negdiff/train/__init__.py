"""The training loop: BPR with any sampler, optional environment penalty, early stopping.

`Trainer` (``trainer.py``) runs the loop; its checkpoint methods are in ``checkpoints.py``,
the model-selection rule in ``early_stopping.py``.
"""

from pyg_negdiff.checkpoint import CHECKPOINT_FORMAT, read_checkpoint  # (lived here)
from pyg_negdiff.results import EpochStats, NonFiniteLossError, StepStats, TrainResult
from pyg_negdiff.train.early_stopping import EarlyStopping
from pyg_negdiff.train.protocols import Environments, EpochCallback
from pyg_negdiff.train.seed import seed_everything
from pyg_negdiff.train.trainer import Trainer

__all__ = [
    "CHECKPOINT_FORMAT",
    "EarlyStopping",
    "Environments",
    "EpochCallback",
    "EpochStats",
    "NonFiniteLossError",
    "StepStats",
    "TrainResult",
    "Trainer",
    "read_checkpoint",
    "seed_everything",
]
