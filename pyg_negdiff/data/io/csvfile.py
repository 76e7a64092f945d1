r"""CSV (and other delimited) files with named columns, found by name or given."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from pyg_negdiff.data.interactions import DataValidationError, InteractionData
from pyg_negdiff.data.io.common import PathLike, _check_width, _columns, _from_columns, _locate
from pyg_negdiff.data.layout import OnBadLine

#: Column names that `load_csv` recognises, compared without case, ``_``, ``-`` or spaces.
CSV_COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "user": ("user", "userid", "uid", "customerid", "reviewerid", "users"),
    "item": (
        "item",
        "itemid",
        "iid",
        "movieid",
        "movie",
        "productid",
        "asin",
        "bookid",
        "isbn",
        "businessid",
        "artistid",
        "trackid",
        "songid",
        "items",
    ),
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


def load_csv(
    path: PathLike,
    *,
    user_col: str | None = None,
    item_col: str | None = None,
    time_col: str | None = None,
    rating_col: str | None = None,
    min_rating: float | None = None,
    sep: str = ",",
    name: str | None = None,
    on_bad_line: OnBadLine = "error",
    encoding: str = "utf-8-sig",
) -> InteractionData:
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
        encoding (str): The file's text encoding (default: UTF-8, with or without a
            byte-order mark), e.g. ``"latin-1"`` or ``"cp1252"``.
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
    try:
        with path.open(newline="", encoding=encoding) as f:
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
    except UnicodeDecodeError as exc:
        raise DataValidationError(
            f"{path}: not {'UTF-8' if encoding == 'utf-8-sig' else encoding} text (it holds "
            f"the byte 0x{exc.object[exc.start]:02x}, which that encoding cannot read); pass the file's encoding with --encoding (e.g. "
            f"--encoding latin-1; encoding= in Python), or convert the file to UTF-8"
        ) from None
    except LookupError:
        raise ValueError(
            f"--encoding {encoding}: unknown text encoding; use e.g. utf-8, latin-1 or cp1252"
        ) from None
    if header is None:
        raise DataValidationError(f"{path}: the file is empty")
    if len(header) == 1:
        other = next((c for c in (",", ";", "\t", "|", " ") if c != sep and c in header[0]), None)
        raise DataValidationError(
            f"{path}, line {header_line}: the header has one column with sep={sep!r}"
            + (f"; the file looks separated by {other!r}: pass --sep {other!r}" if other else "")
        )
    by_name = []
    wanted = {
        "user": user_col,
        "item": item_col,
        "time": time_col,
        "rating": rating_col if rating_col is not None or min_rating is not None else "",
    }
    for role, given in wanted.items():
        if given is None:
            wanted[role] = _by_name(header, role)
            if wanted[role] is not None:
                by_name.append(role)
            elif role in ("user", "item"):
                raise DataValidationError(
                    f"{path}, line {header_line}: no {role} column among {', '.join(header)}; "
                    f"name it with --{role}-col ({role}_col=)"
                )
            elif role == "rating":
                raise ValueError(
                    f"--min-rating {min_rating:g} (min_rating=) needs --rating-col (rating_col=), the "
                    f"column to threshold; none of {', '.join(header)} is named like one"
                )
    columns = {role: (col or None) for role, col in wanted.items()}
    where = _locate(header, columns, path, header_line=header_line)
    lineno = np.array(numbers, dtype=np.int64)
    notes: list[str] = []
    unused = _by_name(header, "rating") if wanted["rating"] == "" else None
    if unused is not None:  # CSV ratings are not thresholded by default: say so
        notes.append(
            f"column {unused!r} looks like ratings and is not used: every row is kept as an "
            f"interaction; pass --min-rating 4 (min_rating=4) to keep only ratings >= 4"
        )
    keep = _check_width(
        np.fromiter(map(len, rows), dtype=np.int64, count=len(rows)),
        len(header),
        lineno,
        path,
        on_bad_line,
        notes,
    )
    if keep is not None:
        rows, lineno = [r for r, k in zip(rows, keep) if k], lineno[keep]
    if not rows:
        raise DataValidationError(f"{path}, line {header_line}: a header but no rows")
    cells = np.array(rows, dtype=str)
    return _from_columns(
        path,
        *_columns(cells, where, strip=True),
        lineno,
        min_rating=min_rating,
        columns=columns,
        name=name,
        kind="csv",
        notes=notes,
        by_name=by_name,
    )


__all__ = ["CSV_COLUMN_NAMES", "load_csv"]
