"""Study storage: driver choice for bare URLs, masked secrets, trials killed before their first heartbeat."""

import importlib.util
import time

import optuna
import pytest

from pyg_negdiff.tune import study as study_module
from pyg_negdiff.tune.study import (
    StorageError,
    fail_stale_trials,
    load_study,
    make_storage,
    mask_url,
    resolve_url,
)


@pytest.mark.parametrize(
    "url, hidden",
    [
        ("postgresql://me:s3cr@t/x@db:5432/optuna", ["s3cr@t/x"]),
        (
            "postgresql://db/optuna?user=me&password=p1&sslpassword=p2&passwd=p3&PWD=p4&sslmode=require",
            ["p1", "p2", "p3", "p4"],
        ),
        ("postgresql://me:pa?ss@db/optuna", ["pa?ss"]),
    ],
)
def test_every_password_like_value_is_masked(url, hidden):
    masked = mask_url(url)
    for secret in hidden:
        assert secret not in masked, masked
    assert "***" in masked and masked.startswith("postgresql://")
    assert "sslmode=require" in masked or "sslmode" not in url


def test_bare_postgresql_url_takes_an_installed_driver(monkeypatch):
    installed = {"psycopg2"}
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: object() if name in installed else None
    )
    assert resolve_url("postgresql://u@h/db") == "postgresql+psycopg2://u@h/db"
    installed.add("psycopg")
    assert resolve_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    installed.clear()
    with pytest.raises(StorageError, match="no PostgreSQL driver.*pip install psycopg2-binary"):
        resolve_url("postgresql://u:secret@h/db")
    with pytest.raises(
        StorageError, match="'psycopg2' is not installed; pip install psycopg2-binary"
    ):
        resolve_url("postgresql+psycopg2://u@h/db")
    assert resolve_url("sqlite:///x.db") == "sqlite:///x.db"


def test_unreachable_sqlite_path_is_a_storage_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(
        StorageError, match="cannot open the SQLite study file .*check that its folder"
    ):
        make_storage(f"sqlite:///{tmp_path / 'file' / 'db.sqlite'}")


def test_trial_killed_before_its_first_heartbeat_is_reclaimed(tmp_path):
    storage = make_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat_interval=1, grace_period=2)
    study = load_study("s", storage)
    # ask() creates a RUNNING trial without starting the heartbeat thread: a worker killed
    # between creating its trial and its first heartbeat leaves exactly this behind.
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    assert fail_stale_trials(study) == 0  # not yet older than the grace period
    time.sleep(2.5)
    assert fail_stale_trials(study) == 1
    states = [t.state for t in study.trials]
    assert states[trial.number] == optuna.trial.TrialState.FAIL
    # Its parameters are queued again (the retry callback), so nothing is lost.
    assert optuna.trial.TrialState.WAITING in states
    assert study_module.running_trials(study) == []
