r"""The built-in datasets: what files each is, where they are looked for, and how they load."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.io.common import PathLike
from pyg_negdiff.data.io.recbole import load_recbole
from pyg_negdiff.data.io.text import load_lightgcn, load_pairs

#: Environment variable that points at the folder holding the built-in datasets.
DATA_ENV_VAR = "PYG_NEGDIFF_DATA"
#: Built-in dataset name -> (format, files relative to the dataset folder, loader defaults).
BUILTIN_FILES: dict[str, tuple[str, tuple[str, ...], dict[str, Any]]] = {
    "ml-100k": ("recbole", ("ml-100k.inter",), {"min_rating": 4.0}),
    "ml-1m": ("lightgcn", ("train.txt", "test.txt"), {}),
    "coat": ("pairs", ("train.txt", "test.txt"), {}),
    "yahoo-r3": ("pairs", ("train.txt", "test.txt"), {}),
}


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
        beside_checkout = Path(__file__).resolve().parents[4] / "shared" / "data"
        if beside_checkout.is_dir():
            return beside_checkout
    return root


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
        raise ValueError(
            f"unknown built-in dataset {name!r}; choose from {', '.join(BUILTIN_FILES)}"
        )
    kind, names, defaults = BUILTIN_FILES[name]
    folder = (Path(root) if root is not None else default_data_root()) / name
    files = [folder / n for n in names]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(
            f"built-in dataset {name!r} not found: missing {', '.join(map(str, missing))}. "
            f"Put the files there, or point ${DATA_ENV_VAR} (or root=) at the folder that "
            f"holds {name}/; nothing is downloaded."
        )
    options = {**defaults, **kwargs, "name": name}
    if kind == "recbole":
        data = load_recbole(files[0], **options)
    else:
        loader = load_lightgcn if kind == "lightgcn" else load_pairs
        data = loader(*files, **options)
    data.loaded_as = f"{name} (built-in): {data.loaded_as}"
    return data


__all__ = ["BUILTIN_FILES", "DATA_ENV_VAR", "default_data_root", "load_builtin"]
