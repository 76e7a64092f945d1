r"""Where a study lives: an RDB storage (a SQLite file by default, any RDB URL for many
workers), its URL with the secrets masked, its driver, and a heartbeat that fails the trials
of a killed worker."""

from __future__ import annotations

import importlib.util
import re
import time
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import optuna
import sqlalchemy.exc
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

#: The default storage file, relative to the working directory.
DEFAULT_DB = "runs/pyg_negdiff.db"


class StorageError(ValueError):
    """The study storage cannot be used: a missing driver, an unreachable server, a bad URL.

    The message names the storage with its passwords masked (`mask_url`) and says what to do.
    """


#: Query keys of a storage URL whose value is a secret (matched inside longer names too).
SECRET_KEYS = ("password", "passwd", "pwd", "pass", "secret", "token", "apikey", "api_key")


def mask_url(url: str) -> str:
    """``url`` with every password replaced by ``***``: in the user part and in the query.

    A password may contain ``@`` or ``/``, so everything up to the last ``@`` of
    the authority is hidden; query keys that look like secrets (`SECRET_KEYS`,
    e.g. ``password``, ``passwd``, ``sslpassword``) are masked too.

    Args:
        url (str): A SQLAlchemy URL.

    Returns:
        str: The URL, safe to print.

    Examples:
        >>> mask_url("postgresql://me:s3cr@t@db:5432/optuna?sslpassword=x&sslmode=require&passwd=y")
        'postgresql://***@db:5432/optuna?sslpassword=***&sslmode=require&passwd=***'
    """
    scheme, sep, rest = url.partition("://")
    rest, qmark, query = rest.partition("?")
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    secret = "|".join(SECRET_KEYS)
    query = re.sub(rf"(?i)((?:^|[&;])[^=&;]*(?:{secret})[^=&;]*=)[^&;]*", r"\1***", query)
    masked = scheme + sep + rest + qmark + query
    for leaked in _secrets(url):  # e.g. a password holding "?": never print it, even mangled
        masked = masked.replace(leaked, "***")
    return masked


def _secrets(url: str) -> list[str]:
    """The passwords in ``url`` (to scrub them from driver messages too)."""
    from sqlalchemy.engine import make_url

    found = re.findall(rf"(?i)(?:^|[?&;])[^=&;]*(?:{'|'.join(SECRET_KEYS)})[^=&;]*=([^&;]+)", url)
    try:
        password = make_url(url).password
    except Exception:  # noqa: BLE001 - an unparsable URL is reported elsewhere
        password = None
    return [s for s in [password, *found] if s]


#: Dialect to the driver module SQLAlchemy loads for it by default, and the package that ships it.
_DRIVERS = {
    "postgresql+psycopg": ("psycopg", "psycopg[binary]"),
    "postgresql+psycopg2": ("psycopg2", "psycopg2-binary"),
    "mysql+pymysql": ("pymysql", "PyMySQL"),
    "mysql+mysqldb": ("MySQLdb", "mysqlclient"),
}


def _check_url(url: str) -> None:
    """Refuses a URL SQLAlchemy cannot parse, in words (not "invalid literal for int()")."""
    from sqlalchemy.engine import make_url

    example = "postgresql://user:password@host:5432/database or sqlite:///runs/study.db"
    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018 - parsing the port is what fails for "host:notaport"
    except Exception as exc:  # noqa: BLE001 - ValueError, ArgumentError: the URL's fault
        port = re.search(r"@[^/@]*:([^/@]*)(?:/|$)", url)
        why = (
            f"the port {port.group(1)!r} is not a number"
            if port and not port.group(1).isdigit()
            else str(exc).splitlines()[0] if str(exc) else "it cannot be parsed"
        )
        for secret in _secrets(url):
            why = why.replace(secret, "***")
        raise StorageError(
            f"--storage {mask_url(url)}: not a database URL ({why}); write it as {example}"
        ) from None


def resolve_url(url: str) -> str:
    """Picks an installed driver for a URL without one, and checks that the driver is there.

    SQLAlchemy 2.1 reads ``postgresql://`` as ``postgresql+psycopg://`` (psycopg 3);
    the ``[dev]`` extra installs psycopg2. A bare ``postgresql://`` URL is
    therefore mapped to whichever of the two is installed (psycopg 3 first), with
    a note.

    Args:
        url (str): A SQLAlchemy URL.

    Returns:
        str: The URL to connect with.

    Raises:
        StorageError: When no driver for it is installed (naming the package to install).

    Examples:
        >>> resolve_url("sqlite:///runs/pyg_negdiff.db")
        'sqlite:///runs/pyg_negdiff.db'
    """
    _check_url(url)
    scheme, sep, rest = url.partition("://")
    dialect = scheme.lower()
    if dialect in ("postgresql", "postgres"):
        for driver in ("postgresql+psycopg", "postgresql+psycopg2"):
            if importlib.util.find_spec(_DRIVERS[driver][0]) is not None:
                if driver != "postgresql+psycopg":
                    print(
                        f"note: {scheme}:// storage uses the installed psycopg2 driver ({driver}://)"
                    )
                return driver + sep + rest
        raise StorageError(
            f"storage {mask_url(url)}: no PostgreSQL driver is installed; "
            f"pip install psycopg2-binary (in pyg-negdiff[dev]) or 'psycopg[binary]'"
        )
    if dialect == "mysql":
        dialect = "mysql+mysqldb"
    if dialect in _DRIVERS and importlib.util.find_spec(_DRIVERS[dialect][0]) is None:
        module, package = _DRIVERS[dialect]
        raise StorageError(
            f"storage {mask_url(url)}: its driver {module!r} is not installed; "
            f"pip install {package}"
        )
    return url


def _storage_error(url: str, exc: Exception) -> StorageError:
    """A one-line `StorageError` for a failure to open ``url``, with no secret in it."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = text[0] if text else type(exc).__name__
    for secret in _secrets(url):
        reason = reason.replace(secret, "***")
    if isinstance(exc, ModuleNotFoundError):
        return StorageError(
            f"storage {mask_url(url)}: its driver {exc.name!r} is not installed; "
            f"pip install {exc.name}"
        )
    if url.lower().startswith("sqlite"):  # a file, not a server
        return StorageError(
            f"cannot open the SQLite study file of --storage {mask_url(url)}: {reason}; check "
            f"that its folder exists and can be written, or pass another --storage"
        )
    return StorageError(
        f"cannot open the study storage {mask_url(url)}: {reason}; check that the server "
        f"runs and accepts this URL (host, port, user, database), or pass another --storage"
    )


class HeartbeatStorage(RDBStorage):
    """`optuna.storages.RDBStorage` whose stale trials include those killed before their first heartbeat.

    Optuna fails a RUNNING trial once its last heartbeat is older than the
    grace period, but a trial whose worker died before its first heartbeat has
    none and would stay RUNNING forever. Here such a trial is stale once it
    *started* more than the grace period ago (the heartbeat thread beats as
    soon as the trial starts, so a live trial is never that old without one).

    Args:
        url (str): SQLAlchemy URL.
        **kwargs: The arguments of `optuna.storages.RDBStorage`.
    """

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        stale = super()._get_stale_trial_ids(study_id)
        grace = (
            self.grace_period
            if self.grace_period is not None
            else 2 * (self.heartbeat_interval or 0)
        )
        limit = datetime.now() - timedelta(seconds=grace)
        beating = self._trials_with_heartbeat(study_id)
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            if (
                trial._trial_id not in stale
                and trial._trial_id not in beating
                and trial.datetime_start is not None
                and trial.datetime_start < limit
            ):
                stale.append(trial._trial_id)
        return stale

    def _trials_with_heartbeat(self, study_id: int) -> set[int]:
        # Optuna's own tables: the public API has no "has this trial ever beaten?".
        from optuna.storages._rdb import models

        session = self.scoped_session()
        try:
            rows = (
                session.query(models.TrialHeartbeatModel.trial_id)
                .join(
                    models.TrialModel,
                    models.TrialModel.trial_id == models.TrialHeartbeatModel.trial_id,
                )
                .filter(models.TrialModel.study_id == study_id)
                .all()
            )
            return {row[0] for row in rows}
        finally:
            session.close()


def default_storage(path: str | Path = DEFAULT_DB) -> str:
    """A SQLite URL for ``path``, creating its folder.

    Args:
        path (str or Path): The database file, relative to the working directory
            or absolute. (default: ``runs/pyg_negdiff.db``)

    Returns:
        str: ``sqlite:///<path>``.

    Examples:
        >>> import tempfile, os
        >>> url = default_storage(os.path.join(tempfile.mkdtemp(), "runs", "s.db"))
        >>> url.startswith("sqlite:///") and url.endswith("s.db")
        True
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def make_storage(
    url: str | None = None,
    *,
    heartbeat_interval: int = 10,
    grace_period: int = 30,
    max_retry: int = 1,
) -> RDBStorage:
    """An RDB storage (SQLite, PostgreSQL, ...) with Optuna's trial heartbeat.

    Each running trial writes a heartbeat every ``heartbeat_interval`` seconds.
    A worker that dies mid-trial stops beating; once ``grace_period`` seconds
    pass, the next worker to start a trial (or `fail_stale_trials`) marks that
    trial FAIL and Optuna's retry callback enqueues its parameters again (up to
    ``max_retry`` times), so the study stays resumable and nothing is lost.

    Args:
        url (str, optional): SQLAlchemy URL, e.g. ``sqlite:///runs/pyg_negdiff.db`` or
            ``postgresql+psycopg2://user@host:5432/db``. (default: `default_storage`)
        heartbeat_interval (int): Seconds between heartbeats of a running trial.
        grace_period (int): Seconds without a heartbeat before a trial is stale.
        max_retry (int): How often a stale trial's parameters are re-queued.

    An in-memory SQLite URL (``sqlite:///:memory:``) gets no heartbeat: it lives in one process.
    """
    if grace_period <= heartbeat_interval:
        raise ValueError(
            f"grace_period ({grace_period}) must exceed heartbeat_interval "
            f"({heartbeat_interval})"
        )
    url = resolve_url(url or default_storage())
    if url in ("sqlite://", "sqlite:///:memory:"):
        # One process, nothing to resume: no heartbeat (its thread would open another, empty database).
        return RDBStorage(url)
    for attempt in range(5):
        try:
            # The heartbeat API is marked experimental; we rely on it.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return HeartbeatStorage(
                    url,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                        max_retry=max_retry
                    ),
                )
        except sqlalchemy.exc.OperationalError as exc:
            # A refused connection will not heal in a second.
            if "locked" not in str(exc) or attempt == 4:
                raise _storage_error(url, exc) from exc
            time.sleep(0.5 * (attempt + 1))
        except sqlalchemy.exc.DBAPIError as exc:
            # Workers started together race to create the schema; the loser finds it
            # half-made (a unique violation). Once the winner commits, connecting succeeds.
            if attempt == 4:
                raise _storage_error(url, exc) from exc
            time.sleep(0.5 * (attempt + 1))
        except (sqlalchemy.exc.SQLAlchemyError, ModuleNotFoundError) as exc:
            raise _storage_error(url, exc) from exc
    raise AssertionError("unreachable")


__all__ = [
    "DEFAULT_DB",
    "HeartbeatStorage",
    "SECRET_KEYS",
    "StorageError",
    "default_storage",
    "make_storage",
    "mask_url",
    "resolve_url",
]
