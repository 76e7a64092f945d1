"""One call from a data specification to a split dataset: what the CLI and the Optuna objective use."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pyg_negdiff.data.interactions import InteractionData

Shift = Literal["auto", "none", "random", "popularity", "temporal", "exposure", "mixed"]

#: Names accepted by `prepare_data` besides file paths.
BUILTIN = ("synthetic", "ml-100k", "ml-1m", "coat", "yahoo-r3")
#: Built-in datasets whose test part was collected under random exposure.
EXPOSURE_DATASETS = ("coat", "yahoo-r3")


def load(spec: str, *, format: str = "auto", root: str | Path | None = None,
         seed: int = 0) -> InteractionData:
    """Loads ``spec``: ``"synthetic"``, a built-in dataset name, or a file/directory path.

    Built-in names are read from ``root`` (default: `pyg_negdiff.data.io.default_data_root`);
    nothing is ever downloaded.
    """
    from pyg_negdiff.data.io import load_builtin, load_dataset

    if spec == "synthetic":
        from pyg_negdiff.data.synthetic import make_synthetic

        return make_synthetic(seed=seed)
    if spec in BUILTIN:
        return load_builtin(spec, root=root)
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(
            f"{spec!r} is neither a file nor a directory, nor one of {', '.join(BUILTIN)}")
    return load_dataset(path, format=format)


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
    fn = {"random": splits.split_random, "popularity": splits.split_popularity,
          "temporal": splits.split_temporal, "exposure": splits.split_exposure,
          "mixed": splits.split_mixed}.get(shift)
    if fn is None:
        raise ValueError(f"unknown shift {shift!r}")
    return fn(data, seed=seed)


def prepare_data(spec: str = "synthetic", *, shift: Shift = "auto", format: str = "auto",
                 root: str | Path | None = None, seed: int = 0) -> InteractionData:
    """`load` then `split`: the data stage of the pipeline in one call.

    Args:
        spec (str): ``"synthetic"``, a built-in dataset name (`BUILTIN`), or a file or
            folder path (read by `pyg_negdiff.data.io.load_dataset`).
        shift (str): The split: ``"auto"`` (see `split`), ``"none"`` (the parts as
            loaded), ``"random"``, ``"popularity"``, ``"temporal"``, ``"exposure"``
            or ``"mixed"``.
        format (str): File format of a path ``spec``: ``"auto"``, ``"lightgcn"``,
            ``"pairs"``, ``"recbole"`` or ``"csv"`` (ignored for built-in names).
        root (str or os.PathLike, optional): Folder of the built-in datasets
            (default: `pyg_negdiff.data.io.default_data_root`).
        seed (int): Seed of the synthetic data and of the split.

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
    return split(load(spec, format=format, root=root, seed=seed), shift, seed=seed)
