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

# Every name the single-module `io.py` had stays importable from here.
from pyg_negdiff.data.io.builtin import (
    BUILTIN_FILES,
    DATA_ENV_VAR,
    default_data_root,
    load_builtin,
)  # noqa: F401
from pyg_negdiff.data.io.common import REMAP_MIN_IDS, REMAP_RATIO, PathLike  # noqa: F401
from pyg_negdiff.data.io.csvfile import CSV_COLUMN_NAMES, load_csv  # noqa: F401
from pyg_negdiff.data.io.dispatch import FORMATS, Format, load_dataset, sniff_format  # noqa: F401
from pyg_negdiff.data.io.recbole import load_recbole
from pyg_negdiff.data.io.text import load_lightgcn, load_pairs

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
