"""Bad input, faults and Ctrl-C through the real ``pyg-negdiff`` command, each in its own process.

Every case asserts the exit status, the absence of a Python traceback, and a
message that names the fix. Importing torch, PyG and Optuna takes seconds, so
most cases run in processes forked from one pre-imported "zygote": each child
runs ``pyg_negdiff.cli`` as ``__main__`` exactly as ``python -m pyg_negdiff.cli``
does, with its own exit status and output. The Ctrl-C cases and one check that
the zygote agrees with a fresh interpreter start ``python -m pyg_negdiff.cli``.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
DATA_ROOT = Path(os.environ.get("PYG_NEGDIFF_DATA", ROOT.parent / "shared" / "data"))
FAST = ["--epochs", "1", "--dim", "8", "--layers", "1", "--no-progress"]

ZYGOTE = r"""
import json, os, runpy, sys, traceback
import pyg_negdiff, pyg_negdiff.cli.tune  # what every command imports, paid once
print("ready", flush=True)
for line in sys.stdin:
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
        os.dup2(os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
        os.chdir(req["cwd"])
        os.environ.update(req["env"])
        sys.argv = ["pyg-negdiff", *req["argv"]]
        code = 0
        try:
            runpy.run_module("pyg_negdiff.cli", run_name="__main__", alter_sys=True)
        except SystemExit as exc:  # what the interpreter does with sys.exit(...)
            code = exc.code if isinstance(exc.code, int) else (exc.code is not None)
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
"""


class CLI:
    """Runs ``pyg-negdiff ARGS`` in a process forked from the zygote."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE],
            env=ENV,
            cwd=tmp,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout.readline().strip() == "ready"
        self.count = 0

    def __call__(
        self, *argv: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        self.count += 1
        out, err = self.tmp / f"{self.count}.out", self.tmp / f"{self.count}.err"
        request = {
            "argv": [str(a) for a in argv],
            "cwd": str(cwd or self.tmp),
            "stdout": str(out),
            "stderr": str(err),
            "env": env or {},
        }
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        status = int(self.proc.stdout.readline())
        return status, out.read_text(), err.read_text()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cli():
    with tempfile.TemporaryDirectory() as tmp:
        runner = CLI(Path(tmp))
        yield runner
        runner.close()


@pytest.fixture(scope="module")
def files():
    """Small data files: a pairs file where user 0 owns every item, and broken files."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        owner = [f"0 {i}" for i in range(12)]
        owner += [f"{u} {i}" for u in range(1, 30) for i in range(12) if (u * 7 + i) % 3 == 0]
        (tmp / "owner.txt").write_text("\n".join(owner) + "\n")
        (tmp / "empty.txt").write_text("")
        (tmp / "words.txt").write_text("alice book\nbob pen\n")
        (tmp / "negative.txt").write_text("0 1\n1 -2\n")
        # The data issue's cases: "u i 1" lines behind two malformed leading lines, a layout
        # that cannot be told apart, and a split folder with two validation files.
        (tmp / "uiw_leading.txt").write_text(
            "0\n0 1\n" + "".join(f"{u} {i} 1\n" for u in range(4) for i in (u, u + 3))
        )
        (tmp / "ambiguous.txt").write_text("0 4 7\n1 5 2\n2 6 3\n")
        folder = tmp / "two_vals"
        folder.mkdir()
        for name in ("train.txt", "val.txt", "valid.txt", "test.txt"):
            (folder / name).write_text("0 1\n1 2\n2 0\n")
        yield tmp


def refused(result, *fix: str, status: int = 2) -> str:
    """Asserts a clean refusal: the status, no traceback, and every word of the fix."""
    code, out, err = result
    assert "Traceback" not in out + err, err
    assert code == status, (code, out, err)
    assert any(line.startswith("pyg-negdiff: ") for line in err.splitlines()), err
    for word in fix:
        assert word in err, (word, err)
    return err


def message_lines(err: str) -> list[str]:
    """The error message's lines: from the ``pyg-negdiff:`` line on (notes may come before)."""
    lines = err.strip().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("pyg-negdiff: "))
    return lines[first:]


def readonly_folder(tmp: Path) -> Path:
    """A folder this process cannot write into (root ignores permissions: /sys then)."""
    folder = tmp / "readonly"
    folder.mkdir(exist_ok=True)
    folder.chmod(0o555)
    try:
        tempfile.NamedTemporaryFile(dir=folder).close()
    except OSError:
        return folder
    return Path("/sys/pyg-negdiff-test")


needs_coat = pytest.mark.skipif(
    not (DATA_ROOT / "coat").exists(), reason="shared Coat data not found"
)


# ------------------------------------------------------------------ settings
@pytest.mark.parametrize(
    "argv, fix",
    [
        (["--dim", "0"], ["--dim 0", "integer >= 1"]),
        (["--dense-gradients"], ["--dense-gradients:", "'neighbor' only"]),
        (["--dim", "-4"], ["--dim -4", "integer >= 1"]),
        (["--penalty", "-1"], ["--penalty -1", ">= 0"]),
        (["--layers", "-1"], ["--layers -1", ">= 1"]),
        (["--l2", "-1"], ["--l2 -1", ">= 0"]),
        (["--lr", "nan"], ["--lr nan", "finite"]),
        (["--epochs", "0"], ["--epochs 0", ">= 1"]),
        (["--batch-size", "0"], ["--batch-size 0", ">= 1"]),
        (["--patience", "0"], ["--patience 0", ">= 1"]),
        (["--sampler", "nope"], ["--sampler nope", "choose from", "cnsdiff"]),
        (
            ["--sampler-arg", "foo=1"],
            ["--sampler-arg foo=1", "has no argument 'foo'", "num_negatives"],
        ),
        (["--sampler", "popularity", "--sampler-arg", "alpha=nan"], ["alpha=nan", "finite"]),
        (
            ["--sampler", "popularity", "--sampler-arg", "alpha=abc"],
            ["alpha=abc", "takes a number"],
        ),
        (
            ["--sampler", "cnsdiff", "--sampler-arg", "embedding_dim=3"],
            ["set by the run itself", "--dim"],
        ),
        (["--device", "cuda"], ["--device cuda", "no CUDA device", "use cpu"]),
        (["--device", "tpu:x"], ["--device tpu:x", "cpu"]),
    ],
)
def test_bad_setting_is_refused_before_loading_data(cli, tmp_path, argv, fix):
    # A data path that does not exist: the settings must be refused before it is looked at.
    err = refused(
        cli("train", "--data", tmp_path / "absent.txt", *argv, "--out", tmp_path / "r.json"), *fix
    )
    assert "absent.txt" not in err
    assert not (tmp_path / "r.json").exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a CUDA device is present")
def test_fresh_interpreter_agrees_with_the_zygote(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pyg_negdiff.cli", "train", "--device", "cuda"],
        env=ENV,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    refused((proc.returncode, proc.stdout, proc.stderr), "--device cuda", "use cpu")


@needs_coat
def test_more_environments_than_coat_can_fill(cli, tmp_path):
    refused(
        cli(
            "train",
            "--data",
            "coat",
            "--data-root",
            DATA_ROOT,
            *FAST,
            "--penalty",
            "1",
            "--num-environments",
            "1000",
            "--out",
            tmp_path / "r.json",
        ),
        "--num-environments 1000",
        "use at most",
    )


def test_readonly_output_is_refused_before_training(cli, tmp_path, files):
    folder = readonly_folder(tmp_path)
    code, out, err = cli(
        "train",
        "--data",
        files / "owner.txt",
        "--format",
        "pairs",
        *FAST,
        "--out",
        folder / "r.json",
    )
    refused((code, out, err), "--out", "writable")
    assert "train:" not in out  # refused before the data was even loaded


def test_output_that_is_a_folder_is_refused(cli, tmp_path, files):
    refused(cli("train", "--data", files / "owner.txt", *FAST, "--out", tmp_path), "is a folder")


def test_user_owning_every_item_is_refused_with_the_user_named(cli, tmp_path, files):
    # A split folder: --shift none keeps user 0's 12 items in training, and has val and test
    # parts (a split without them is refused first, issue 24).
    folder = tmp_path / "owner"
    folder.mkdir()
    (folder / "train.txt").write_text((files / "owner.txt").read_text())
    (folder / "val.txt").write_text("1 1\n2 2\n")
    (folder / "test.txt").write_text("1 2\n2 1\n")
    refused(
        cli(
            "train",
            "--data",
            folder,
            "--format",
            "pairs",
            "--shift",
            "none",
            "--sampler",
            "popularity",
            *FAST,
            "--out",
            tmp_path / "r.json",
        ),
        "ids [0]",
        "all 12 items",
        "no negative item exists",
        "remove them",
    )


# ---------------------------------------------------------------------- data
@pytest.mark.parametrize(
    "name, fix",
    [
        ("absent.txt", ["absent.txt", "neither a file nor a directory"]),
        ("empty.txt", ["empty.txt", "no data lines"]),
        ("words.txt", ["words.txt, line 1", "not an integer"]),
        ("negative.txt", ["negative.txt, line 2", "negative id"]),
        (
            "uiw_leading.txt",
            ["uiw_leading.txt, line 1", "expected 3 columns", "--on-bad-line skip"],
        ),
        ("ambiguous.txt", ["cannot tell the format", "--format"]),
        ("two_vals", ["val.txt and valid.txt", "keep one"]),
    ],
)
def test_bad_data_file_is_refused(cli, tmp_path, files, name, fix):
    refused(cli("train", "--data", files / name, *FAST, "--out", tmp_path / "r.json"), *fix)
    refused(cli("data", "inspect", "--data", files / name), *fix)


def test_csv_options_on_a_whitespace_file_are_refused(cli, tmp_path, files):
    refused(
        cli("data", "inspect", "--data", files / "negative.txt", "--user-col", "u"),
        "only apply to CSV files",
    )


# ------------------------------------------------------------ NaN, debug, bug
@needs_coat
def test_nan_loss_names_the_checkpoint_and_still_writes_the_results(cli, tmp_path):
    out = tmp_path / "r.json"
    err = refused(
        cli(
            "train",
            "--data",
            "coat",
            "--data-root",
            DATA_ROOT,
            "--epochs",
            "3",
            "--dim",
            "8",
            "--no-progress",
            "--lr",
            "1e30",
            "--checkpoint",
            "--out",
            out,
        ),
        "loss became nan",
        "Lower the learning rate",
        str(out.with_suffix(".pt")),
        str(out),
    )
    assert len(message_lines(err)) == 2
    result = json.loads(out.read_text())
    assert result["diverged"].startswith("loss became nan")
    assert result["history"] and result["test"]["test_ood"]["ndcg@20"] >= 0


def test_debug_shows_the_traceback(cli, tmp_path):
    code, _, err = cli("train", "--dim", "0", "--debug", "--out", tmp_path / "r.json")
    # The traceback for the bug report, and the status of an expected error still (issue 24).
    assert code == 2 and "Traceback" in err and "ConfigError" in err


def test_existing_checkpoint_is_not_overwritten_silently(cli, tmp_path, files):
    out = tmp_path / "r.json"
    out.with_suffix(".pt").write_bytes(b"an earlier run")
    refused(
        cli("train", "--data", files / "owner.txt", *FAST, "--checkpoint", "--out", out),
        "already exists",
        "--resume",
        "--overwrite",
    )
    assert out.with_suffix(".pt").read_bytes() == b"an earlier run"
    refused(
        cli(
            "train",
            "--data",
            files / "owner.txt",
            *FAST,
            "--resume",
            "--out",
            tmp_path / "none.json",
        ),
        "--resume",
        "no checkpoint",
        "without --resume",
    )
    # A file that is not a checkpoint is refused, not unpickled.
    refused(
        cli("train", "--data", files / "owner.txt", *FAST, "--resume", "--out", out),
        "not a pyg_negdiff checkpoint",
    )


# -------------------------------------------------------------------- Ctrl-C
def _hear_sigint() -> None:
    """A test run started in the background inherits SIGINT ignored (POSIX shells do that to
    background jobs), and Python keeps it ignored: restore the default before the child runs."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt(tmp_path: Path, argv: list[str], ready: str, delay: float):
    """Starts ``python -m pyg_negdiff.cli ARGV``, sends SIGINT once ``ready`` shows, returns the result."""
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "pyg_negdiff.cli", *argv],
        env=ENV,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_hear_sigint,
    )
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if ready in line:
            break
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    try:
        rest, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        rest, _ = proc.communicate()
        pytest.fail("the command did not end after SIGINT:\n" + "".join(seen) + rest)
    return proc.returncode, "".join(seen) + rest


@needs_coat
def test_ctrl_c_during_start_up(tmp_path):
    # Python's own imports come before the command exists, so wait until `main` runs: then
    # SIGINT lands while the settings are checked and ML-1M (seconds to read) is loaded.
    out = tmp_path / "r.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-c",
            "import sys, pyg_negdiff.cli as c; print('main', flush=True); "
            "sys.exit(c.main(sys.argv[1:]))",
            "train",
            "--data",
            "ml-1m",
            "--data-root",
            DATA_ROOT,
            *FAST,
            "--out",
            out,
        ],
        env=ENV,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_hear_sigint,
    )
    assert proc.stdout.readline().strip() == "main"
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    text, _ = proc.communicate(timeout=120)
    assert "Traceback" not in text, text
    assert proc.returncode == 130, text
    assert "interrupted (Ctrl-C)" in text and "written" in text, text
    assert "during training" not in text, text
    assert not out.exists()


@pytest.mark.parametrize("delay", [0.05, 0.15, 0.25, 0.3, 0.35, 0.45])
def test_ctrl_c_at_any_moment_of_the_imports_is_one_line(tmp_path, delay):
    # A KeyboardInterrupt inside numpy's, scipy's or torch-sparse's import used to come out as
    # "numpy has no attribute ...", "cannot load module more than once", or to be swallowed by
    # a library (the run went on and wrote its results): the CLI now holds Ctrl-C back until
    # those imports are done.
    out = tmp_path / "r.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-c",
            "import sys, pyg_negdiff.cli as c; print('main', flush=True); "
            "sys.exit(c.main(sys.argv[1:]))",
            "train",
            "--data",
            "synthetic",
            *FAST,
            "--out",
            out,
        ],
        env=ENV,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_hear_sigint,
    )
    assert proc.stdout.readline().strip() == "main"
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    text, _ = proc.communicate(timeout=120)
    assert "Traceback" not in text and "error" not in text, text
    assert proc.returncode == 130 and "interrupted (Ctrl-C)" in text, text
    assert not out.exists()


def test_ctrl_c_while_torch_is_imported_is_one_line(tmp_path):
    # `import pyg_negdiff` and the command module load without torch, so the error boundary is
    # in place before any heavy import: a Ctrl-C while torch loads ends in the one-line message.
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyg_negdiff.cli", "data", "inspect", "--data", "synthetic"],
        env=ENV,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_hear_sigint,
    )
    deadline = time.monotonic() + 60
    maps = Path(f"/proc/{proc.pid}/maps")
    while (
        time.monotonic() < deadline and proc.poll() is None and "libtorch" not in maps.read_text()
    ):
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    text, _ = proc.communicate(timeout=120)
    assert "Traceback" not in text, text
    assert proc.returncode == 130, text
    assert "interrupted (Ctrl-C)" in text, text


@needs_coat
def test_ctrl_c_during_training_keeps_a_resumable_checkpoint(tmp_path):
    out = tmp_path / "r.json"
    argv = [
        "train",
        "--data",
        "coat",
        "--data-root",
        DATA_ROOT,
        # Far more epochs than 3 s can train on an idle machine (200 once ended before the
        # SIGINT, exit -2): the interrupt must land during training.
        "--epochs",
        "100000",
        "--patience",
        "100000",
        "--dim",
        "8",
        "--layers",
        "1",
        "--checkpoint",
        "--out",
        out,
    ]
    code, text = interrupt(tmp_path, argv, ready="test_ood", delay=3.0)
    assert "Traceback" not in text, text
    assert code == 130, text
    assert "interrupted (Ctrl-C) during training" in text and "--resume" in text, text
    assert out.with_suffix(".pt").exists() and not out.exists()


# ------------------------------------------------------------------- tuning
@pytest.fixture(scope="module")
def small(files):
    """60 users x 40 items, split at random into train/val/test by the command."""
    import random

    rng = random.Random(0)
    pairs = sorted({(u, rng.randrange(40)) for u in range(60) for _ in range(8)})
    (files / "small.txt").write_text("".join(f"{u} {i}\n" for u, i in pairs))
    return files / "small.txt"


def test_refused_database_connection_is_one_line_with_no_secret(cli, tmp_path, small):
    url = "postgresql://me:pw0rd-1@127.0.0.1:9/optuna?sslpassword=zzz-2&sslmode=disable"
    code, out, err = cli(
        "tune",
        "--data",
        small,
        "--sampler",
        "uniform",
        "--fixed-size",  # tune refuses a --dim it would search (issue 24)
        *FAST,
        "--trials",
        "1",
        "--storage",
        url,
    )
    refused(
        (code, out, err),
        "cannot open the study storage",
        "127.0.0.1:9",
        "check that the server runs",
    )
    assert "note: postgresql:// storage uses the installed psycopg2 driver" in out
    assert len(message_lines(err)) == 1
    for secret in ("pw0rd-1", "zzz-2"):
        assert secret not in out + err


def test_missing_storage_driver_names_the_package(cli, tmp_path, small):
    pytest.importorskip("sqlalchemy")
    if __import__("importlib").util.find_spec("MySQLdb") is not None:
        pytest.skip("mysqlclient is installed")
    refused(
        cli(
            "tune",
            "--data",
            small,
            "--sampler",
            "uniform",
            "--fixed-size",
            *FAST,
            "--trials",
            "1",
            "--storage",
            "mysql://me:pw0rd@127.0.0.1:9/optuna",
        ),
        "'MySQLdb' is not installed",
        "pip install mysqlclient",
    )


def test_resumed_study_refuses_other_settings(cli, tmp_path, small):
    argv = [
        "tune",
        "--data",
        small,
        "--sampler",
        "uniform",
        "--fixed-size",
        *FAST,
        "--trials",
        "1",
        "--study-name",
        "s",
        "--export",
        tmp_path / "best.json",
    ]
    code, out, err = cli(*argv, cwd=tmp_path)
    assert code == 0, err
    for change, fix in (
        (["--epochs", "2"], "epochs=1 (now 2)"),
        (["--batch-size", "64"], "batch_size=2048"),
        (["--dim", "16"], "embedding_dim=8 (now 16)"),
        (["--patience", "3"], "patience"),
        (["--penalty", "0.5"], "penalty_weight"),
    ):
        refused(cli(*argv, *change, cwd=tmp_path), "study 's' was created for", fix, "--study-name")
    refused(cli(*argv[:-2], "--trials", "0", cwd=tmp_path), "--trials 0", ">= 1")


def test_unwritable_export_is_refused_before_tuning(cli, tmp_path, small):
    folder = readonly_folder(tmp_path)
    code, out, err = cli(
        "tune",
        "--data",
        small,
        "--sampler",
        "uniform",
        "--fixed-size",
        *FAST,
        "--trials",
        "1",
        "--export",
        folder / "best.json",
        cwd=tmp_path,
    )
    refused((code, out, err), "--export", "writable")
    assert "study" not in out  # refused before the study was opened


#: What torchrun sets for rank 1 of 2; the master is unreachable, so joining a group would fail or hang.
TORCHRUN_ENV = {
    "WORLD_SIZE": "2",
    "RANK": "1",
    "LOCAL_RANK": "1",
    "LOCAL_WORLD_SIZE": "2",
    "MASTER_ADDR": "127.0.0.1",
    "MASTER_PORT": "9",
}


@pytest.mark.parametrize(
    "command", [["tune", "--sampler", "uniform", *FAST], ["run", "--epochs", "1"]]
)
def test_study_under_torchrun_is_refused_before_anything_starts(cli, tmp_path, small, command):
    code, out, err = cli(*command, "--data", small, "--trials", "1", cwd=tmp_path, env=TORCHRUN_ENV)
    err = refused(
        (code, out, err),
        "torchrun (WORLD_SIZE=2)",
        "--storage postgresql://",
        "one `pyg-negdiff tune",
        "use torchrun for `pyg-negdiff train`",
    )
    assert len(message_lines(err)) == 1
    assert out == "" and not (tmp_path / "runs").exists()  # no storage opened, no data loaded


def test_refuse_distributed_reads_torchrun_environment(monkeypatch):
    from pyg_negdiff.tune import refuse_distributed

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    refuse_distributed()  # one process
    monkeypatch.setenv("WORLD_SIZE", "1")
    refuse_distributed()  # torchrun --nproc-per-node 1
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="WORLD_SIZE=2"):
        refuse_distributed()
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="not a positive integer"):
        refuse_distributed()


def test_ctrl_c_during_tuning_says_the_study_resumes(tmp_path, small):
    argv = [
        "tune",
        "--data",
        small,
        "--sampler",
        "uniform",
        "--epochs",
        "400",
        "--patience",
        "1000",
        "--fixed-size",
        "--dim",
        "8",
        "--trials",
        "3",
        "--study-name",
        "s",
    ]
    code, text = interrupt(tmp_path, argv, ready="train:", delay=3.0)
    assert "Traceback" not in text, text
    assert code == 130, text
    assert "during tuning" in text and "rerun the same command to resume" in text, text


def test_an_error_raised_while_optuna_handles_ctrl_c_is_a_ctrl_c(monkeypatch):
    # Seen in a CI-like run: SIGINT during Optuna's post-trial bookkeeping surfaced as its
    # `AssertionError("Should not reach.")`, raised while the KeyboardInterrupt was handled.
    import argparse

    import optuna

    import pyg_negdiff.tune.study as study_module
    from pyg_negdiff.cli.tune import _run_study

    def interrupted(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise AssertionError("Should not reach.")

    def broken(*args, **kwargs):
        raise AssertionError("a real bug")

    study = optuna.create_study(study_name="s")
    args = argparse.Namespace(trials=1, no_progress=True)
    monkeypatch.setattr(study_module, "run_study", interrupted)
    with pytest.raises(
        KeyboardInterrupt, match="during tuning; study 's' keeps its 0 finished trials"
    ):
        _run_study(study, None, args)
    monkeypatch.setattr(study_module, "run_study", broken)
    with pytest.raises(AssertionError, match="a real bug"):
        _run_study(study, None, args)
