r"""PyG's recommender datasets by name, through `torch_geometric.datasets`.

| name | PyG class | raw files in ``root/raw`` | parts |
|---|---|---|---|
| ``"amazon-book"`` | `AmazonBook` | ``user_list.txt``, ``item_list.txt``, ``train.txt``, ``test.txt`` | ``"train"``, ``"test"`` |
| ``"movielens-100k"`` | `MovieLens100K` | ``u.item``, ``u.user``, ``u1.base``, ``u1.test`` | ``"train"``, ``"test"`` (ratings $\ge 4$) |
| ``"movielens-1m"`` | `MovieLens1M` | ``movies.dat``, ``users.dat``, ``ratings.dat`` | ``"train"`` (ratings $\ge 4$, with times) |

PyG's own layout is used unchanged: ``root`` holds ``raw/`` and ``processed/``, PyG
downloads the raw files when they are missing and the network allows, and processes them
once (PyG's processing reads them with pandas). Offline, raw files already in
``root/raw`` are used; otherwise the load fails with `DatasetUnavailableError`, whose one
line says where to put which files. The graph is read back with
`pyg_negdiff.data.hetero.from_hetero`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pyg_negdiff.data.hetero import from_hetero
from pyg_negdiff.data.interactions import InteractionData

__all__ = ["PYG_DATASETS", "DatasetUnavailableError", "load_pyg_dataset"]

#: Name -> (class name in `torch_geometric.datasets`, item node type, default ``min_rating``).
PYG_DATASETS: dict[str, tuple[str, str, float | None]] = {
    "amazon-book": ("AmazonBook", "book", None),
    "movielens-100k": ("MovieLens100K", "movie", 4.0),
    "movielens-1m": ("MovieLens1M", "movie", 4.0),
}


class DatasetUnavailableError(FileNotFoundError):
    """A named dataset that is neither on disk nor downloadable: the message says where to put it."""


def load_pyg_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    min_rating: float | None | Literal["default"] = "default",
    force_reload: bool = False,
) -> InteractionData:
    r"""Loads one of `PYG_DATASETS` through its `torch_geometric.datasets` class.

    Args:
        name (str): ``"amazon-book"``, ``"movielens-100k"`` or ``"movielens-1m"``.
        root (str or os.PathLike, optional): PyG's ``root`` of the dataset, holding
            ``raw/`` and ``processed/`` (default: ``name`` inside
            `pyg_negdiff.data.io.default_data_root`).
        min_rating (float, optional): Keep ratings $\ge$ this (default: 4 for the
            MovieLens sets, which rate 1 to 5; ``None`` keeps every rating).
        force_reload (bool): Process the raw files again.

    Returns:
        InteractionData: The dataset, named ``name``.

    Raises:
        DatasetUnavailableError: When the raw files are missing and cannot be downloaded.
        ImportError: When pandas, which PyG's processing needs, is not installed.
    """
    from pyg_negdiff.data.io import default_data_root

    if name not in PYG_DATASETS:
        raise ValueError(f"unknown PyG dataset {name!r}; choose from {', '.join(PYG_DATASETS)}")
    cls_name, item_type, default_rating = PYG_DATASETS[name]
    import torch_geometric.datasets as pyg_datasets

    cls = getattr(pyg_datasets, cls_name)
    folder = Path(root) if root is not None else default_data_root() / name
    try:
        import pandas  # noqa: F401  (PyG's process() imports it; say so before any download)
    except ImportError:
        raise ImportError(
            f"{name}: PyG processes {cls_name} with pandas: pip install pandas"
        ) from None
    try:
        dataset = cls(str(folder), force_reload=force_reload)
    except OSError as exc:  # urllib's URLError is an OSError: no network, or no such host
        raw = (
            cls.raw_file_names.fget(None)
            if isinstance(cls.raw_file_names, property)
            else cls.raw_file_names
        )
        raise DatasetUnavailableError(
            f"{name}: the raw files are not in {folder / 'raw'} and could not be downloaded "
            f"({type(exc).__name__}: {exc}); put {', '.join(raw)} there (PyG's raw layout of "
            f"{cls_name}, from {cls.url}) and run again"
        ) from None
    rating = default_rating if min_rating == "default" else min_rating
    return from_hetero(
        dataset[0], edge_type=("user", "rates", item_type), min_rating=rating, name=name
    )
