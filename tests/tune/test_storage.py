"""Storage and study are two modules; tune.study keeps every name it had."""

from pathlib import Path

from pyg_negdiff.tune import storage, study


def test_the_storage_names_are_still_importable_from_study():
    for name in storage.__all__:
        assert getattr(study, name) is getattr(storage, name), name


def test_the_default_storage_is_a_sqlite_file(tmp_path):
    url = storage.default_storage(tmp_path / "runs" / "x.db")
    assert url.startswith("sqlite:///") and (tmp_path / "runs").is_dir()
    assert Path(url[len("sqlite:///") :]).name == "x.db"
    assert "secret" not in storage.mask_url("postgresql://me:secret@db/optuna")
