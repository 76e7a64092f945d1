r"""RecBole atomic files (``.inter``): tab-separated, with a typed header."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pyg_negdiff.data.interactions import DataValidationError, InteractionData
from pyg_negdiff.data.io.common import PathLike, _check_width, _columns, _from_columns, _locate
from pyg_negdiff.data.layout import OnBadLine


def load_recbole(
    inter_path: PathLike,
    *,
    min_rating: float | None = 4.0,
    user_field: str = "user_id",
    item_field: str = "item_id",
    rating_field: str = "rating",
    time_field: str = "timestamp",
    name: str | None = None,
    on_bad_line: OnBadLine = "error",
) -> InteractionData:
    r"""Loads a RecBole atomic ``.inter`` file (tab-separated, typed header).

    The header names every column as ``name:type`` (``user_id:token``,
    ``rating:float``, ...); columns are found by ``name``, in any order. Ratings are
    explicit, and the usual implicit conversion keeps the interactions with
    $r \ge$ ``min_rating`` (noted on the result). Every interaction goes into
    ``"train"``: re-split it with `pyg_negdiff.data.splits`. Ids are remapped
    (raw ids in ``data.user_ids`` / ``data.item_ids``), after the rating filter, so
    every user and item has at least one interaction.

    Args:
        inter_path (str or os.PathLike): The ``.inter`` file.
        min_rating (float, optional): Keep ratings $\ge$ this; ``None`` keeps all, and so
            does a file without a rating column (noted).
        user_field (str): Name of the user column.
        item_field (str): Name of the item column.
        rating_field (str): Name of the rating column (read only with ``min_rating``).
        time_field (str): Name of the timestamp column; timestamps go to
            ``data.timestamps["train"]`` when present.
        name (str, optional): Label of the dataset (default: the file name without
            its suffix, ``"ml-100k"`` for ``ml-100k.inter``).
        on_bad_line (str): ``"error"`` (default) raises on a row whose width differs from
            the header's; ``"skip"`` skips such rows, with a note that counts them.

    Returns:
        InteractionData: One ``"train"`` part, with timestamps when the file has them.

    Raises:
        DataValidationError: A header that is not tab-separated, a column type that is not
            one of `TYPES`, a list type (``token_seq``) for a column read, a missing header
            column, a row with the wrong number of columns, a rating or timestamp that is not a number (with file and line).
    """
    path = Path(inter_path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    raw = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n").split("\n")
    lineno = np.array([n + 1 for n, line in enumerate(raw) if line.strip()], dtype=np.int64)
    if lineno.size == 0:
        raise DataValidationError(f"{path}: the file is empty")
    if lineno[0] != 1:
        raise DataValidationError(f"{path}, line 1: expected the header, found an empty line")
    header, types = _header(raw[0], path)
    where = _locate(
        header,
        {"user": user_field, "item": item_field, "rating": rating_field, "time": time_field},
        path,
        optional=("rating", "time"),
    )
    for key, index in where.items():
        if index is not None and types[index].endswith("_seq"):
            raise DataValidationError(
                f"{path}, line 1: column {header[index]!r} is {types[index]} (a space-separated "
                f"list in each row), but the {key} column must hold one value per row: a list "
                f"would be read as one {key} and make up fake ones. Write one interaction per "
                f"line ({header[index]}:{types[index][:-4]}), e.g. by expanding each list into "
                f"rows"
            )
    numbers = lineno[1:]
    body = [raw[n - 1] for n in numbers.tolist()]
    # Counting tabs checks every row's width; one split of the joined rows then gives
    # all cells (splitting 100k rows one by one costs several times more).
    tabs = np.fromiter((line.count("\t") for line in body), dtype=np.int64, count=len(body))
    notes = []
    keep = _check_width(tabs + 1, len(header), numbers, path, on_bad_line, notes)
    if keep is not None:
        body, numbers = [line for line, k in zip(body, keep) if k], numbers[keep]
    cells = np.array("\t".join(body).split("\t") if body else [], dtype=str).reshape(
        -1, len(header)
    )
    columns = {"user": user_field, "item": item_field, "rating": rating_field, "time": time_field}
    if where["rating"] is None and min_rating is not None:
        # Many RecBole files are implicit already: nothing to threshold.
        notes.append(
            f"no {rating_field!r} column: min_rating={min_rating:g} ignored, every "
            f"interaction kept"
        )
        min_rating = None
    return _from_columns(
        path,
        *_columns(cells, where),
        numbers,
        min_rating=min_rating,
        columns=columns,
        name=name,
        kind="recbole",
        notes=notes,
    )


#: The field types of RecBole's atomic files.
TYPES = ("token", "token_seq", "float", "float_seq")


def _header(line: str, path: Path) -> tuple[list[str], list[str]]:
    """The names and types of a RecBole header line (``name:type`` cells, tab-separated)."""
    cells = [cell.strip() for cell in line.split("\t")]
    for cell in cells:
        if sum(":" in part for part in cell.split()) > 1:  # "user_id:token item_id:token"
            raise DataValidationError(
                f"{path}, line 1: the header is not tab-separated ({cell!r}); RecBole atomic "
                f"files separate columns with tabs: replace the spaces between the columns of "
                f"every line with tabs, or save the file as CSV and load that"
            )
    names, types = [], []
    for cell in cells:
        name, _, kind = cell.partition(":")
        if kind not in TYPES:
            got = f"type {kind!r}" if kind else "no type"
            raise DataValidationError(
                f"{path}, line 1: column {cell!r} has {got}; a RecBole header names every "
                f"column as name:type, with the type one of {', '.join(TYPES)}"
            )
        names.append(name)
        types.append(kind)
    return names, types


__all__ = ["load_recbole"]
