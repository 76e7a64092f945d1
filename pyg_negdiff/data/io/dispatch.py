r"""`load_dataset`: the loader a path calls for, from its name, its header or its lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pyg_negdiff.data.folders import split_files
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.io.common import PathLike
from pyg_negdiff.data.io.csvfile import load_csv
from pyg_negdiff.data.io.recbole import load_recbole
from pyg_negdiff.data.io.text import _load_presplit
from pyg_negdiff.data.layout import COLUMN_FORMATS, detect_layout

Format = Literal["auto", "lightgcn", "pairs", "uiw", "uit", "uirt", "recbole", "csv"]
#: The values of ``format`` (and ``--format``).
FORMATS = ("auto", "lightgcn", *COLUMN_FORMATS, "recbole", "csv")


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
_CSV_ONLY = ("user_col", "item_col", "time_col", "rating_col", "sep", "encoding")


def _load_text(files: dict[str, Path], format: str, kwargs: dict[str, Any]) -> InteractionData:
    """Pre-split whitespace-separated files with the `_load_presplit` options in ``kwargs``."""
    misplaced = [k for k in _CSV_ONLY if k in kwargs]
    if misplaced:
        names = ", ".join("--" + k.replace("_", "-") + f" ({k}=)" for k in misplaced)
        raise ValueError(
            f"{names} only apply to CSV files; "
            f"{files['train']} is read as whitespace-separated ids"
        )
    options = {
        "on_bad_line": "error",
        "min_rating": None,
        "name": None,
        "num_users": None,
        "num_items": None,
    }
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
                raise ValueError(
                    f"{path} holds several {suffix} files "
                    f"({', '.join(f.name for f in hits)}): pass one of them"
                )
        raise ValueError(
            f"{path}: found no train.txt, .inter or .csv file to load"
            + ("" if format == "auto" else f" as {format!r}")
        )
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


__all__ = ["FORMATS", "Format", "load_dataset", "sniff_format"]
