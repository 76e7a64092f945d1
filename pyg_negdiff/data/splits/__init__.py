r"""Distribution-shift splits: random (IID), popularity, temporal, exposure and mixed.

Every split takes an `InteractionData`, pools the interactions it is asked to
re-split, and returns a new `InteractionData` (through `InteractionData.with_parts`)
with the parts

| part | meaning |
|---|---|
| ``"train"`` | what the model is fitted on |
| ``"val"`` | what early stopping and tuning read |
| ``"test"`` | the in-distribution (IID) test: same distribution as ``"train"`` |
| ``"test_ood"`` | the shifted (out-of-distribution) test |

and, when the input has them, the timestamps and environment labels of every
part. Randomness comes from one ``torch.Generator`` seeded with ``seed``: the same
input and seed give identical parts.

Common rules (the scenario pages in ``docs/shifts/`` give the exact construction):

- Pooling. A split that re-splits everything concatenates all parts of the input
  and drops repeated (user, item) pairs, keeping the earliest occurrence when
  timestamps exist (the first one otherwise). The parts of the output are
  disjoint sets of pairs.
- Users with too little data. Users with fewer than ``min_user_interactions``
  interactions stay in ``"train"`` only. A user who would have evaluation
  interactions but no training interaction is either moved back to training
  (random and popularity splits, where that changes nothing about the shift) or
  dropped from the evaluation parts (temporal, mixed and exposure splits, where
  moving would leak the future or the random-exposure sample into training;
  the temporal and mixed splits can keep them instead, ``cold_users="keep"``).
  Everything of this kind is reported through `InteractionData.note`.

Examples:
    >>> import torch
    >>> from pyg_negdiff.data.interactions import InteractionData
    >>> from pyg_negdiff.data.diagnostics import shift_report
    >>> g = torch.Generator().manual_seed(0)
    >>> zipf = 1.0 / torch.arange(1, 101).double()
    >>> items = torch.multinomial(zipf.expand(300, -1), 20, generator=g).reshape(-1)
    >>> data = InteractionData(300, 100, {"train": torch.stack([
    ...     torch.arange(300).repeat_interleave(20), items])})
    >>> out = split_popularity(data, seed=0)
    >>> report = shift_report(out)
    >>> {p: round(s.gini, 2) for p, s in report.parts.items()}  # item popularity Gini
    {'train': 0.51, 'val': 0.56, 'test': 0.53, 'test_ood': 0.0}
    >>> round(report.parts["test_ood"].gini_iid, 2)  # an unshifted part of that size
    0.55
"""

from __future__ import annotations

from pyg_negdiff.data.splits.common import (
    DROP,
    OOD,
    TEST,
    TRAIN,
    VAL,
    TemporalMode,
    capped_quotas,
)  # noqa: F401
from pyg_negdiff.data.splits.exposure import split_exposure
from pyg_negdiff.data.splits.mixed import split_mixed
from pyg_negdiff.data.splits.popularity import split_popularity
from pyg_negdiff.data.splits.random import carve_validation, split_random
from pyg_negdiff.data.splits.temporal import split_temporal

__all__ = [
    "split_random",
    "split_popularity",
    "split_temporal",
    "split_exposure",
    "split_mixed",
    "carve_validation",
    "capped_quotas",
]
