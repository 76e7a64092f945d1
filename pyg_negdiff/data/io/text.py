r"""Whitespace-separated text files: LightGCN adjacency lists and the column layouts
(``pairs``, ``uiw``, ``uit``, ``uirt``), pre-split or not."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pyg_negdiff.data.interactions import DataValidationError, InteractionData
from pyg_negdiff.data.layout import (
    COLUMN_FORMATS,
    AmbiguousFormatError,
    Layout,
    MalformedLineError,
    OnBadLine,
    ParsedFile,
    TextLines,
    column_layout,
    detect_layout,
    parse_columns,
    parse_lightgcn,
    read_lines,
)
from pyg_negdiff.data.io.common import REMAP_MIN_IDS, REMAP_RATIO, PathLike, _default_name, _finish


def _column_layout_of(lines: TextLines) -> Layout:
    """The column layout of a file read as pairs (`load_pairs` with ``layout="auto"``)."""
    # The most common width that a column layout has (ties: the narrower).
    counts = np.bincount(lines.widths, minlength=5)[2:5]
    width = 2 + int(counts.argmax())
    layout = column_layout(lines, width)
    if layout is None:
        raise AmbiguousFormatError(
            f"{lines.path}: most lines have {width} columns, which no column layout (user item "
            f"[weight] [time]) explains; pass layout= (--format): pairs, uiw, uit or uirt"
        )
    return layout


def _read_part(path: Path, format: str, on_bad_line: OnBadLine) -> tuple[ParsedFile, Layout]:
    lines = read_lines(path)
    if format == "auto":
        layout = detect_layout(lines)
    elif format == "columns":
        layout = _column_layout_of(lines)
    else:
        layout = Layout(format, "format given")
    if layout.format == "pairs" and format in ("auto", "columns"):
        _refuse_time_items(lines)
    try:
        if layout.format == "lightgcn":
            return parse_lightgcn(lines, on_bad_line), layout
        return parse_columns(lines, layout.format, on_bad_line), layout
    except MalformedLineError as exc:
        if format not in ("auto", "columns"):
            raise
        raise MalformedLineError(
            f"{exc} (the file was detected as {layout.format}; if that is wrong, pass --format)"
        ) from None


#: A detected ``user item`` file is refused when its item column looks like Unix times: at least
#: this many rows, ...
TIME_ITEMS_MIN_ROWS = 20
#: ... this share of them with an item of their own (an item seen once, as a time would be) ...
TIME_ITEMS_MIN_DISTINCT = 0.9
#: ... and every value an integer in one of these ranges: seconds (1973-03-03 .. 2286-11-20) or
#: milliseconds (from 1973-03-03 on).
TIME_RANGES = ((10**8, 10**10), (10**11, 10**13))


def _refuse_time_items(lines: TextLines) -> None:
    """Refuses a file detected as ``user item`` whose item column looks like Unix times.

    A ``user timestamp`` file reads as pairs, and every time becomes an item seen about once.
    The rule fires only when all of: the second column of the 2-column lines holds integers all
    in one of `TIME_RANGES` (9-10 digits for seconds, 12-13 for milliseconds), at least
    `TIME_ITEMS_MIN_ROWS` rows, and at least `TIME_ITEMS_MIN_DISTINCT` of the rows with a value of
    their own. Real item ids repeat across users; ``--format pairs`` (``layout="pairs"``) reads
    such a file as given.
    """
    column = [t[1] for t in lines.tokens if len(t) == 2]
    if len(column) < TIME_ITEMS_MIN_ROWS or not all(t.isdigit() for t in column):
        return
    values = np.array(column, dtype=np.float64)
    lo, hi = values.min(), values.max()
    ranges = [r for r in TIME_RANGES if r[0] <= lo and hi < r[1]]
    distinct = np.unique(values).size
    if not ranges or distinct < TIME_ITEMS_MIN_DISTINCT * values.size:
        return
    scale = 1000 if ranges[0][0] > TIME_RANGES[0][0] else 1
    span = np.array([lo // scale, hi // scale], dtype="datetime64[s]").astype("datetime64[D]")
    raise DataValidationError(
        f"{lines.path}: the second column looks like Unix times{' in ms' if scale > 1 else ''}, "
        f"not item ids: integers from {lo:.0f} to {hi:.0f} ({span[0]} .. {span[1]}), and "
        f"{distinct} of the {values.size} rows hold a value of their own, so nearly every "
        f"'item' would be seen once. A user-time file has no item column: give a file with "
        f"one (user item time, read as uit); if these are item ids, pass --format pairs"
    )


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
    notes.append(
        f"{what} ids reach {top:,} but only {raw.size:,} distinct ones appear: remapped "
        f"to 0..{raw.size - 1:,} in increasing order (raw ids in data.{what}_ids)"
    )
    return raw


def _drop_label_zero(
    parsed: dict[str, ParsedFile], weights: dict[str, np.ndarray], notes: list[str]
) -> dict[str, np.ndarray]:
    """Reads a third column of only 0 and 1 as labels: keeps the rows labelled 1.

    A ``user item label`` file (as `RandomLinkSplit` writes, or a click log with
    non-clicks) marks negatives with 0; keeping them as positives doubled the data with
    interactions that never happened. `from_hetero` reads 0/1 ``edge_label`` the same way.
    ``--min-rating 0`` keeps every row.
    """
    for part, w in list(weights.items()):
        if w.size and bool(((w == 0) | (w == 1)).all()):
            f, keep = parsed[part], w == 1
            notes.append(
                f"part {part!r}: the third column holds only 0 and 1, read as labels: dropped "
                f"the {int((~keep).sum())} rows labelled 0 (negatives), kept {int(keep.sum())}; "
                f"pass --min-rating 0 (min_rating=0) to keep every row"
            )
            parsed[part] = ParsedFile(
                f.users[keep],
                f.items[keep],
                f.heads,
                None,
                None if f.time is None else f.time[keep],
            )
            del weights[part]
    return weights


def _load_presplit(
    files: dict[str, Path],
    format: str,
    *,
    on_bad_line: OnBadLine,
    min_rating: float | None,
    name: str | None,
    num_users: int | None,
    num_items: int | None,
) -> InteractionData:
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
            raise DataValidationError(
                f"--min-rating {min_rating:g} (min_rating=) needs a weight or rating column, "
                f"which {', '.join(missing)} lack(s) (or hold a constant)"
            )
        for part, f in parsed.items():
            keep = f.weight >= min_rating
            notes.append(
                f"part {part!r}: kept the {int(keep.sum())} of {keep.size} interactions "
                f"with weight >= {min_rating:g}"
            )
            parsed[part] = ParsedFile(
                f.users[keep],
                f.items[keep],
                f.heads,
                f.weight[keep],
                None if f.time is None else f.time[keep],
            )
        weights = {p: f.weight for p, f in parsed.items()}
    else:
        weights = _drop_label_zero(parsed, weights, notes)
    user_ids = item_ids = None
    if num_users is None:
        user_ids = _compact([a for f in parsed.values() for a in (f.users, f.heads)], "user", notes)
    if num_items is None:
        item_ids = _compact([f.items for f in parsed.values()], "item", notes)
    max_user = max(
        (int(a.max()) for f in parsed.values() for a in (f.users, f.heads) if a.size), default=-1
    )
    max_item = max((int(f.items.max()) for f in parsed.values() if f.items.size), default=-1)
    for what, given, top in (
        ("num_users", num_users, max_user),
        ("num_items", num_items, max_item),
    ):
        if given is not None and top >= given:
            raise DataValidationError(f"{what}={given}, but the files hold id {top}")
    U = max_user + 1 if num_users is None else int(num_users)
    I = max_item + 1 if num_items is None else int(num_items)
    times = {p: f.time for p, f in parsed.items() if f.time is not None}
    data = _finish(
        {p: (f.users, f.items) for p, f in parsed.items()},
        U,
        I,
        name=name or _default_name(train),
        files=files,
        timestamps=times,
        weights=weights,
        notes=notes,
    )
    if user_ids is not None:
        data.user_ids = user_ids
    if item_ids is not None:
        data.item_ids = item_ids
    data.loaded_as = "; ".join(f"{files[p].name} as {layout}" for p, layout in layouts.items())
    return data


def _files(
    train_path: PathLike, test_path: PathLike | None, val_path: PathLike | None
) -> dict[str, Path]:
    files = {"train": Path(train_path)}
    if val_path is not None:
        files["val"] = Path(val_path)
    if test_path is not None:
        files["test"] = Path(test_path)
    return files


def load_lightgcn(
    train_path: PathLike,
    test_path: PathLike | None = None,
    *,
    val_path: PathLike | None = None,
    name: str | None = None,
    num_users: int | None = None,
    num_items: int | None = None,
    on_bad_line: OnBadLine = "error",
) -> InteractionData:
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
    return _load_presplit(
        _files(train_path, test_path, val_path),
        "lightgcn",
        on_bad_line=on_bad_line,
        min_rating=None,
        name=name,
        num_users=num_users,
        num_items=num_items,
    )


def load_pairs(
    train_path: PathLike,
    test_path: PathLike | None = None,
    *,
    val_path: PathLike | None = None,
    name: str | None = None,
    num_users: int | None = None,
    num_items: int | None = None,
    layout: str = "auto",
    min_rating: float | None = None,
    on_bad_line: OnBadLine = "error",
) -> InteractionData:
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
        raise ValueError(
            f"unknown layout {layout!r}; choose from auto, {', '.join(COLUMN_FORMATS)}"
        )
    return _load_presplit(
        _files(train_path, test_path, val_path),
        "columns" if layout == "auto" else layout,
        on_bad_line=on_bad_line,
        min_rating=min_rating,
        name=name,
        num_users=num_users,
        num_items=num_items,
    )


__all__ = ["load_lightgcn", "load_pairs"]
