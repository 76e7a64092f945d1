"""One call from a data specification to a split dataset: what the CLI and the Optuna objective use."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.pyg_datasets import PYG_DATASETS

Shift = Literal[
    "auto", "none", "holdout", "random", "popularity", "longtail", "temporal", "exposure", "mixed"
]

#: Names accepted by `prepare_data` besides file paths: ours, then PyG's (`PYG_DATASETS`).
BUILTIN = ("synthetic", "ml-100k", "ml-1m", "coat", "yahoo-r3", *PYG_DATASETS)
#: Loading options that the named datasets accept (the others are for files).
_NAMED_OPTIONS = {"min_rating", "on_bad_line"}
#: Built-in datasets whose test part was collected under random exposure.
EXPOSURE_DATASETS = ("coat", "yahoo-r3")


def load(
    spec: str,
    *,
    format: str = "auto",
    root: str | Path | None = None,
    seed: int = 0,
    **options: Any,
) -> InteractionData:
    """Loads ``spec``: ``"synthetic"``, a built-in dataset name, or a file/directory path.

    Our built-in names are read from ``root`` (default:
    `pyg_negdiff.data.io.default_data_root`) and never downloaded; PyG's names
    (`pyg_negdiff.data.pyg_datasets`) use ``root/name`` as PyG's ``root``.

    Args:
        spec (str): ``"synthetic"``, a name in `BUILTIN`, or a path.
        format (str): File format of a path (see `pyg_negdiff.data.io.load_dataset`).
        root (str or os.PathLike, optional): Folder of the named datasets.
        seed (int): Seed of the synthetic data.
        **options: Loading options for a path (``on_bad_line``, ``min_rating``, the CSV
            column options); the named datasets take ``min_rating`` and ``on_bad_line``.

    Returns:
        InteractionData: The data as loaded, before any split.
    """
    from pyg_negdiff.data.io import load_builtin, load_dataset

    if spec in BUILTIN:
        misplaced = sorted(set(options) - _NAMED_OPTIONS)
        if misplaced or (spec == "synthetic" and options):
            raise ValueError(
                f"{', '.join(misplaced or sorted(options))}: not an option of the "
                f"named dataset {spec!r} (only of files)"
            )
    if spec == "synthetic":
        from pyg_negdiff.data.synthetic import make_synthetic

        return make_synthetic(seed=seed)
    if spec in PYG_DATASETS:
        from pyg_negdiff.data.pyg_datasets import load_pyg_dataset

        options.pop("on_bad_line", None)  # PyG parses the raw files itself
        return load_pyg_dataset(spec, None if root is None else Path(root) / spec, **options)
    if spec in BUILTIN:
        return load_builtin(spec, root=root, **options)
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(
            f"{spec!r} is neither a file nor a directory, nor one of {', '.join(BUILTIN)}"
        )
    return load_dataset(path, format=format, **options)


def load_report(data: InteractionData) -> list[str]:
    """How ``data`` was read, in lines for the user: the format chosen and why, the parts' files.

    Args:
        data (InteractionData): What `load` returned (a split's result carries no report).

    Returns:
        list[str]: ``"format: ..."`` and, for a split folder, ``"parts: ..."``.
    """
    lines = []
    if getattr(data, "loaded_as", None):
        lines.append(f"format: {data.loaded_as}")
    if getattr(data, "part_files", None):
        lines.append(f"parts: {data.part_files}")
    return lines


def split(data: InteractionData, shift: Shift = "auto", *, seed: int = 0) -> InteractionData:
    r"""Applies a distribution-shift split (see `pyg_negdiff.data.splits`).

    ``"auto"`` keeps data that already has a validation part (the synthetic set),
    uses the exposure split for the datasets whose test part was exposed at
    random (Coat, Yahoo!R3), carves a validation part out of the training part
    of other pre-split data (ML-1M: the published test stays the test), and
    otherwise makes a seeded random split. ``"none"`` keeps the parts as loaded.
    """
    from pyg_negdiff.data import splits

    if shift == "auto":
        if "val" in data.parts:
            return data
        if "test" in data.parts:
            shift = "exposure" if data.name in EXPOSURE_DATASETS else "holdout"
        else:
            shift = "random"
    if shift == "holdout":
        return splits.carve_validation(data, seed=seed)
    if shift == "none":
        return data
    fn = SHIFTS.get(shift)
    if fn is None:
        raise ValueError(f"unknown shift {shift!r}")
    return fn(data, seed=seed)


def _longtail(data: InteractionData, seed: int = 0) -> InteractionData:
    from pyg_negdiff.data.splits import split_popularity

    return split_popularity(data, seed=seed, ood_items="tail")


def _lazy(name: str):
    def split(data: InteractionData, seed: int = 0) -> InteractionData:
        from pyg_negdiff.data import splits

        return getattr(splits, name)(data, seed=seed)

    split.__name__ = name
    return split


#: ``--shift`` name -> the split it applies with its defaults (``"auto"``, ``"none"`` and
#: ``"holdout"`` are handled by `split`). ``"longtail"`` is `split_popularity` with a long-tail
#: OOD test (``ood_items="tail"``).
SHIFTS = {
    "random": _lazy("split_random"),
    "popularity": _lazy("split_popularity"),
    "longtail": _longtail,
    "temporal": _lazy("split_temporal"),
    "exposure": _lazy("split_exposure"),
    "mixed": _lazy("split_mixed"),
}


def prepare_data(
    spec: str = "synthetic",
    *,
    shift: Shift = "auto",
    format: str = "auto",
    root: str | Path | None = None,
    seed: int = 0,
    **options: Any,
) -> InteractionData:
    """`load` then `split`: the data stage of the pipeline in one call.

    Args:
        spec (str): ``"synthetic"``, a built-in dataset name (`BUILTIN`), or a file or
            folder path (read by `pyg_negdiff.data.io.load_dataset`).
        shift (str): The split: ``"auto"`` (see `split`), ``"none"`` (the parts as
            loaded), ``"holdout"``, ``"random"``, ``"popularity"``, ``"longtail"``
            (a popularity split whose OOD test holds only items outside the top
            third), ``"temporal"``, ``"exposure"`` or ``"mixed"``.
        format (str): File format of a path ``spec``: ``"auto"``, ``"lightgcn"``,
            ``"pairs"``, ``"uiw"``, ``"uit"``, ``"uirt"``, ``"recbole"`` or ``"csv"``
            (ignored for built-in names).
        root (str or os.PathLike, optional): Folder of the built-in datasets
            (default: `pyg_negdiff.data.io.default_data_root`).
        seed (int): Seed of the synthetic data and of the split.
        **options: Loading options, passed to `load`.

    Returns:
        InteractionData: The split dataset.

    Raises:
        FileNotFoundError: When ``spec`` is neither a known name nor an existing path.
        ValueError: On an unknown ``shift``.

    Examples:
        >>> data = prepare_data("synthetic", seed=0)
        >>> sorted(data.parts)
        ['test', 'test_ood', 'train', 'val']
    """
    return split(load(spec, format=format, root=root, seed=seed, **options), shift, seed=seed)
