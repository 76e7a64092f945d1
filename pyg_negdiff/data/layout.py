r"""Which layout a whitespace-separated id file has, decided from the whole file.

Public recommendation code ships interactions as plain text in several layouts that
look alike. Read with the wrong one, a file loads without error but means something
else (``user item 1`` read as adjacency lists makes item 1 a positive of every user;
``user item timestamp`` makes every timestamp an item id). `detect_layout` therefore
looks at every line, and refuses a file it cannot tell, rather than guess:

| format | one line | told apart by |
|---|---|---|
| ``"lightgcn"`` | ``user item item ...`` | every line starts with a different user; line lengths vary |
| ``"pairs"`` | ``user item`` | two columns |
| ``"uiw"`` | ``user item weight`` | three columns; the third a constant, a rating or a count |
| ``"uit"`` | ``user item time`` | three columns; the third integers $\ge 10^8$ (Unix seconds or milliseconds) |
| ``"uirt"`` | ``user item rating time`` | four columns; the fourth Unix times |

Users repeat across the lines of a column layout, and its lines share one width; a few
lines of another width are *malformed*: they raise `MalformedLineError` naming the line,
or, with ``on_bad_line="skip"``, are skipped with a note that counts them.

Examples:
    >>> import tempfile
    >>> from pathlib import Path
    >>> f = Path(tempfile.mkdtemp()) / "train.txt"
    >>> _ = f.write_text("0 5 1\n0 7 1\n1 5 1\n")
    >>> print(detect_layout(f))
    uiw: 3 columns, users repeat across lines; column 3 is always 1 (a constant weight, dropped)
    >>> _ = f.write_text("0 5 881250949\n0 7 891717742\n1 5 878887116\n")
    >>> detect_layout(f).format
    'uit'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from pyg_negdiff.data.interactions import DataValidationError

__all__ = [
    "AmbiguousFormatError",
    "COLUMN_FORMATS",
    "Layout",
    "MalformedLineError",
    "TextLines",
    "detect_layout",
    "read_lines",
]

OnBadLine = Literal["error", "skip"]
#: Column layouts: format -> what each column holds.
COLUMN_FORMATS: dict[str, tuple[str, ...]] = {
    "pairs": ("user", "item"),
    "uiw": ("user", "item", "weight"),
    "uit": ("user", "item", "time"),
    "uirt": ("user", "item", "weight", "time"),
}
_WIDTHS = tuple(len(c) for c in COLUMN_FORMATS.values())
#: The smallest integer read as a Unix time: $10^8$ s is 1973-03-03.
MIN_UNIX_TIME = 10**8
#: With users repeating, the most common line width must cover this share of the lines.
_MIN_SHARE = 0.5
_FORMATS_HINT = "pass --format (format= in Python): lightgcn, pairs, uiw, uit or uirt"


class AmbiguousFormatError(DataValidationError):
    """A file that more than one layout could explain: the message names ``--format``."""


class MalformedLineError(DataValidationError):
    """A line that does not fit the file's layout: the message names the file and line."""


@dataclass(frozen=True)
class Layout:
    """A file's layout and the reason it was chosen, in words.

    Args:
        format (str): ``"lightgcn"`` or a key of `COLUMN_FORMATS`.
        reason (str): Why, for the one-line report of the load.
    """

    format: str
    reason: str

    def __str__(self) -> str:
        return f"{self.format}: {self.reason}"


@dataclass
class TextLines:
    """The non-empty lines of a text file, split on whitespace.

    Args:
        path (pathlib.Path): The file.
        tokens (list[list[str]]): The tokens of each non-empty line.
        lineno (numpy.ndarray): The 1-based line number of each, ``int64``.
    """

    path: Path
    tokens: list[list[str]]
    lineno: np.ndarray

    @property
    def widths(self) -> np.ndarray:
        """The number of tokens of every line, ``int64``."""
        return np.fromiter(map(len, self.tokens), dtype=np.int64, count=len(self.tokens))

    def show(self, k: int) -> str:
        """Line ``k`` as it reads, for messages.

        Args:
            k (int): 0-based index among the non-empty lines.

        Returns:
            str: The line's tokens, joined by spaces and quoted.
        """
        return repr(" ".join(self.tokens[k]))


def read_lines(path: str | os.PathLike) -> TextLines:
    """Reads a UTF-8 text file (a byte-order mark is dropped) into `TextLines`.

    Args:
        path (str or os.PathLike): The file.

    Returns:
        TextLines: Its non-empty lines.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataValidationError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); convert it to UTF-8 "
            f"(e.g. iconv -f latin1 -t utf-8), or save it as CSV and pass --encoding"
        ) from None
    split = [line.split() for line in text.split("\n")]
    lineno = np.fromiter((n for n, t in enumerate(split, start=1) if t), dtype=np.int64)
    return TextLines(path, [t for t in split if t], lineno)


def _numbers(column: list[str]) -> np.ndarray:
    """The tokens as floats; those that are not numbers become NaN."""
    try:
        return np.array(column, dtype=np.float64)
    except ValueError:
        out = np.full(len(column), np.nan)
        for k, tok in enumerate(column):
            try:
                out[k] = float(tok)
            except ValueError:
                pass
        return out


def _describe(values: np.ndarray, j: int) -> tuple[str, str]:
    """``(kind, words)`` for column ``j`` (1-based): ``"constant"``, ``"time"``, ``"weight"`` or ``"ids"``."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return "none", f"column {j} holds no numbers"
    lo, hi = values.min(), values.max()
    integer = bool((values == np.round(values)).all())
    if lo == hi:
        return "constant", f"column {j} is always {lo:g}"
    if integer and lo >= MIN_UNIX_TIME:
        scale = 1000 if lo >= 1000 * MIN_UNIX_TIME else 1  # milliseconds
        span = np.array([lo // scale, hi // scale], dtype="datetime64[s]").astype("datetime64[D]")
        return "time", (
            f"column {j} holds integers from {lo:.0f} to {hi:.0f}: Unix times"
            f"{' in ms' if scale > 1 else ''} ({span[0]} .. {span[1]})"
        )
    distinct = np.unique(values).size
    if not integer:
        return (
            "weight",
            f"column {j} holds {distinct} distinct non-integer values from {lo:g} to {hi:g}",
        )
    return "ids", f"column {j} holds {distinct} distinct integers from {lo:.0f} to {hi:.0f}"


def column_layout(lines: TextLines, width: int, *, users_repeat: bool = True) -> Layout | None:
    """The column layout of ``width`` columns that the lines of that width fit, if any.

    Args:
        lines (TextLines): The file.
        width (int): 2, 3 or 4.
        users_repeat (bool): Whether users repeat across lines. When they do not, the
            file could also be adjacency lists, so integers below $10^8$ in the last
            column (item ids or counts?) leave the layout undecided.

    Returns:
        Layout or None: ``None`` when no column layout explains the lines.
    """
    if width == 2:
        return Layout("pairs", "2 columns (user item)")
    rows = [t for t in lines.tokens if len(t) == width]
    last = _describe(_numbers([t[-1] for t in rows]), width)
    head = (
        f"{width} columns, {'users repeat across lines' if users_repeat else 'one line per user'}"
    )
    if width == 3:
        kind, words = last
        if kind == "constant":
            return Layout("uiw", f"{head}; {words} (a constant weight, dropped)")
        if kind == "time":
            return Layout("uit", f"{head}; {words}, kept for the temporal split")
        if kind == "weight" or (kind == "ids" and users_repeat):
            return Layout("uiw", f"{head}; {words}: weights or ratings, kept as data.weights")
        return None
    if width == 4 and last[0] == "time":
        kind, words = _describe(_numbers([t[2] for t in rows]), 3)
        if kind != "time":
            return Layout(
                "uirt",
                f"{head}; {words} (weights or ratings, kept as data.weights); "
                f"{last[1]}, kept for the temporal split",
            )
    return None


def detect_layout(source: str | os.PathLike | TextLines) -> Layout:
    """Decides a whitespace-separated id file's layout from all of its lines.

    - Every line two tokens: ``"pairs"`` (adjacency lists would read the same).
    - Every line starts with a different user and line lengths vary: ``"lightgcn"``.
    - Users repeat across lines and most lines (at least half) share a width of 2, 3
      or 4: that column layout (`column_layout` names the third and fourth columns);
      the other lines are malformed.
    - Anything else is ambiguous: `AmbiguousFormatError`, whose message names ``--format``.

    Args:
        source (str, os.PathLike or TextLines): The file, or its lines.

    Returns:
        Layout: The format and the reason, in words.

    Raises:
        AmbiguousFormatError: When more than one layout (or none) explains the file.
        DataValidationError: When the file holds no data line.
    """
    lines = source if isinstance(source, TextLines) else read_lines(source)
    widths = lines.widths
    n = widths.size
    if n == 0:
        raise DataValidationError(f"{lines.path}: the file holds no data lines")
    if (widths == 2).all():
        return Layout("pairs", "every line has 2 columns (user item)")
    heads = np.array([t[0] for t in lines.tokens])
    users_repeat = np.unique(heads).size < n
    values, counts = np.unique(widths, return_counts=True)
    width, share = int(values[counts.argmax()]), counts.max() / n
    if not users_repeat and values.size > 1:
        return Layout(
            "lightgcn",
            f"each of the {n} lines starts with a different user "
            f"and holds {widths.min() - 1} to {widths.max() - 1} items "
            f"(adjacency lists)",
        )
    if users_repeat and (width not in _WIDTHS or share < _MIN_SHARE):
        raise AmbiguousFormatError(
            f"{lines.path}: cannot tell the format: users repeat across lines (so not one line "
            f"per user, as in adjacency lists), but lines have {values.size} different widths "
            f"({width} columns on {share:.0%} of them); {_FORMATS_HINT}"
        )
    layout = column_layout(lines, width, users_repeat=users_repeat) if width in _WIDTHS else None
    if layout is None:
        raise AmbiguousFormatError(
            f"{lines.path}: cannot tell the format: every line has {width} tokens and starts "
            f"with a different user, so it reads as adjacency lists of {width - 1} items or as "
            f"one ({' '.join(['user', 'item'] + ['?'] * (width - 2))}) row per user; "
            f"{_FORMATS_HINT}"
        )
    if share < 1:
        bad = n - int(counts.max())
        layout = Layout(
            layout.format, f"{layout.reason}; {bad} of the {n} lines have another width"
        )
    return layout


# ------------------------------------------------------------------ parsing
@dataclass
class ParsedFile:
    """The interactions of one file, as ``int64`` / ``float64`` arrays.

    Args:
        users (numpy.ndarray): User id of every interaction.
        items (numpy.ndarray): Item id of every interaction.
        heads (numpy.ndarray): Every user with a line (in adjacency lists, also those
            without items, who still count towards $U$).
        weight (numpy.ndarray, optional): The weight or rating column, unless constant.
        time (numpy.ndarray, optional): The time column.
        notes (list[str]): What was skipped.
    """

    users: np.ndarray
    items: np.ndarray
    heads: np.ndarray
    weight: np.ndarray | None = None
    time: np.ndarray | None = None
    notes: list[str] | None = None


def _id_problem(tok: str) -> str | None:
    try:
        value = int(tok)
    except ValueError:
        return f"{tok!r} is not an integer id"
    if value < 0:
        return f"negative id {value}"
    if value >= 2**63:
        return f"id {tok} does not fit in 64 bits"
    return None


def _number_problem(tok: str, column: str) -> str | None:
    try:
        float(tok)
    except ValueError:
        return f"the {column} column holds {tok!r}, not a number"
    return None


def _as_ids(values: np.ndarray) -> np.ndarray | None:
    """Strings as non-negative ``int64`` ids in one conversion, or ``None`` if any is not one."""
    try:
        ids = values.astype(np.int64)
    except (ValueError, OverflowError):
        return None
    return None if ids.size and int(ids.min()) < 0 else ids


def apply_bad_line_policy(
    path: Path,
    lineno: np.ndarray,
    problems: dict[int, str],
    on_bad_line: OnBadLine,
    notes: list[str],
    *,
    hint: str = "",
) -> set[int]:
    """Raises on the first bad line (``"error"``), or notes how many are skipped (``"skip"``).

    Args:
        path (pathlib.Path): The file, for the message.
        lineno (numpy.ndarray): The 1-based line number of every row.
        problems (dict[int, str]): Row index to what is wrong with it.
        on_bad_line (str): ``"error"`` or ``"skip"``.
        notes (list[str]): Where the note on skipped lines goes.
        hint (str): Appended to the error, when the first bad row suggests a cause.

    Returns:
        set[int]: The rows to skip.
    """
    if on_bad_line not in ("error", "skip"):
        raise ValueError(f"on_bad_line must be 'error' or 'skip', got {on_bad_line!r}")
    if not problems:
        return set()
    ordered = sorted(problems)
    first = ordered[0]
    if on_bad_line == "error":
        raise MalformedLineError(
            f"{path}, line {lineno[first]}: {problems[first]}{hint}; fix the "
            f"file, or skip such lines with --on-bad-line skip"
        )
    shown = ", ".join(str(lineno[k]) for k in ordered[:5]) + (", ..." if len(ordered) > 5 else "")
    notes.append(
        f"skipped {len(ordered)} malformed lines of {path.name} "
        f"(lines {shown}; the first: {problems[first]})"
    )
    return set(ordered)


def _keep_good(
    lines: TextLines, problems: dict[int, str], on_bad_line: OnBadLine, notes: list[str]
) -> set[int]:
    """`apply_bad_line_policy` for a whitespace-separated file."""
    first = min(problems, default=None)
    header = first == 0 and "is not an integer id" in problems[first]
    return apply_bad_line_policy(
        lines.path,
        lines.lineno,
        problems,
        on_bad_line,
        notes,
        hint=(
            " (a header line? a file with one reads with --format csv --sep ' ')" if header else ""
        ),
    )


def parse_columns(lines: TextLines, format: str, on_bad_line: OnBadLine = "error") -> ParsedFile:
    """Reads the lines as the column layout ``format`` (a key of `COLUMN_FORMATS`).

    Args:
        lines (TextLines): The file.
        format (str): ``"pairs"``, ``"uiw"``, ``"uit"`` or ``"uirt"``.
        on_bad_line (str): ``"error"`` raises `MalformedLineError` on the first line of
            another width or with a bad token; ``"skip"`` skips such lines, with a note.

    Returns:
        ParsedFile: ids, and the weight (unless constant) and time columns of the layout.
    """
    names = COLUMN_FORMATS[format]
    width = len(names)
    widths = lines.widths
    problems = {
        int(k): f"expected {width} columns ({' '.join(names)}), got {widths[k]}: "
        f"{lines.show(k)}"
        for k in np.flatnonzero(widths != width)
    }
    good = np.flatnonzero(widths == width)
    cells = np.array([lines.tokens[k] for k in good], dtype=str).reshape(-1, width)
    ids = _as_ids(cells[:, :2])
    extra = [j for j in range(2, width)]
    try:
        numbers = {j: cells[:, j].astype(np.float64) for j in extra}
    except ValueError:
        numbers = None
    if ids is None or numbers is None:  # only now walk the rows to name the bad ones
        for k in good.tolist():
            row = lines.tokens[k]
            found = [_id_problem(tok) for tok in row[:2]]
            found += [_number_problem(row[j], names[j]) for j in extra]
            found = [p for p in found if p]
            if found:
                problems[k] = f"{found[0]}: {lines.show(k)}"
    notes: list[str] = []
    bad = _keep_good(lines, problems, on_bad_line, notes)
    if bad:
        keep = np.array([k not in bad for k in good.tolist()], dtype=bool)
        cells = cells[keep]
    if ids is None or numbers is None or bad:
        ids = cells[:, :2].astype(np.int64)
        numbers = {j: cells[:, j].astype(np.float64) for j in extra}
    columns = dict(zip(names[2:], (numbers[j] for j in extra)))
    weight = columns.get("weight")
    if weight is not None and weight.size and (weight == weight[0]).all():
        weight = None  # a constant (``u i 1``) carries nothing
    users = ids[:, 0].copy()  # one array as users and heads: a remap must see it once
    return ParsedFile(users, ids[:, 1].copy(), users, weight, columns.get("time"), notes)


def parse_lightgcn(lines: TextLines, on_bad_line: OnBadLine = "error") -> ParsedFile:
    """Reads the lines as adjacency lists: ``user item item ...``.

    Args:
        lines (TextLines): The file.
        on_bad_line (str): ``"error"`` or ``"skip"``, for lines with a token that is not
            a non-negative integer (see `parse_columns`).

    Returns:
        ParsedFile: One interaction per (user, listed item).
    """
    tokens = lines.tokens
    values = _as_ids(np.array([tok for line in tokens for tok in line], dtype=str))
    notes: list[str] = []
    if values is None:
        problems = {}
        for k, line in enumerate(tokens):
            found = next((p for p in map(_id_problem, line) if p), None)
            if found:
                problems[k] = found
        bad = _keep_good(lines, problems, on_bad_line, notes)
        tokens = [line for k, line in enumerate(tokens) if k not in bad]
        values = np.array([tok for line in tokens for tok in line], dtype=str).astype(np.int64)
    counts = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    starts = np.zeros(counts.size, dtype=np.int64)
    starts[1:] = np.cumsum(counts)[:-1]
    heads = values[starts]
    is_item = np.ones(values.size, dtype=bool)
    is_item[starts] = False
    return ParsedFile(np.repeat(heads, counts - 1), values[is_item], heads, notes=notes)
