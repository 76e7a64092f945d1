r"""Oracle (test-domain) selection, DomainBed's diagnostic (Gulrajani and Lopez-Paz, 2021).

The users of the shifted test are split once, at random, into two halves: the
*selection* half $\mathcal{U}_s$ and the *evaluation* half $\mathcal{U}_e$. After
every validation a run also ranks for both halves. Oracle selection picks the
epoch (and, across a row's trials, the configuration) with the best NDCG@20 on
$\mathcal{U}_s$, and reports NDCG@20 on $\mathcal{U}_e$ at that choice:

$$
e^\star = \arg\max_e \mathrm{NDCG@20}_{\mathcal{U}_s}(e), \qquad
\text{oracle score} = \mathrm{NDCG@20}_{\mathcal{U}_e}(e^\star).
$$

It shows how much a method loses to selection on the training distribution
alone. It is a diagnostic: no default is ever chosen with it.
"""

from __future__ import annotations

from typing import Any

import torch

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.metrics import Evaluator
from pyg_negdiff.nn.base import Embeddings

__all__ = ["OracleSelection", "OracleTracker", "oracle_choice"]


class OracleSelection:
    """The two user halves of a shifted test part, and an evaluator for them.

    Args:
        data (InteractionData): The split data.
        part (str): The shifted part (default: ``"test_ood"``, else ``"test"``).
        seed (int): Seed of the user split.
        metric (str): The selection metric.

    Examples:
        >>> import torch
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> test = torch.stack([torch.arange(10), torch.arange(10) % 4])
        >>> data = InteractionData(10, 5, {"train": torch.stack([torch.arange(10), torch.full((10,), 4)]),
        ...                                 "test_ood": test})
        >>> oracle = OracleSelection(data, seed=0)
        >>> oracle.halves["select"].size(1), oracle.halves["eval"].size(1)
        (5, 5)
    """

    def __init__(
        self, data: InteractionData, part: str | None = None, seed: int = 0, metric: str = "ndcg@20"
    ) -> None:
        self.part = part or ("test_ood" if "test_ood" in data.parts else "test")
        if self.part not in data.parts:
            raise ValueError(
                f"oracle selection needs a test part; {data.name} has {list(data.parts)}"
            )
        index = data.parts[self.part]
        users = torch.unique(index[0])
        order = torch.randperm(users.numel(), generator=torch.Generator().manual_seed(int(seed)))
        chosen = torch.zeros(data.num_users, dtype=torch.bool)
        chosen[users[order[: users.numel() // 2]]] = True
        mask = chosen[index[0]]
        self.halves = {"select": index[:, mask], "eval": index[:, ~mask]}
        # The halves are ranked as the part itself is: training and validation items masked.
        parts = {
            "train": data.train,
            **({"val": data.parts["val"]} if "val" in data.parts else {}),
            **self.halves,
        }
        self.data = InteractionData(
            data.num_users, data.num_items, parts, name=f"{data.name}:oracle"
        )
        self.metric = metric
        name, _, k = metric.partition("@")
        self.evaluator = Evaluator(self.data, ks=(int(k),), metrics=(name,))

    def scores(self, emb: Embeddings) -> dict[str, float]:
        """The metric on both halves: ``{"select": ..., "eval": ...}``."""
        return {half: self.evaluator.evaluate(emb, half)[self.metric] for half in self.halves}

    def tracker(self) -> "OracleTracker":
        """A fresh per-run callback (set its ``trainer`` before training)."""
        return OracleTracker(self)


class OracleTracker:
    """A `Trainer` epoch callback that scores both halves after every validation.

    Attributes:
        trainer: The trainer whose embeddings are read (set before ``fit``).
        curves (dict[str, list]): ``"epoch"``, ``"select"`` and ``"eval"``, one entry per validation.
    """

    def __init__(self, oracle: OracleSelection) -> None:
        self.oracle, self.trainer = oracle, None
        self.curves: dict[str, list[Any]] = {"epoch": [], "select": [], "eval": []}

    def __call__(self, epoch: int, val: dict[str, float]) -> None:
        scores = self.oracle.scores(self.trainer.embeddings())
        self.curves["epoch"].append(epoch)
        for half, value in scores.items():
            self.curves[half].append(value)


def oracle_choice(curves: dict[str, list[Any]], at_epoch: int | None = None) -> dict[str, float]:
    """Oracle selection on one run's curves, and the evaluation half at a given epoch.

    Args:
        curves (dict): What `OracleTracker` recorded.
        at_epoch (int, optional): Also report the evaluation half at this epoch
            (the one validation chose), for a like-for-like gap.

    Returns:
        dict: ``select`` (best selection-half score), ``eval`` (evaluation half at
        that epoch), ``epoch``, and ``eval_at`` when ``at_epoch`` is given.

    Examples:
        >>> oracle_choice({"epoch": [0, 1, 2], "select": [0.1, 0.3, 0.2], "eval": [0.2, 0.25, 0.4]}, at_epoch=2)
        {'select': 0.3, 'eval': 0.25, 'epoch': 1, 'eval_at': 0.4}
    """
    if not curves["select"]:
        return {}
    best = max(range(len(curves["select"])), key=lambda i: (curves["select"][i], -i))
    out = {
        "select": curves["select"][best],
        "eval": curves["eval"][best],
        "epoch": curves["epoch"][best],
    }
    if at_epoch is not None and at_epoch in curves["epoch"]:
        out["eval_at"] = curves["eval"][curves["epoch"].index(at_epoch)]
    return out
