r"""Loaders for the interaction file formats that users bring, each returning an `InteractionData`.

| format | one line | ids | loader |
|---|---|---|---|
| ``lightgcn`` | ``user item item ...`` (one line per user) | 0-based integers | `load_lightgcn` |
| ``pairs`` | ``user item`` | 0-based integers | `load_pairs` |
| ``uiw`` | ``user item weight`` (a constant such as ``1`` is dropped) | 0-based integers | `load_pairs` |
| ``uit`` | ``user item time`` (Unix seconds or milliseconds) | 0-based integers | `load_pairs` |
| ``uirt`` | ``user item rating time`` | 0-based integers | `load_pairs` |
| ``recbole`` | tab-separated, typed header ``user_id:token ...`` | tokens, remapped | `load_recbole` |
| ``csv`` | named columns (``userId,movieId,rating,timestamp``, ...) | tokens, remapped | `load_csv` |

`load_dataset` picks the loader from a path: whitespace-separated files get the layout
that `pyg_negdiff.data.layout.detect_layout` finds in *all* their lines, or a refusal
that names ``--format`` when the lines fit more than one; ``data.loaded_as`` says in one
line what was chosen and why. `load_builtin` reads the datasets in ``$PYG_NEGDIFF_DATA``
(default ``../shared/data``). Nothing is ever downloaded here (PyG's own datasets are
`pyg_negdiff.data.pyg_datasets`).

Every loader checks its input and drops a UTF-8 byte-order mark. A malformed line raises
`MalformedLineError` naming the file and its 1-based line number, or, with
``on_bad_line="skip"``, is skipped with a note that counts the lines skipped. Empty lines
are skipped. Repeated (user, item) pairs inside a part are dropped; evaluation users
without a training interaction are kept, and so are evaluation pairs that also appear in
training. All of these are reported through `InteractionData.note` (which also warns), as
is any rating filter.

Pre-split files (a train and a test file) keep their parts as given. Their ids are already
0-based integers, so $U$ and $I$ are one more than the largest id over all files, except
when the largest id is far above the number of distinct ids (at least
`REMAP_MIN_IDS` and more than `REMAP_RATIO` times as many): those ids are remapped to
$0 \ldots n-1$ in increasing order and noted, since memory follows the largest id.
Token ids (RecBole, CSV) are always remapped to $0 \ldots U-1$ and $0 \ldots I-1$ in sorted
order (numeric when every token is an integer). Remapped raw ids are kept as the arrays
``data.user_ids`` and ``data.item_ids``, position $k$ holding the raw id of new id $k$.
Those attributes (and ``data.weights``, ``data.loaded_as``) live on the loaded object only:
`InteractionData.with_parts` (what a split returns) does not carry them.

Examples:
    >>> import tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "train.txt").write_text("0 1 2\n1 0\n2\n")
    >>> _ = (root / "test.txt").write_text("0 0\n1 2\n")
    >>> sniff_format(root / "train.txt")
    'lightgcn'
    >>> data = load_dataset(root, name="toy")  # a folder with train.txt / test.txt
    >>> data
    InteractionData(name='toy', users=3, items=3, train=3, test=2)
    >>> print(data.loaded_as)
    train.txt as lightgcn: each of the 3 lines starts with a different user and holds 0 to 2 items (adjacency lists); test.txt as lightgcn: as in train.txt
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import torch

from pyg_negdiff.data.folders import split_files
from pyg_negdiff.data.interactions import DataValidationError, InteractionData
from pyg_negdiff.data.layout import (
    COLUMN_FORMATS,
    AmbiguousFormatError,
    Layout,
    MalformedLineError,
    OnBadLine,
    ParsedFile,
    TextLines,
    apply_bad_line_policy,
    column_layout,
    detect_layout,
    parse_columns,
    parse_lightgcn,
    read_lines,
)

__all__ = [
    "default_data_root",
    "load_builtin",
    "load_csv",
    "load_dataset",
    "load_lightgcn",
    "load_pairs",
    "load_recbole",
    "sniff_format",
]

PathLike = str | os.PathLike
Format = Literal["auto", "lightgcn", "pairs", "uiw", "uit", "uirt", "recbole", "csv"]
#: The values of ``format`` (and ``--format``).
FORMATS = ("auto", "lightgcn", *COLUMN_FORMATS, "recbole", "csv")

#: Environment variable that points at the folder holding the built-in datasets.
DATA_ENV_VAR = "PYG_NEGDIFF_DATA"
#: Built-in dataset name -> (format, files relative to the dataset folder, loader defaults).
BUILTIN_FILES: dict[str, tuple[str, tuple[str, ...], dict[str, Any]]] = {
    "ml-100k": ("recbole", ("ml-100k.inter",), {"min_rating": 4.0}),
    "ml-1m": ("lightgcn", ("train.txt", "test.txt"), {}),
    "coat": ("pairs", ("train.txt", "test.txt"), {}),
    "yahoo-r3": ("pairs", ("train.txt", "test.txt"), {}),
}
#: How many users a note lists by id before it stops.
_NOTE_IDS = 5


# ---------------------------------------------------------------- data root
def default_data_root() -> Path:
    """The folder of the built-in datasets: ``$PYG_NEGDIFF_DATA``, else ``../shared/data``.

    The relative default is resolved against the working directory. When it does
    not exist there and the variable is unset, the ``shared/data`` folder beside the
    source checkout is tried, so commands run from a sub-folder of the project work too.
    """
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    root = Path("../shared/data").resolve()
    if not root.is_dir():
        beside_checkout = Path(__file__).resolve().parents[3] / "shared" / "data"
        if beside_checkout.is_dir():
            return beside_checkout
    return root


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


def _finish(parts: dict[str, tuple[np.ndarray, np.ndarray]], num_users: int, num_items: int, *,
            name: str, files: dict[str, Path], timestamps: dict[str, np.ndarray] | None = None,
            weights: dict[str, np.ndarray] | None = None,
            notes: Sequence[str] = ()) -> InteractionData:
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
            messages.append(f"part {part!r}: dropped {users.size - keep.size} duplicate (user, item) "
                            f"pairs ({files[part].name})")
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
            ids = ", ".join(map(str, cold[:_NOTE_IDS].tolist())) + (", ..." if cold.size > _NOTE_IDS else "")
            messages.append(f"part {part!r}: {cold.size} users have no training interaction "
                            f"(ids {ids}); they are kept")
        train_keys = keys["train"]  # sorted
        pos = np.searchsorted(train_keys, keys[part]).clip(max=train_keys.size - 1)
        overlap = int((train_keys[pos] == keys[part]).sum())
        if overlap:
            messages.append(f"part {part!r}: {overlap} pairs also appear in 'train' "
                            f"(they are masked when ranking, so they cannot be hit)")
    data = InteractionData(num_users, num_items, tensors, timestamps=times, name=name)
    if kept_weights:
        data.weights = kept_weights
    for message in messages:
        data.note(message)
    return data


def _default_name(path: Path) -> str:
    """A file's folder names the dataset (``.../coat/train.txt`` is ``"coat"``)."""
    return path.resolve().parent.name or "data"


def _column_layout_of(lines: TextLines) -> Layout:
    """The column layout of a file read as pairs (`load_pairs` with ``layout="auto"``)."""
    # The most common width that a column layout has (ties: the narrower).
    counts = np.bincount(lines.widths, minlength=5)[2:5]
    width = 2 + int(counts.argmax())
    layout = column_layout(lines, width)
    if layout is None:
        raise AmbiguousFormatError(
            f"{lines.path}: most lines have {width} columns, which no column layout (user item "
            f"[weight] [time]) explains; pass layout= (--format): pairs, uiw, uit or uirt")
    return layout


def _read_part(path: Path, format: str, on_bad_line: OnBadLine) -> tuple[ParsedFile, Layout]:
    lines = read_lines(path)
    if format == "auto":
        layout = detect_layout(lines)
    elif format == "columns":
        layout = _column_layout_of(lines)
    else:
        layout = Layout(format, "format given")
    try:
        if layout.format == "lightgcn":
            return parse_lightgcn(lines, on_bad_line), layout
        return parse_columns(lines, layout.format, on_bad_line), layout
    except MalformedLineError as exc:
        if format not in ("auto", "columns"):
            raise
        raise MalformedLineError(f"{exc} (the file was detected as {layout.format}; if that is "
                                 f"wrong, pass --format)") from None


def _compact(ids: list[np.ndarray], what: str, notes: list[str]) -> np.ndarray | None:
    r"""Remaps ids in place to $0 \ldots n-1$ when the largest is far above their number.

    Returns the raw id of every new id, or ``None`` when the ids are kept.
    """
    ids = list({id(i): i for i in ids}.values())  # an array listed twice is remapped once
    top = max((int(i.max()) for i in ids if i.size), default=-1)
    if top + 1 < REMAP_MIN_IDS:
        return None
    raw = np.unique(np.concatenate(ids))
    if top + 1 <= REMAP_RATIO * raw.size:
        return None
    for i in ids:
        i[:] = np.searchsorted(raw, i)
    notes.append(f"{what} ids reach {top:,} but only {raw.size:,} distinct ones appear: remapped "
                 f"to 0..{raw.size - 1:,} in increasing order (raw ids in data.{what}_ids)")
    return raw


def _load_presplit(files: dict[str, Path], format: str, *, on_bad_line: OnBadLine,
                   min_rating: float | None, name: str | None, num_users: int | None,
                   num_items: int | None) -> InteractionData:
    """Reads the files of a pre-split dataset; the first, ``"train"``, decides the format.

    With ``format="auto"`` the training file's layout comes from `detect_layout`. The other
    files are read as adjacency lists when it is, else each as its own column layout
    (a ``user item`` test file beside a ``user item time`` training file is common).
    """
    parsed, layouts, notes = {}, {}, []
    for part, path in files.items():
        kind = format
        if format == "auto" and part != "train":
            kind = "lightgcn" if layouts["train"].format == "lightgcn" else "columns"
        parsed[part], layouts[part] = _read_part(path, kind, on_bad_line)
        if kind == "lightgcn" and format == "auto":
            layouts[part] = Layout("lightgcn", f"as in {files['train'].name}")
        notes += parsed[part].notes
    train = files["train"]
    if parsed["train"].users.size == 0:
        raise DataValidationError(f"{train}: no interactions in the training file")
    weights = {p: f.weight for p, f in parsed.items() if f.weight is not None}
    if min_rating is not None:
        missing = [files[p].name for p in parsed if p not in weights]
        if missing:
            raise DataValidationError(f"min_rating={min_rating:g} needs a weight or rating column, "
                                      f"which {', '.join(missing)} lack(s) (or hold a constant)")
        for part, f in parsed.items():
            keep = f.weight >= min_rating
            notes.append(f"part {part!r}: kept the {int(keep.sum())} of {keep.size} interactions "
                         f"with weight >= {min_rating:g}")
            parsed[part] = ParsedFile(f.users[keep], f.items[keep], f.heads, f.weight[keep],
                                      None if f.time is None else f.time[keep])
        weights = {p: f.weight for p, f in parsed.items()}
    user_ids = item_ids = None
    if num_users is None:
        user_ids = _compact([a for f in parsed.values() for a in (f.users, f.heads)], "user", notes)
    if num_items is None:
        item_ids = _compact([f.items for f in parsed.values()], "item", notes)
    max_user = max((int(a.max()) for f in parsed.values() for a in (f.users, f.heads) if a.size),
                   default=-1)
    max_item = max((int(f.items.max()) for f in parsed.values() if f.items.size), default=-1)
    for what, given, top in (("num_users", num_users, max_user), ("num_items", num_items, max_item)):
        if given is not None and top >= given:
            raise DataValidationError(f"{what}={given}, but the files hold id {top}")
    U = max_user + 1 if num_users is None else int(num_users)
    I = max_item + 1 if num_items is None else int(num_items)
    times = {p: f.time for p, f in parsed.items() if f.time is not None}
    data = _finish({p: (f.users, f.items) for p, f in parsed.items()}, U, I,
                   name=name or _default_name(train), files=files, timestamps=times,
                   weights=weights, notes=notes)
    if user_ids is not None:
        data.user_ids = user_ids
    if item_ids is not None:
        data.item_ids = item_ids
    data.loaded_as = "; ".join(f"{files[p].name} as {layout}" for p, layout in layouts.items())
    return data


def _files(train_path: PathLike, test_path: PathLike | None,
           val_path: PathLike | None) -> dict[str, Path]:
    files = {"train": Path(train_path)}
    if val_path is not None:
        files["val"] = Path(val_path)
    if test_path is not None:
        files["test"] = Path(test_path)
    return files


# ------------------------------------------------------------------ loaders
def load_lightgcn(train_path: PathLike, test_path: PathLike | None = None, *,
                  val_path: PathLike | None = None, name: str | None = None,
                  num_users: int | None = None, num_items: int | None = None,
                  on_bad_line: OnBadLine = "error") -> InteractionData:
    """Loads LightGCN adjacency lists: one line per user, ``user item item ...``.

    A line holding only a user id is a user without interactions (it still counts
    towards $U$). The files of one dataset share 0-based integer ids; ids far above
    their number are remapped (see the module's notes).

    Args:
        train_path (str or os.PathLike): The training file, part ``"train"``.
        test_path (str or os.PathLike, optional): The test file, part ``"test"``.
        val_path (str or os.PathLike, optional): A validation file, part ``"val"``.
        name (str, optional): Label of the dataset (default: the folder of ``train_path``).
        num_users (int, optional): $U$, when the catalogue is larger than the files
            show (default: largest user id + 1).
        num_items (int, optional): $I$ (default: largest item id + 1).
        on_bad_line (str): ``"error"`` (default) raises on a line with a token that is not
            a non-negative integer; ``"skip"`` skips such lines, with a note that counts them.

    Returns:
        InteractionData: The parts as given in the files.

    Raises:
        DataValidationError: A token that is not an integer, or a negative id
            (the message names the file and line).
    """
    return _load_presplit(_files(train_path, test_path, val_path), "lightgcn",
                          on_bad_line=on_bad_line, min_rating=None, name=name,
                          num_users=num_users, num_items=num_items)


def load_pairs(train_path: PathLike, test_path: PathLike | None = None, *,
               val_path: PathLike | None = None, name: str | None = None,
               num_users: int | None = None, num_items: int | None = None,
               layout: str = "auto", min_rating: float | None = None,
               on_bad_line: OnBadLine = "error") -> InteractionData:
    r"""Loads one interaction per line: ``user item``, ``user item weight``, ``user item time``
    or ``user item rating time`` (whitespace-separated).

    With ``layout="auto"`` each file's most common width picks the layout, and the third
    column is told apart by `pyg_negdiff.data.layout.column_layout`: a constant (``u i 1``,
    dropped), Unix times (kept as timestamps, for the temporal split) or weights and
    ratings (kept as ``data.weights``). Lines of another width are malformed.

    Args:
        train_path (str or os.PathLike): The training file, part ``"train"``.
        test_path (str or os.PathLike, optional): The test file, part ``"test"``.
        val_path (str or os.PathLike, optional): A validation file, part ``"val"``.
        name (str, optional): Label of the dataset (default: the folder of ``train_path``).
        num_users (int, optional): $U$ (default: largest user id + 1).
        num_items (int, optional): $I$ (default: largest item id + 1).
        layout (str): ``"auto"``, ``"pairs"``, ``"uiw"``, ``"uit"`` or ``"uirt"``.
        min_rating (float, optional): Keep the interactions with weight $\ge$ this
            (needs a weight or rating column).
        on_bad_line (str): ``"error"`` (default) raises on the first malformed line;
            ``"skip"`` skips malformed lines, with a note that counts them.

    Returns:
        InteractionData: The parts as given in the files.

    Raises:
        DataValidationError: A line of the wrong width, a token that is not an integer,
            or a negative id (the message names the file and line).

    Examples:
        >>> import tempfile, warnings
        >>> from pathlib import Path
        >>> f = Path(tempfile.mkdtemp()) / "train.txt"
        >>> _ = f.write_text("0 3 881250949\n0 1 891717742\n1 3 878887116\n")
        >>> data = load_pairs(f)
        >>> data.train.tolist(), data.timestamps["train"].tolist()
        ([[0, 0, 1], [3, 1, 3]], [881250949.0, 891717742.0, 878887116.0])
    """
    if layout != "auto" and layout not in COLUMN_FORMATS:
        raise ValueError(f"unknown layout {layout!r}; choose from auto, {', '.join(COLUMN_FORMATS)}")
    return _load_presplit(_files(train_path, test_path, val_path),
                          "columns" if layout == "auto" else layout, on_bad_line=on_bad_line,
                          min_rating=min_rating, name=name, num_users=num_users,
                          num_items=num_items)


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


def _to_float(values: np.ndarray, lineno: np.ndarray, path: Path, column: str, *,
              time: bool = False) -> np.ndarray:
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
            raise DataValidationError(f"{path}, line {n}: column {column!r} holds {v!r}, "
                                      f"not {what}") from None
    raise DataValidationError(f"{path}: column {column!r} could not be read as numbers")


def _from_columns(path: Path, users: np.ndarray, items: np.ndarray, ratings: np.ndarray | None,
                  times: np.ndarray | None, lineno: np.ndarray, *, min_rating: float | None,
                  columns: dict[str, str], name: str | None, kind: str,
                  notes: Sequence[str] = (), by_name: Sequence[str] = ()) -> InteractionData:
    """Shared tail of the token-id loaders: rating filter, id remapping, timestamps.

    ``by_name`` lists the roles whose column was found by its name, for the report.
    """
    notes = list(notes)
    users_raw, items_raw = users, items
    for what, column, raw in (("user", columns["user"], users_raw), ("item", columns["item"], items_raw)):
        empty = np.flatnonzero(np.char.str_len(raw) == 0) if raw.size else np.array([])
        if empty.size:
            raise DataValidationError(f"{path}, line {lineno[empty[0]]}: empty {what} id "
                                      f"(column {column!r})")
    time = None if times is None else _to_float(times, lineno, path, columns["time"], time=True)
    if min_rating is not None:
        rating = _to_float(ratings, lineno, path, columns["rating"])
        keep = rating >= min_rating
        notes.append(f"kept the {int(keep.sum())} of {keep.size} interactions with rating >= "
                     f"{min_rating:g} (the usual explicit-to-implicit conversion; min_rating=None "
                     f"keeps all)")
        users_raw, items_raw = users_raw[keep], items_raw[keep]
        time = None if time is None else time[keep]
    if users_raw.size == 0:
        raise DataValidationError(f"{path}: no interactions left to load")
    user_ids, u = _remap(users_raw)
    item_ids, i = _remap(items_raw)
    data = _finish({"train": (u, i)}, len(user_ids), len(item_ids),
                   name=name or path.stem, files={"train": path},
                   timestamps=None if time is None else {"train": time}, notes=notes)
    data.user_ids, data.item_ids = user_ids, item_ids
    used = [("user", True), ("item", True), ("rating", min_rating is not None), ("time", time is not None)]
    data.loaded_as = f"{path.name} as {kind}: " + ", ".join(
        f"{role} column {columns[role]!r}" + (" (found by name)" if role in by_name else "")
        for role, on in used if on)
    return data


def _locate(header: list[str], wanted: dict[str, str | None], path: Path,
            optional: Sequence[str] = (), header_line: int = 1) -> dict[str, int | None]:
    found = {}
    for key, column in wanted.items():
        if column is None:
            found[key] = None
        elif column in header:
            found[key] = header.index(column)
        elif key in optional:
            found[key] = None
        else:
            raise DataValidationError(f"{path}, line {header_line}: no column {column!r} in the header "
                                      f"(columns: {', '.join(header)})")
    return found


def load_recbole(inter_path: PathLike, *, min_rating: float | None = 4.0,
                 user_field: str = "user_id", item_field: str = "item_id",
                 rating_field: str = "rating", time_field: str = "timestamp",
                 name: str | None = None, on_bad_line: OnBadLine = "error") -> InteractionData:
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
        DataValidationError: A missing header column, a row with the wrong number of
            columns, a rating or timestamp that is not a number (with file and line).
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
    header = [h.strip().split(":")[0] for h in raw[0].split("\t")]
    where = _locate(header, {"user": user_field, "item": item_field, "rating": rating_field,
                             "time": time_field}, path, optional=("rating", "time"))
    numbers = lineno[1:]
    body = [raw[n - 1] for n in numbers.tolist()]
    # Counting tabs checks every row's width; one split of the joined rows then gives
    # all cells (splitting 100k rows one by one costs several times more).
    tabs = np.fromiter((line.count("\t") for line in body), dtype=np.int64, count=len(body))
    notes = []
    keep = _check_width(tabs + 1, len(header), numbers, path, on_bad_line, notes)
    if keep is not None:
        body, numbers = [line for line, k in zip(body, keep) if k], numbers[keep]
    cells = np.array("\t".join(body).split("\t") if body else [], dtype=str).reshape(-1, len(header))
    columns = {"user": user_field, "item": item_field, "rating": rating_field, "time": time_field}
    if where["rating"] is None and min_rating is not None:
        # Many RecBole files are implicit already: nothing to threshold.
        notes.append(f"no {rating_field!r} column: min_rating={min_rating:g} ignored, every "
                     f"interaction kept")
        min_rating = None
    return _from_columns(path, *_columns(cells, where), numbers, min_rating=min_rating,
                         columns=columns, name=name, kind="recbole", notes=notes)


def _check_width(counts: np.ndarray, width: int, lineno: np.ndarray, path: Path,
                 on_bad_line: OnBadLine, notes: list[str]) -> np.ndarray | None:
    """``None`` when every row has the header's width, else the rows to keep (``"skip"``)."""
    problems = {int(k): f"expected {width} columns as in the header, got {counts[k]}"
                for k in np.flatnonzero(counts != width)}
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


#: Column names that `load_csv` recognises, compared without case, ``_``, ``-`` or spaces.
CSV_COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "user": ("user", "userid", "uid", "customerid", "reviewerid", "users"),
    "item": ("item", "itemid", "iid", "movieid", "movie", "productid", "asin", "bookid", "isbn",
             "businessid", "artistid", "trackid", "songid", "items"),
    "time": ("timestamp", "time", "datetime", "date", "ts", "unixreviewtime"),
    "rating": ("rating", "ratings", "score", "stars", "overall", "bookrating"),
}


def _by_name(header: list[str], role: str) -> str | None:
    """The header's column for ``role`` among `CSV_COLUMN_NAMES`, or ``None``."""
    def norm(text: str) -> str:
        return "".join(c for c in text.lower() if c not in "_- ")
    wanted = CSV_COLUMN_NAMES[role]
    hits = [h for h in header if norm(h) in wanted]
    return min(hits, key=lambda h: wanted.index(norm(h))) if hits else None


def load_csv(path: PathLike, *, user_col: str | None = None, item_col: str | None = None,
             time_col: str | None = None, rating_col: str | None = None,
             min_rating: float | None = None, sep: str = ",",
             name: str | None = None, on_bad_line: OnBadLine = "error") -> InteractionData:
    r"""Loads a delimited text file with a header row of column names.

    Quoted fields are read as the `csv` module reads them; a UTF-8 byte-order mark is
    dropped. Ids are tokens, remapped as in `load_recbole` (raw ids in
    ``data.user_ids`` / ``data.item_ids``); every interaction goes into ``"train"``.
    A column not given is found by its name (`CSV_COLUMN_NAMES`: ``userId``,
    ``user_id``, ``movieId``, ``item_id``, ``timestamp``, ...); the report in
    ``data.loaded_as`` says which were.

    Args:
        path (str or os.PathLike): The file.
        user_col (str, optional): Column of user ids (default: found by name).
        item_col (str, optional): Column of item ids (default: found by name).
        time_col (str, optional): Column of timestamps: numbers, or ISO dates
            (converted to seconds since 1970). Default: found by name; ``""`` reads no time.
        rating_col (str, optional): Column of ratings, used by ``min_rating``
            (default: found by name when ``min_rating`` is given).
        min_rating (float, optional): Keep rows with rating $\ge$ this (the usual
            explicit-to-implicit conversion; noted on the result).
        sep (str): Field delimiter.
        name (str, optional): Label of the dataset (default: the file name without its suffix).
        on_bad_line (str): ``"error"`` (default) raises on a row whose width differs from
            the header's; ``"skip"`` skips such rows, with a note that counts them.

    Returns:
        InteractionData: One ``"train"`` part, with timestamps when there is a time column.

    Raises:
        DataValidationError: A missing header column, a row with the wrong number of
            columns, or a rating or time that cannot be read (with file and line).

    Examples:
        >>> import tempfile, warnings
        >>> from pathlib import Path
        >>> f = Path(tempfile.mkdtemp()) / "ratings.csv"
        >>> _ = f.write_text("userId,movieId,stars\nann,b,5\nbob,a,2\nbob,b,4\n")
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")  # the note on the rating filter
        ...     data = load_csv(f, rating_col="stars", min_rating=4)
        >>> data.train.tolist(), data.user_ids.tolist(), data.item_ids.tolist()
        ([[0, 1], [0, 0]], ['ann', 'bob'], ['b'])
        >>> data.loaded_as
        "ratings.csv as csv: user column 'userId' (found by name), item column 'movieId' (found by name), rating column 'stars'"
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=sep)
        rows, numbers, header = [], [], None
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip() for cell in row]
                header_line = reader.line_num
                continue
            rows.append(row)
            numbers.append(reader.line_num)
    if header is None:
        raise DataValidationError(f"{path}: the file is empty")
    if len(header) == 1:
        other = next((c for c in (",", ";", "\t", "|", " ") if c != sep and c in header[0]), None)
        raise DataValidationError(
            f"{path}, line {header_line}: the header has one column with sep={sep!r}"
            + (f"; the file looks separated by {other!r}: pass --sep {other!r}" if other else ""))
    by_name = []
    wanted = {"user": user_col, "item": item_col, "time": time_col,
              "rating": rating_col if rating_col is not None or min_rating is not None else ""}
    for role, given in wanted.items():
        if given is None:
            wanted[role] = _by_name(header, role)
            if wanted[role] is not None:
                by_name.append(role)
            elif role in ("user", "item"):
                raise DataValidationError(
                    f"{path}, line {header_line}: no {role} column among {', '.join(header)}; "
                    f"name it with --{role}-col ({role}_col=)")
            elif role == "rating":
                raise ValueError(f"min_rating={min_rating} needs rating_col (--rating-col), the "
                                 f"column to threshold; none of {', '.join(header)} is named like one")
    columns = {role: (col or None) for role, col in wanted.items()}
    where = _locate(header, columns, path, header_line=header_line)
    lineno = np.array(numbers, dtype=np.int64)
    notes: list[str] = []
    keep = _check_width(np.fromiter(map(len, rows), dtype=np.int64, count=len(rows)), len(header),
                        lineno, path, on_bad_line, notes)
    if keep is not None:
        rows, lineno = [r for r, k in zip(rows, keep) if k], lineno[keep]
    if not rows:
        raise DataValidationError(f"{path}, line {header_line}: a header but no rows")
    cells = np.array(rows, dtype=str)
    return _from_columns(path, *_columns(cells, where, strip=True), lineno, min_rating=min_rating,
                         columns=columns, name=name, kind="csv", notes=notes, by_name=by_name)


# --------------------------------------------------------------- dispatcher
def sniff_format(path: PathLike) -> str:
    """The format of a whitespace-separated id file, from all of its lines.

    Args:
        path (str or os.PathLike): A text file of whitespace-separated ids.

    Returns:
        str: ``"lightgcn"`` (adjacency lists), ``"pairs"``, ``"uiw"``, ``"uit"`` or
        ``"uirt"``, as `pyg_negdiff.data.layout.detect_layout` decides.

    Raises:
        AmbiguousFormatError: When the lines fit more than one layout.
    """
    return detect_layout(path).format


#: Options that only `load_csv` reads.
_CSV_ONLY = ("user_col", "item_col", "time_col", "rating_col", "sep")


def _load_text(files: dict[str, Path], format: str, kwargs: dict[str, Any]) -> InteractionData:
    """Pre-split whitespace-separated files with the `_load_presplit` options in ``kwargs``."""
    misplaced = [k for k in _CSV_ONLY if k in kwargs]
    if misplaced:
        raise ValueError(f"{', '.join(misplaced)} only apply to CSV files; "
                         f"{files['train']} is read as whitespace-separated ids")
    options = {"on_bad_line": "error", "min_rating": None, "name": None, "num_users": None,
               "num_items": None}
    unknown = set(kwargs) - set(options)
    if unknown:
        raise TypeError(f"unexpected options {sorted(unknown)} for {format!r} files")
    return _load_presplit(files, format, **{**options, **kwargs})


def load_dataset(path: PathLike, format: Format = "auto", **kwargs: Any) -> InteractionData:
    """Loads a file or a folder, choosing the loader from what is there.

    - a folder with ``train.txt``: its parts as `pyg_negdiff.data.folders.split_files`
      maps them (``valid.txt``, ``test_iid.txt``, an OOD ``test.txt``, ...), each file
      read in the layout that `pyg_negdiff.data.layout.detect_layout` finds in
      ``train.txt`` (adjacency lists, or ``user item`` columns with an optional weight and time);
    - a ``.inter`` file, or a folder holding exactly one: `load_recbole`;
    - a ``.csv`` file, or a folder holding exactly one: `load_csv` (``.tsv``: tab-separated);
    - any other file: whitespace-separated ids, read as the ``"train"`` part.

    The result says how it was read in one line, ``data.loaded_as``, and for a folder
    which file became which part, ``data.part_files``.

    Args:
        path (str or os.PathLike): A file or a folder.
        format (str): ``"auto"`` (the rules above), ``"lightgcn"``, ``"pairs"``, ``"uiw"``,
            ``"uit"``, ``"uirt"``, ``"recbole"`` or ``"csv"``.
        **kwargs: Passed on to the loader (``on_bad_line``, ``min_rating``, ``name``;
            the CSV column options for CSV files only).

    Returns:
        InteractionData: What the loader returns.

    Raises:
        AmbiguousFormatError: When ``format="auto"`` cannot tell the layout.
        MalformedLineError: A line that does not fit the layout (with file and line).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; choose from {', '.join(FORMATS)}")
    if path.is_dir():
        found = split_files(path) if format not in ("recbole", "csv") else None
        if found is not None:
            data = _load_text(found.parts, format, kwargs)
            data.part_files = found.describe()
            return data
        for suffix, kind in ((".inter", "recbole"), (".csv", "csv")):
            if format not in ("auto", kind):
                continue
            hits = sorted(path.glob(f"*{suffix}"))
            if len(hits) == 1:
                return load_dataset(hits[0], kind, **kwargs)
            if len(hits) > 1:
                raise ValueError(f"{path} holds several {suffix} files "
                                 f"({', '.join(f.name for f in hits)}): pass one of them")
        raise ValueError(f"{path}: found no train.txt, .inter or .csv file to load"
                         + ("" if format == "auto" else f" as {format!r}"))
    suffix = path.suffix.lower()
    if format == "auto" and suffix == ".tsv":
        format, kwargs = "csv", {"sep": "\t", **kwargs}
    if format == "auto":
        format = {".inter": "recbole", ".csv": "csv"}.get(suffix, "auto")
    if format == "recbole":
        return load_recbole(path, **kwargs)
    if format == "csv":
        return load_csv(path, **kwargs)
    return _load_text({"train": path}, format, kwargs)


def load_builtin(name: str, root: PathLike | None = None, **kwargs: Any) -> InteractionData:
    r"""Loads a built-in dataset from the local data folder; nothing is downloaded.

    | name | files | parts |
    |---|---|---|
    | ``"ml-100k"`` | ``ml-100k/ml-100k.inter`` | ``"train"`` (ratings $\ge 4$ by default) |
    | ``"ml-1m"`` | ``ml-1m/train.txt``, ``test.txt`` | ``"train"``, ``"test"`` |
    | ``"coat"`` | ``coat/train.txt``, ``test.txt`` | ``"train"``, ``"test"`` (random exposure) |
    | ``"yahoo-r3"`` | ``yahoo-r3/train.txt``, ``test.txt`` | ``"train"``, ``"test"`` (random exposure) |

    Args:
        name (str): One of the names above.
        root (str or os.PathLike, optional): The folder holding the dataset folders
            (default: `default_data_root`, i.e. ``$PYG_NEGDIFF_DATA`` or ``../shared/data``).
        **kwargs: Passed on to the loader (``min_rating=None`` keeps all of ML-100K).

    Returns:
        InteractionData: The dataset, named ``name``.
    """
    if name not in BUILTIN_FILES:
        raise ValueError(f"unknown built-in dataset {name!r}; choose from {', '.join(BUILTIN_FILES)}")
    kind, names, defaults = BUILTIN_FILES[name]
    folder = (Path(root) if root is not None else default_data_root()) / name
    files = [folder / n for n in names]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(
            f"built-in dataset {name!r} not found: missing {', '.join(map(str, missing))}. "
            f"Put the files there, or point ${DATA_ENV_VAR} (or root=) at the folder that "
            f"holds {name}/; nothing is downloaded.")
    options = {**defaults, **kwargs, "name": name}
    if kind == "recbole":
        data = load_recbole(files[0], **options)
    else:
        loader = load_lightgcn if kind == "lightgcn" else load_pairs
        data = loader(*files, **options)
    data.loaded_as = f"{name} (built-in): {data.loaded_as}"
    return data
