"""The loaders live one module per format; every name of the former single module stays in data.io."""

from pathlib import Path

import pyg_negdiff
from pyg_negdiff.data import io
from pyg_negdiff.data.io import builtin, csvfile, dispatch, recbole, text

OLD_NAMES = [
    "BUILTIN_FILES",
    "CSV_COLUMN_NAMES",
    "DATA_ENV_VAR",
    "FORMATS",
    "Format",
    "PathLike",
    "REMAP_MIN_IDS",
    "REMAP_RATIO",
    "default_data_root",
    "load_builtin",
    "load_csv",
    "load_dataset",
    "load_lightgcn",
    "load_pairs",
    "load_recbole",
    "sniff_format",
]


def test_every_former_name_is_still_importable():
    for name in OLD_NAMES:
        assert hasattr(io, name), name


def test_each_loader_lives_in_its_format_module():
    assert io.load_lightgcn is text.load_lightgcn and io.load_pairs is text.load_pairs
    assert io.load_recbole is recbole.load_recbole and io.load_csv is csvfile.load_csv
    assert io.load_dataset is dispatch.load_dataset and io.load_builtin is builtin.load_builtin


def test_the_data_root_beside_the_checkout_is_still_found(tmp_path, monkeypatch):
    monkeypatch.delenv(io.DATA_ENV_VAR, raising=False)
    (tmp_path / "deep").mkdir()
    monkeypatch.chdir(tmp_path / "deep")  # no ../shared/data here
    beside = Path(pyg_negdiff.__file__).resolve().parents[2] / "shared" / "data"
    expected = beside if beside.is_dir() else (tmp_path / "shared" / "data").resolve()
    assert io.default_data_root() == expected
