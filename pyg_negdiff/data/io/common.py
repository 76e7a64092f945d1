r"""What the loaders share: the id remapping and deduplication of parsed columns, and the
assembly of an `InteractionData` from them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from pyg_negdiff.data.interactions import DataValidationError, InteractionData
from pyg_negdiff.data.layout import OnBadLine, apply_bad_line_policy

PathLike = str | os.PathLike
#: How many users a note lists by id before it stops.
_NOTE_IDS = 5


# ------------------------------------------------------------------ parsing
#: Integer ids are remapped to contiguous ones when the largest reaches this many...
REMAP_MIN_IDS = 1_000_000
#: ... and is more than this many times the number of distinct ids (the memory of an
#: embedding table follows the largest id, not the number of users or items).
REMAP_RATIO = 4


def _dedup(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``(sorted unique keys, positions of first occurrences in file order or None if all unique)``.

    One stable argsort: (`np.unique` takes a slower hashing path on large arrays.)
    """
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    first = np.ones(keys.size, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    if first.all():
        return ordered, None
    return ordered[first], np.sort(order[first])


def _finish(
    parts: dict[str, tuple[np.ndarray, np.ndarray]],
    num_users: int,
    num_items: int,
    *,
    name: str,
    files: dict[str, Path],
    timestamps: dict[str, np.ndarray] | None = None,
    weights: dict[str, np.ndarray] | None = None,
    notes: Sequence[str] = (),
) -> InteractionData:
    r"""Deduplicates every part, builds the `InteractionData`, and notes what it found.

    The checks run in numpy on pair keys $u \cdot I + i$: on ML-1M they take a
    fraction of the time that building a `PairSet` would. Weights, when given, are
    kept as the attribute ``data.weights`` (part to ``[E]`` float tensor).
    """
    messages = list(notes)
    tensors, times, kept_weights, keys = {}, {}, {}, {}
    for part, (users, items) in parts.items():
        keys[part], keep = _dedup(users * num_items + items)
        time = (timestamps or {}).get(part)
        weight = (weights or {}).get(part)
        if keep is not None:
            messages.append(
                f"part {part!r}: dropped {users.size - keep.size} duplicate (user, item) "
                f"pairs ({files[part].name})"
            )
            users, items = users[keep], items[keep]
            time = None if time is None else time[keep]
            weight = None if weight is None else weight[keep]
        tensors[part] = torch.from_numpy(np.stack([users, items]).astype(np.int64))
        if time is not None:
            times[part] = torch.from_numpy(time.astype(np.float64))
        if weight is not None:
            kept_weights[part] = torch.from_numpy(weight.astype(np.float32))
    train_degree = np.bincount(parts["train"][0], minlength=num_users)
    for part in parts:
        if part == "train":
            continue
        present = np.bincount(parts[part][0], minlength=num_users) > 0
        cold = np.flatnonzero(present & (train_degree == 0))
        if cold.size:
            ids = ", ".join(map(str, cold[:_NOTE_IDS].tolist())) + (
                ", ..." if cold.size > _NOTE_IDS else ""
            )
            messages.append(
                f"part {part!r}: {cold.size} users have no training interaction "
                f"(ids {ids}); they are kept"
            )
        train_keys = keys["train"]  # sorted
        pos = np.searchsorted(train_keys, keys[part]).clip(max=train_keys.size - 1)
        overlap = int((train_keys[pos] == keys[part]).sum())
        if overlap:
            messages.append(
                f"part {part!r}: {overlap} pairs also appear in 'train' "
                f"(they are masked when ranking, so they cannot be hit)"
            )
    data = InteractionData(num_users, num_items, tensors, timestamps=times, name=name)
    if kept_weights:
        data.weights = kept_weights
    for message in messages:
        data.note(message)
    return data


def _default_name(path: Path) -> str:
    """A file's folder names the dataset (``.../coat/train.txt`` is ``"coat"``)."""
    return path.resolve().parent.name or "data"


def _remap(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(raw id of every new id, new id of every row)``; numeric order for integer tokens."""
    uniq, inverse = np.unique(raw, return_inverse=True)  # lexicographic order
    inverse = inverse.reshape(-1).astype(np.int64)
    try:
        numbers = uniq.astype(np.int64)
    except ValueError:
        return uniq, inverse
    if np.unique(numbers).size < uniq.size:  # "7" and "007" are different tokens
        return uniq, inverse
    order = np.argsort(numbers)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return numbers[order], rank[inverse]


def _to_float(
    values: np.ndarray, lineno: np.ndarray, path: Path, column: str, *, time: bool = False
) -> np.ndarray:
    try:
        return np.array(values, dtype=np.float64)
    except ValueError:
        pass
    if time:  # ISO dates ("2024-01-31", "2024-01-31T12:00:00") become seconds since 1970
        try:
            return np.array(values, dtype="datetime64[s]").astype(np.int64).astype(np.float64)
        except ValueError:
            pass
    for n, v in zip(lineno.tolist(), values.tolist()):
        try:
            float(v)
        except ValueError:
            what = "a number or an ISO date" if time else "a number"
            raise DataValidationError(
                f"{path}, line {n}: column {column!r} holds {v!r}, not {what}"
            ) from None
    raise DataValidationError(f"{path}: column {column!r} could not be read as numbers")


def _from_columns(
    path: Path,
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray | None,
    times: np.ndarray | None,
    lineno: np.ndarray,
    *,
    min_rating: float | None,
    columns: dict[str, str],
    name: str | None,
    kind: str,
    notes: Sequence[str] = (),
    by_name: Sequence[str] = (),
) -> InteractionData:
    """Shared tail of the token-id loaders: rating filter, id remapping, timestamps.

    ``by_name`` lists the roles whose column was found by its name, for the report.
    """
    notes = list(notes)
    users_raw, items_raw = users, items
    for what, column, raw in (
        ("user", columns["user"], users_raw),
        ("item", columns["item"], items_raw),
    ):
        empty = np.flatnonzero(np.char.str_len(raw) == 0) if raw.size else np.array([])
        if empty.size:
            raise DataValidationError(
                f"{path}, line {lineno[empty[0]]}: empty {what} id (column {column!r})"
            )
    time = None if times is None else _to_float(times, lineno, path, columns["time"], time=True)
    if min_rating is not None:
        rating = _to_float(ratings, lineno, path, columns["rating"])
        keep = rating >= min_rating
        notes.append(
            f"kept the {int(keep.sum())} of {keep.size} interactions with rating >= "
            f"{min_rating:g} (the usual explicit-to-implicit conversion; min_rating=None "
            f"keeps all)"
        )
        users_raw, items_raw = users_raw[keep], items_raw[keep]
        time = None if time is None else time[keep]
    if users_raw.size == 0:
        raise DataValidationError(f"{path}: no interactions left to load")
    user_ids, u = _remap(users_raw)
    item_ids, i = _remap(items_raw)
    data = _finish(
        {"train": (u, i)},
        len(user_ids),
        len(item_ids),
        name=name or path.stem,
        files={"train": path},
        timestamps=None if time is None else {"train": time},
        notes=notes,
    )
    data.user_ids, data.item_ids = user_ids, item_ids
    used = [
        ("user", True),
        ("item", True),
        ("rating", min_rating is not None),
        ("time", time is not None),
    ]
    data.loaded_as = f"{path.name} as {kind}: " + ", ".join(
        f"{role} column {columns[role]!r}" + (" (found by name)" if role in by_name else "")
        for role, on in used
        if on
    )
    return data


def _locate(
    header: list[str],
    wanted: dict[str, str | None],
    path: Path,
    optional: Sequence[str] = (),
    header_line: int = 1,
) -> dict[str, int | None]:
    found = {}
    for key, column in wanted.items():
        if column is None:
            found[key] = None
        elif column in header:
            found[key] = header.index(column)
        elif key in optional:
            found[key] = None
        else:
            raise DataValidationError(
                f"{path}, line {header_line}: no column {column!r} in the header "
                f"(columns: {', '.join(header)})"
            )
    return found


def _check_width(
    counts: np.ndarray,
    width: int,
    lineno: np.ndarray,
    path: Path,
    on_bad_line: OnBadLine,
    notes: list[str],
) -> np.ndarray | None:
    """``None`` when every row has the header's width, else the rows to keep (``"skip"``)."""
    problems = {
        int(k): f"expected {width} columns as in the header, got {counts[k]}"
        for k in np.flatnonzero(counts != width)
    }
    if not apply_bad_line_policy(path, lineno, problems, on_bad_line, notes):
        return None
    return counts == width


def _columns(cells: np.ndarray, where: dict[str, int | None], strip: bool = False) -> tuple:
    """The user, item, rating and time columns of a ``[rows, width]`` string array."""

    def col(key):
        j = where[key]
        if j is None:
            return None
        return np.char.strip(cells[:, j]) if strip else cells[:, j]

    return col("user"), col("item"), col("rating"), col("time")


__all__ = ["PathLike", "REMAP_MIN_IDS", "REMAP_RATIO"]
