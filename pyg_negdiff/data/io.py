r"""Loaders for the interaction file formats that users bring, each returning an `InteractionData`.

| format | one line | ids | loader |
|---|---|---|---|
| LightGCN adjacency lists | ``user item item ...`` (one line per user) | 0-based integers | `load_lightgcn` |
| pair lists | ``user item`` | 0-based integers | `load_pairs` |
| RecBole atomic ``.inter`` | tab-separated, typed header ``user_id:token ...`` | tokens, remapped | `load_recbole` |
| CSV | named columns | tokens, remapped | `load_csv` |

`load_dataset` picks the loader from a path, `load_builtin` reads the datasets in
``$PYG_NEGDIFF_DATA`` (default ``../shared/data``). Nothing is ever downloaded.

Every loader checks its input: a malformed line raises `DataValidationError` naming the
file and its 1-based line number. Empty lines are skipped. Repeated (user, item) pairs
inside a part are dropped; evaluation users without a training interaction are kept, and so
are evaluation pairs that also appear in training. All of these are reported through
`InteractionData.note` (which also warns), as is any rating filter.

Pre-split files (a train and a test file) keep their parts as given. Their ids are already
0-based integers, so $U$ and $I$ are one more than the largest id over all files.
Token ids (RecBole, CSV) are remapped to $0 \ldots U-1$ and $0 \ldots I-1$ in sorted
order (numeric when every token is an integer); the raw ids are kept as the arrays
``data.user_ids`` and ``data.item_ids``, position $k$ holding the raw id of new id $k$.
Those two attributes live on the loaded object only: `InteractionData.with_parts`
(what a split returns) does not carry them.

Examples:
    >>> import tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "train.txt").write_text("0 1 2\n1 0\n2\n")
    >>> _ = (root / "test.txt").write_text("0 0\n1 2\n")
    >>> sniff_format(root / "train.txt")
    'lightgcn'
    >>> load_dataset(root, name="toy")  # a folder with train.txt / test.txt
    InteractionData(name='toy', users=3, items=3, train=3, test=2)
"""
from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import torch

from pyg_negdiff.data.interactions import DataValidationError, InteractionData

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
Format = Literal["auto", "lightgcn", "pairs", "recbole", "csv"]

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
# A pair-list line that is neither blank nor exactly two whitespace-separated tokens.
_BAD_PAIR_LINE = re.compile(r"^(?![ \t]*(?:\S+[ \t]+\S+[ \t]*)?\r?$).*$", re.MULTILINE)


def _read_text(path: PathLike) -> tuple[Path, str]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    return path, path.read_text()


def _error(path: Path, lineno: int, message: str) -> DataValidationError:
    return DataValidationError(f"{path}, line {lineno}: {message}")


def _int_ids(path: Path, text: str, flat: list[str]) -> np.ndarray:
    """Whitespace tokens as non-negative ``int64`` ids, in one vectorized conversion.

    The fast path cannot say where a bad token is: only then are the lines walked
    once more to name the first bad one.
    """
    try:
        values = np.array(flat, dtype=np.int64)
    except (ValueError, OverflowError):
        values = None
    if values is None or (values.size and int(values.min()) < 0):
        for lineno, line in enumerate(text.split("\n"), start=1):
            for tok in line.split():
                try:
                    value = int(tok)
                except ValueError:
                    raise _error(path, lineno, f"{tok!r} is not an integer id") from None
                if value < 0:
                    raise _error(path, lineno, f"negative id {value}")
                if value >= 2**63:
                    raise _error(path, lineno, f"id {tok} does not fit in 64 bits")
        raise DataValidationError(f"{path}: the ids could not be read as integers")
    return values


def _read_lightgcn(path: PathLike) -> tuple[np.ndarray, np.ndarray, int]:
    """``(users, items, largest user id)`` of an adjacency-list file."""
    path, text = _read_text(path)
    tokens = [t for t in (line.split() for line in text.split("\n")) if t]
    counts = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    values = _int_ids(path, text, [tok for line in tokens for tok in line])
    starts = np.zeros(counts.size, dtype=np.int64)
    starts[1:] = np.cumsum(counts)[:-1]
    heads = values[starts]
    is_item = np.ones(values.size, dtype=bool)
    is_item[starts] = False
    users = np.repeat(heads, counts - 1)
    # A line holding only a user is a user without interactions: it still counts for U.
    return users, values[is_item], int(heads.max()) if heads.size else -1


def _read_pairs(path: PathLike) -> tuple[np.ndarray, np.ndarray, int]:
    """``(users, items, largest user id)`` of a ``user item`` file."""
    path, text = _read_text(path)
    # One regular-expression scan checks the columns of every line (a Python loop over
    # 100k short lines would cost more than the rest of the load).
    bad = _BAD_PAIR_LINE.search(text)
    if bad is not None:
        lineno = text.count("\n", 0, bad.start()) + 1
        found = bad.group(0).split()
        raise _error(path, lineno, f"expected 2 columns (user item), got {len(found)}: "
                                   f"{' '.join(found)!r}")
    values = _int_ids(path, text, text.split()).reshape(-1, 2)
    users = values[:, 0]
    return users, values[:, 1], int(users.max()) if users.size else -1


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
            notes: Sequence[str] = ()) -> InteractionData:
    r"""Deduplicates every part, builds the `InteractionData`, and notes what it found.

    The checks run in numpy on pair keys $u \cdot I + i$: on ML-1M they take a
    fraction of the time that building a `PairSet` would.
    """
    messages = list(notes)
    tensors, times, keys = {}, {}, {}
    for part, (users, items) in parts.items():
        keys[part], keep = _dedup(users * num_items + items)
        time = (timestamps or {}).get(part)
        if keep is not None:
            messages.append(f"part {part!r}: dropped {users.size - keep.size} duplicate (user, item) "
                            f"pairs ({files[part].name})")
            users, items = users[keep], items[keep]
            time = None if time is None else time[keep]
        tensors[part] = torch.from_numpy(np.stack([users, items]).astype(np.int64))
        if time is not None:
            times[part] = torch.from_numpy(time.astype(np.float64))
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
    for message in messages:
        data.note(message)
    return data


def _default_name(path: Path) -> str:
    """A file's folder names the dataset (``.../coat/train.txt`` is ``"coat"``)."""
    return path.resolve().parent.name or "data"


def _load_presplit(reader, train_path: PathLike, test_path: PathLike | None,
                   val_path: PathLike | None, name: str | None, num_users: int | None,
                   num_items: int | None) -> InteractionData:
    files = {"train": Path(train_path)}
    if val_path is not None:
        files["val"] = Path(val_path)
    if test_path is not None:
        files["test"] = Path(test_path)
    parts, max_user = {}, -1
    for part, path in files.items():
        users, items, top = reader(path)
        parts[part] = (users, items)
        max_user = max(max_user, top)
    max_item = max((int(i.max()) for _, i in parts.values() if i.size), default=-1)
    U = max_user + 1 if num_users is None else int(num_users)
    I = max_item + 1 if num_items is None else int(num_items)
    for what, given, top in (("num_users", num_users, max_user), ("num_items", num_items, max_item)):
        if given is not None and top >= given:
            raise DataValidationError(f"{what}={given}, but the files hold id {top}")
    if parts["train"][0].size == 0:
        raise DataValidationError(f"{files['train']}: no interactions in the training file")
    return _finish(parts, U, I, name=name or _default_name(files["train"]), files=files)


# ------------------------------------------------------------------ loaders
def load_lightgcn(train_path: PathLike, test_path: PathLike | None = None, *,
                  val_path: PathLike | None = None, name: str | None = None,
                  num_users: int | None = None, num_items: int | None = None) -> InteractionData:
    """Loads LightGCN adjacency lists: one line per user, ``user item item ...``.

    A line holding only a user id is a user without interactions (it still counts
    towards $U$). The files of one dataset share 0-based integer ids.

    Args:
        train_path (str or os.PathLike): The training file, part ``"train"``.
        test_path (str or os.PathLike, optional): The test file, part ``"test"``.
        val_path (str or os.PathLike, optional): A validation file, part ``"val"``.
        name (str, optional): Label of the dataset (default: the folder of ``train_path``).
        num_users (int, optional): $U$, when the catalogue is larger than the files
            show (default: largest user id + 1).
        num_items (int, optional): $I$ (default: largest item id + 1).

    Returns:
        InteractionData: The parts as given in the files.

    Raises:
        DataValidationError: A token that is not an integer, or a negative id
            (the message names the file and line).
    """
    return _load_presplit(_read_lightgcn, train_path, test_path, val_path, name,
                          num_users, num_items)


def load_pairs(train_path: PathLike, test_path: PathLike | None = None, *,
               val_path: PathLike | None = None, name: str | None = None,
               num_users: int | None = None, num_items: int | None = None) -> InteractionData:
    """Loads pair lists: one interaction ``user item`` per line (whitespace-separated).

    Args:
        train_path (str or os.PathLike): The training file, part ``"train"``.
        test_path (str or os.PathLike, optional): The test file, part ``"test"``.
        val_path (str or os.PathLike, optional): A validation file, part ``"val"``.
        name (str, optional): Label of the dataset (default: the folder of ``train_path``).
        num_users (int, optional): $U$ (default: largest user id + 1).
        num_items (int, optional): $I$ (default: largest item id + 1).

    Returns:
        InteractionData: The parts as given in the files.

    Raises:
        DataValidationError: A line without exactly two columns, a token that is not
            an integer, or a negative id (the message names the file and line).
    """
    return _load_presplit(_read_pairs, train_path, test_path, val_path, name,
                          num_users, num_items)


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
                  columns: dict[str, str], name: str | None,
                  notes: Sequence[str] = ()) -> InteractionData:
    """Shared tail of the token-id loaders: rating filter, id remapping, timestamps."""
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
                 name: str | None = None) -> InteractionData:
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

    Returns:
        InteractionData: One ``"train"`` part, with timestamps when the file has them.

    Raises:
        DataValidationError: A missing header column, a row with the wrong number of
            columns, a rating or timestamp that is not a number (with file and line).
    """
    path = Path(inter_path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    raw = path.read_text().replace("\r\n", "\n").split("\n")
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
    _check_width(tabs + 1, len(header), numbers, path)
    cells = np.array("\t".join(body).split("\t") if body else [], dtype=str).reshape(-1, len(header))
    columns = {"user": user_field, "item": item_field, "rating": rating_field, "time": time_field}
    notes = []
    if where["rating"] is None and min_rating is not None:
        # Many RecBole files are implicit already: nothing to threshold.
        notes.append(f"no {rating_field!r} column: min_rating={min_rating:g} ignored, every "
                     f"interaction kept")
        min_rating = None
    return _from_columns(path, *_columns(cells, where), numbers, min_rating=min_rating,
                         columns=columns, name=name, notes=notes)


def _check_width(counts: np.ndarray, width: int, lineno: np.ndarray, path: Path) -> None:
    bad = np.flatnonzero(counts != width)
    if bad.size:
        k = int(bad[0])
        raise DataValidationError(f"{path}, line {lineno[k]}: expected {width} columns as in the "
                                  f"header, got {counts[k]}")


def _columns(cells: np.ndarray, where: dict[str, int | None], strip: bool = False) -> tuple:
    """The user, item, rating and time columns of a ``[rows, width]`` string array."""
    def col(key):
        j = where[key]
        if j is None:
            return None
        return np.char.strip(cells[:, j]) if strip else cells[:, j]
    return col("user"), col("item"), col("rating"), col("time")


def load_csv(path: PathLike, *, user_col: str = "user", item_col: str = "item",
             time_col: str | None = None, rating_col: str | None = None,
             min_rating: float | None = None, sep: str = ",",
             name: str | None = None) -> InteractionData:
    r"""Loads a delimited text file with a header row of column names.

    Quoted fields are read as the `csv` module reads them. Ids are tokens,
    remapped as in `load_recbole` (raw ids in ``data.user_ids`` / ``data.item_ids``);
    every interaction goes into ``"train"``.

    Args:
        path (str or os.PathLike): The file.
        user_col (str): Column of user ids.
        item_col (str): Column of item ids.
        time_col (str, optional): Column of timestamps: numbers, or ISO dates
            (converted to seconds since 1970).
        rating_col (str, optional): Column of ratings, used by ``min_rating``.
        min_rating (float, optional): Keep rows with rating $\ge$ this (the usual
            explicit-to-implicit conversion; noted on the result).
        sep (str): Field delimiter.
        name (str, optional): Label of the dataset (default: the file name without its suffix).

    Returns:
        InteractionData: One ``"train"`` part, with timestamps when ``time_col`` is given.

    Raises:
        DataValidationError: A missing header column, a row with the wrong number of
            columns, or a rating or time that cannot be read (with file and line).

    Examples:
        >>> import tempfile, warnings
        >>> from pathlib import Path
        >>> f = Path(tempfile.mkdtemp()) / "ratings.csv"
        >>> _ = f.write_text("user,item,stars\nann,b,5\nbob,a,2\nbob,b,4\n")
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")  # the note on the rating filter
        ...     data = load_csv(f, rating_col="stars", min_rating=4)
        >>> data.train.tolist(), data.user_ids.tolist(), data.item_ids.tolist()
        ([[0, 1], [0, 0]], ['ann', 'bob'], ['b'])
    """
    if min_rating is not None and rating_col is None:
        raise ValueError(f"min_rating={min_rating} needs rating_col, the column to threshold")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    with path.open(newline="") as f:
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
    where = _locate(header, {"user": user_col, "item": item_col, "rating": rating_col,
                             "time": time_col}, path, header_line=header_line)
    lineno = np.array(numbers, dtype=np.int64)
    _check_width(np.fromiter(map(len, rows), dtype=np.int64, count=len(rows)), len(header),
                 lineno, path)
    if not rows:
        raise DataValidationError(f"{path}, line {header_line}: a header but no rows")
    columns = {"user": user_col, "item": item_col, "rating": rating_col, "time": time_col}
    cells = np.array(rows, dtype=str)
    return _from_columns(path, *_columns(cells, where, strip=True), lineno, min_rating=min_rating,
                         columns=columns, name=name)


# --------------------------------------------------------------- dispatcher
def sniff_format(path: PathLike, max_lines: int = 2000) -> Literal["lightgcn", "pairs"]:
    """Tells adjacency lists from pair lists by the first ``max_lines`` non-empty lines.

    Any line without exactly two tokens means adjacency lists; otherwise pairs.
    (A file whose every line has two tokens reads the same either way.)

    Args:
        path (str or os.PathLike): A text file of whitespace-separated ids.
        max_lines (int): Non-empty lines read at most.

    Returns:
        str: ``"lightgcn"`` (adjacency lists) or ``"pairs"``.
    """
    with Path(path).open() as f:
        seen = 0
        for line in f:
            n = len(line.split())
            if n == 0:
                continue
            if n != 2:
                return "lightgcn"
            seen += 1
            if seen >= max_lines:
                break
    return "pairs"


def _split_files(folder: Path) -> dict[str, Path | None]:
    def first(*names):
        return next((folder / n for n in names if (folder / n).is_file()), None)
    return {"train": first("train.txt"), "test": first("test.txt"),
            "val": first("val.txt", "valid.txt", "validation.txt")}


def load_dataset(path: PathLike, format: Format = "auto", **kwargs: Any) -> InteractionData:
    """Loads a file or a folder, choosing the loader from what is there.

    - a folder with ``train.txt`` (and ``test.txt``, ``val.txt`` / ``valid.txt`` when
      present): adjacency lists or pairs, told apart by `sniff_format`;
    - a ``.inter`` file, or a folder holding exactly one: `load_recbole`;
    - a ``.csv`` file, or a folder holding exactly one: `load_csv`;
    - any other file: adjacency lists or pairs, read as the ``"train"`` part.

    Args:
        path (str or os.PathLike): A file or a folder.
        format (str): ``"auto"`` (the rules above), ``"lightgcn"``, ``"pairs"``,
            ``"recbole"`` or ``"csv"``.
        **kwargs: Passed on to the loader.

    Returns:
        InteractionData: What the loader returns.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if format not in ("auto", "lightgcn", "pairs", "recbole", "csv"):
        raise ValueError(f"unknown format {format!r}")
    if path.is_dir():
        files = _split_files(path)
        if files["train"] is not None and format in ("auto", "lightgcn", "pairs"):
            kind = sniff_format(files["train"]) if format == "auto" else format
            loader = load_lightgcn if kind == "lightgcn" else load_pairs
            return loader(files["train"], files["test"], val_path=files["val"], **kwargs)
        for suffix, kind in ((".inter", "recbole"), (".csv", "csv")):
            if format not in ("auto", kind):
                continue
            found = sorted(path.glob(f"*{suffix}"))
            if len(found) == 1:
                return load_dataset(found[0], kind, **kwargs)
            if len(found) > 1:
                raise ValueError(f"{path} holds several {suffix} files "
                                 f"({', '.join(f.name for f in found)}): pass one of them")
        raise ValueError(f"{path}: found no train.txt, .inter or .csv file to load"
                         + ("" if format == "auto" else f" as {format!r}"))
    if format == "auto":
        format = {".inter": "recbole", ".csv": "csv"}.get(path.suffix.lower()) or sniff_format(path)
    loaders = {"lightgcn": load_lightgcn, "pairs": load_pairs, "recbole": load_recbole,
               "csv": load_csv}
    return loaders[format](path, **kwargs)


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
        return load_recbole(files[0], **options)
    loader = load_lightgcn if kind == "lightgcn" else load_pairs
    return loader(*files, **options)
