"""The one container every stage of the pipeline reads: `InteractionData`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Mapping

import torch
from torch import Tensor

from pyg_negdiff.data.pairs import PairSet

#: Names of the evaluation parts that a split may produce, in display order.
EVAL_PARTS = ("val", "test", "test_ood")


class DataValidationError(ValueError):
    """Raised for input that cannot be used: ids out of range, bad shapes, an empty part."""


def _id_tensor(part: str, values: object) -> Tensor:
    """``values`` as a ``long`` tensor of ids, refusing ids that are not whole numbers."""
    index = torch.as_tensor(values)
    if index.dtype == torch.bool or index.is_complex():
        raise TypeError(
            f"parts[{part!r}]: expected a [2, E] tensor of integer ids, got {index.dtype}"
        )
    if index.is_floating_point():
        fractional = index != torch.round(index)
        if bool(fractional.any()):
            raise ValueError(
                f"parts[{part!r}]: ids must be whole numbers, got {float(index[fractional][0]):g} "
                f"(a float id would be truncated); pass integer ids"
            )
    return index.to(torch.long)


@dataclass
class InteractionData:
    r"""Implicit-feedback interactions of $U$ users with $I$ items, split into parts.

    Every part is a ``[2, E]`` ``long`` tensor: row 0 holds user ids in
    $[0, U)$, row 1 item ids in $[0, I)$. The ``"train"`` part is
    required; ``"val"``, ``"test"`` (in-distribution) and ``"test_ood"``
    (shifted) are what the splits in `pyg_negdiff.data.splits` produce.

    Args:
        num_users (int): Number of users $U$.
        num_items (int): Number of items $I$.
        parts (dict[str, torch.Tensor]): Part name to ``[2, E]`` interactions.
        timestamps (dict[str, torch.Tensor], optional): Part name to ``[E]`` float times.
        env (dict[str, torch.Tensor], optional): Part name to ``[E]`` ground-truth
            environment (confounder group) labels, known for synthetic data.
        true_positives (torch.Tensor, optional): ``[2, P]`` pairs the users truly
            like (synthetic data only); the false-hard-negative ratio uses them.
        name (str): A label for reports.
        notes (list[str]): What loading or splitting did to the input (dropped
            duplicates, users without training data, ...), for the user to read.
    """

    num_users: int
    num_items: int
    parts: dict[str, Tensor]
    timestamps: dict[str, Tensor] = field(default_factory=dict)
    env: dict[str, Tensor] = field(default_factory=dict)
    true_positives: Tensor | None = None
    name: str = "data"
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        from pyg_negdiff.validation import check_integer

        # Not validate()'s job alone: as_tensor(dtype=long) would truncate 0.5 to 0 first.
        self.num_users = check_integer("num_users", self.num_users)
        self.num_items = check_integer("num_items", self.num_items)
        self.parts = {k: _id_tensor(k, v) for k, v in self.parts.items()}
        self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Checks shapes and id ranges; raises `DataValidationError` with the reason."""
        if self.num_users <= 0 or self.num_items <= 0:
            raise DataValidationError(
                f"{self.name}: need at least one user and one item, got "
                f"num_users={self.num_users}, num_items={self.num_items}"
            )
        if "train" not in self.parts:
            raise DataValidationError(
                f"{self.name}: a 'train' part is required, got {list(self.parts)}"
            )
        if self.parts["train"].numel() == 0:
            raise DataValidationError(f"{self.name}: the 'train' part is empty")
        for key, index in self.parts.items():
            if index.dim() != 2 or index.size(0) != 2:
                raise DataValidationError(
                    f"{self.name}: part '{key}' must have shape [2, E], got {tuple(index.shape)}"
                )
            if index.numel() == 0:
                continue
            for row, (what, bound) in enumerate(
                (("user", self.num_users), ("item", self.num_items))
            ):
                lo, hi = int(index[row].min()), int(index[row].max())
                if lo < 0 or hi >= bound:
                    bad = lo if lo < 0 else hi
                    raise DataValidationError(
                        f"{self.name}: part '{key}' has {what} id {bad} outside [0, {bound})"
                    )
            for extra_name, extra in (("timestamps", self.timestamps), ("env", self.env)):
                if key in extra and extra[key].numel() != index.size(1):
                    raise DataValidationError(
                        f"{self.name}: {extra_name}['{key}'] has {extra[key].numel()} entries "
                        f"for {index.size(1)} interactions"
                    )

    def note(self, message: str) -> None:
        """Records (and warns about) something the data pipeline did to the input.

        Args:
            message (str): What was done, e.g. how many interactions were dropped.
        """
        self.notes.append(message)
        warnings.warn(f"{self.name}: {message}", stacklevel=2)

    # -------------------------------------------------------------- accessors
    @property
    def train(self) -> Tensor:
        return self.parts["train"]

    @property
    def eval_parts(self) -> list[str]:
        """The evaluation parts present, in the order val, test, test_ood, then others."""
        known = [p for p in EVAL_PARTS if p in self.parts]
        return known + [p for p in self.parts if p != "train" and p not in known]

    @property
    def has_timestamps(self) -> bool:
        return "train" in self.timestamps

    def seen_pairs(self, part: str) -> PairSet:
        r"""Pairs to mask when ranking for ``part``.

        Validation ranks against everything except training positives; every
        test part also excludes validation positives, as the protocol requires.

        Args:
            part (str): The evaluated part, e.g. ``"val"``, ``"test"`` or ``"test_ood"``.

        Returns:
            PairSet: The training (and, for test parts, validation) pairs.
        """
        masks = ["train"] if part in ("train", "val") else ["train", "val"]
        index = torch.cat([self.parts[m] for m in masks if m in self.parts], dim=1)
        return PairSet(index, self.num_users, self.num_items)

    def train_pairs(self) -> PairSet:
        """The training positives as a `PairSet` (what samplers exclude)."""
        return PairSet(self.train, self.num_users, self.num_items)

    def item_popularity(self, part: str = "train") -> Tensor:
        """Interaction count of every item in ``part``, ``[I]``.

        Args:
            part (str): The part to count. (default: ``"train"``)
        """
        return torch.bincount(self.parts[part][1], minlength=self.num_items)

    def user_degree(self, part: str = "train") -> Tensor:
        """Interaction count of every user in ``part``, ``[U]``.

        Args:
            part (str): The part to count. (default: ``"train"``)
        """
        return torch.bincount(self.parts[part][0], minlength=self.num_users)

    def users_without_train(self, part: str) -> Tensor:
        """Users who appear in ``part`` but have no training interaction.

        Args:
            part (str): An evaluation part.

        Returns:
            torch.Tensor: Their ids, sorted.
        """
        users = torch.unique(self.parts[part][0])
        return users[self.user_degree("train")[users] == 0]

    def summary(self) -> str:
        """A short human-readable description of the sizes of every part."""
        lines = [f"{self.name}: {self.num_users} users, {self.num_items} items"]
        for key, index in self.parts.items():
            users = int(torch.unique(index[0]).numel()) if index.numel() else 0
            extra = " (timestamps)" if key in self.timestamps else ""
            lines.append(f"  {key:>9}: {index.size(1):>9} interactions, {users:>7} users{extra}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={v.size(1)}" for k, v in self.parts.items())
        return f"InteractionData(name={self.name!r}, users={self.num_users}, items={self.num_items}, {sizes})"

    def with_parts(
        self,
        parts: Mapping[str, Tensor],
        timestamps: Mapping[str, Tensor] | None = None,
        env: Mapping[str, Tensor] | None = None,
        name: str | None = None,
    ) -> "InteractionData":
        """A copy with new parts (what a split returns); ground truth is carried over.

        Args:
            parts (Mapping[str, torch.Tensor]): ``[2, E]`` (user, item) index per part.
            timestamps (Mapping[str, torch.Tensor], optional): ``[E]`` timestamps per part.
            env (Mapping[str, torch.Tensor], optional): ``[E]`` environment labels per part.
            name (str, optional): A new name. (default: this data's name)
        """
        return InteractionData(
            num_users=self.num_users,
            num_items=self.num_items,
            parts=dict(parts),
            timestamps=dict(timestamps or {}),
            env=dict(env or {}),
            true_positives=self.true_positives,
            name=name or self.name,
            notes=list(self.notes),
        )
