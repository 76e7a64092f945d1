r"""Which file of a split folder is which part, for folders as public code ships them.

| part | files, first found wins | |
|---|---|---|
| ``"train"`` | ``train.txt`` | required |
| ``"val"`` | ``val.txt``, ``valid.txt``, ``validation.txt``, ``valid_iid.txt``, ``val_iid.txt`` | one at most |
| ``"test"`` (IID) | ``test_iid.txt``, else ``test.txt`` | |
| ``"test_ood"`` | ``test_ood.txt``, else ``test.txt`` when ``test_iid.txt`` exists | |

OOD benchmarks ship ``train.txt``, ``valid.txt`` (or ``valid_iid.txt``), ``test_iid.txt`` and
an OOD ``test.txt`` (or ``test_ood.txt``): the IID and OOD test parts are then evaluated side
by side, as the splits of `pyg_negdiff.data.splits` are. Other ``.txt`` files are listed as
not read, never silently taken for a part.

Examples:
    >>> import tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("train.txt", "valid.txt", "test_iid.txt", "test.txt"):
    ...     _ = (root / name).write_text("0 1\n")
    >>> found = split_files(root)
    >>> {part: path.name for part, path in found.parts.items()}
    {'train': 'train.txt', 'val': 'valid.txt', 'test': 'test_iid.txt', 'test_ood': 'test.txt'}
    >>> print(found.describe())
    train <- train.txt, val <- valid.txt, test <- test_iid.txt, test_ood <- test.txt (OOD: test_iid.txt is the IID test)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pyg_negdiff.data.interactions import DataValidationError

__all__ = ["SplitFiles", "split_files"]

#: Part -> file names that may hold it, in order of preference.
VAL_NAMES = ("val.txt", "valid.txt", "validation.txt", "valid_iid.txt", "val_iid.txt")


@dataclass
class SplitFiles:
    """The files of a split folder, by part.

    Args:
        parts (dict[str, pathlib.Path]): Part name to file, ``"train"`` first.
        why (dict[str, str]): A short reason for a part, when the name alone does not tell.
        unused (list[str]): ``.txt`` files of the folder that no part reads.
    """

    parts: dict[str, Path]
    why: dict[str, str] = field(default_factory=dict)
    unused: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """The mapping in one line, as the command line prints it.

        Returns:
            str: ``part <- file`` for every part, then the files not read.
        """
        text = ", ".join(
            f"{part} <- {path.name}" + (f" ({self.why[part]})" if part in self.why else "")
            for part, path in self.parts.items()
        )
        if self.unused:
            text += f"; not read: {', '.join(self.unused)}"
        return text


def split_files(folder: str | os.PathLike) -> SplitFiles | None:
    """Maps the files of ``folder`` to parts (see the module's table).

    Args:
        folder (str or os.PathLike): A folder.

    Returns:
        SplitFiles or None: ``None`` when the folder holds no ``train.txt``.

    Raises:
        DataValidationError: When two files claim the validation part (``valid.txt`` and
            ``valid_iid.txt``, say): which one is meant cannot be told.
    """
    folder = Path(folder)
    present = {p.name for p in folder.iterdir() if p.is_file()}
    if "train.txt" not in present:
        return None
    parts = {"train": "train.txt"}
    why = {}
    vals = [n for n in VAL_NAMES if n in present]
    if len(vals) > 1:
        raise DataValidationError(
            f"{folder}: {' and '.join(vals)} could each be the validation part; keep one "
            f"(or rename the other) so that it is clear which"
        )
    if vals:
        parts["val"] = vals[0]
    if "test_iid.txt" in present:
        parts["test"] = "test_iid.txt"
        if "test_ood.txt" in present:
            parts["test_ood"] = "test_ood.txt"
        elif "test.txt" in present:
            parts["test_ood"] = "test.txt"
            why["test_ood"] = "OOD: test_iid.txt is the IID test"
    else:
        if "test.txt" in present:
            parts["test"] = "test.txt"
        if "test_ood.txt" in present:
            parts["test_ood"] = "test_ood.txt"
    used = set(parts.values())
    unused = sorted(n for n in present if n.endswith(".txt") and n not in used)
    return SplitFiles({part: folder / name for part, name in parts.items()}, why, unused)
