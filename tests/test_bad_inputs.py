"""Bad and awkward input, as a new user gives it (issue 24): one row per case.

Each command row gives the arguments, the exit status, the words the message must hold, and the
files that must still exist unchanged afterwards. ``{tmp}`` in an argument is the row's own
folder (also its working directory), which holds the small files of `FILES`. A data path that
does not exist (``{tmp}/absent.txt``) proves that a setting is refused before the data is read.

The commands run in this process (`pyg_negdiff.cli.main`), so the whole table costs seconds;
the few cases about process behaviour (``--help`` import time) start an interpreter.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from pyg_negdiff.cli import main

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--epochs", "1", "--dim", "8", "--layers", "1", "--no-progress"]
ABSENT = "{tmp}/absent.txt"


def _pairs(users: int = 30, items: int = 12) -> str:
    return "".join(f"{u} {i}\n" for u in range(users) for i in range(items) if (u * 7 + i) % 3 == 0)


#: Small files every row's folder holds (bytes, so that a changed byte shows).
FILES: dict[str, bytes] = {
    "existing.json": b'{"an": "unrelated file"}\n',
    "same.pt": b"an earlier checkpoint",
    "pairs.txt": _pairs().encode(),
    "empty.pt": b"",
    "garbage.pt": b"\x80\x04garbage" * 8,
    # 90 interactions labelled 1 and 90 sampled negatives labelled 0.
    "labels.txt": "".join(
        f"{u} {(u * 5 + k) % 30} {int(k < 3)}\n" for u in range(30) for k in range(6)
    ).encode(),
    "latin1.csv": "userId,movieId\n".encode()
    + "".join(f"u{u},caf\u00e9{i}\n" for u in range(20) for i in range(6) if (u + i) % 2).encode(
        "latin-1"
    ),
    # 150 rows of "user timestamp": the second column is no item column (item 12).
    "user_time.txt": "".join(f"{k % 30} {874781198 + 7919 * k}\n" for k in range(150)).encode(),
    # RecBole atomic files with a header that cannot be read as written (item 11).
    "banana.inter": b"user_id:banana\titem_id:token\n1\t2\n2\t3\n",
    "seq.inter": b"user_id:token\titem_id:token_seq\n1\t2 3 4\n2\t3 5\n",
    "spaces.inter": b"user_id:token item_id:token rating:float\n1 2 4\n2 3 5\n",
    "ratings.csv": (
        "userId,movieId,rating\n"
        + "".join(
            f"{u},{i},{1 + (u + i) % 5}\n" for u in range(30) for i in range(12) if (u + i) % 3
        )
    ).encode(),
}


@dataclass
class Case:
    """One bad input through the command line.

    Attributes:
        item (str): The issue's item it covers (e.g. ``"1"``), for the report.
        argv (list[str]): The command's arguments (``{tmp}`` is the row's folder).
        code (int): The expected exit status.
        words (list[str]): Words the output (stderr, or stdout for success) must hold.
        keep (list[str]): Files of `FILES` that must be unchanged afterwards.
        absent (list[str]): Files that must not exist afterwards.
        unwanted (list[str]): Words the output must not hold (a Python name, bad advice).
        traceback (bool): A traceback is expected (``--debug``).
        setup (Callable, optional): Writes more files into the folder first.
        recorded (dict): Entries the ``config`` of the result file ``r.json`` must hold.
    """

    item: str
    argv: list[str]
    code: int = 2
    words: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    unwanted: list[str] = field(default_factory=list)
    traceback: bool = False
    setup: Callable[[Path], None] | None = None
    recorded: dict[str, object] = field(default_factory=dict)


CASES: dict[str, Case] = {
    # 1. A sampler argument of the wrong type: refused before the data is read.
    "float num_negatives": Case(
        "1",
        ["train", "--data", ABSENT, "--sampler-arg", "num_negatives=1.5", "--out", "r.json"],
        words=["--sampler-arg num_negatives=1.5", "takes an integer"],
        absent=["r.json"],
    ),
    "float num_candidates": Case(
        "1",
        ["train", "--data", ABSENT, "--sampler", "dns", "--sampler-arg", "num_candidates=2.5"],
        words=["--sampler-arg num_candidates=2.5", "takes an integer"],
    ),
    "literal sampler argument": Case(
        "1",
        ["train", "--data", ABSENT, "--sampler", "cnsdiff", "--sampler-arg", "selection=best"],
        words=["--sampler-arg selection=best", "one of 'hardest', 'band'"],
    ),
    # 2. --resume with a 0-byte or garbage checkpoint.
    "resume empty checkpoint": Case(
        "2",
        ["train", "--data", "{tmp}/pairs.txt", *FAST, "--resume", "--out", "empty.json"],
        words=["--resume", "empty.pt is empty (0 bytes)", "--overwrite"],
        keep=["empty.pt"],
        setup=lambda tmp: (tmp / "empty.json").unlink(missing_ok=True),
    ),
    "resume garbage checkpoint": Case(
        "2,14",
        ["train", "--data", "{tmp}/pairs.txt", *FAST, "--resume", "--out", "garbage.json"],
        words=["not a pyg_negdiff checkpoint", "--overwrite", "damaged"],
        keep=["garbage.pt"],
        unwanted=[
            "weights_only=False",
            "set to `False`",
            "UserWarning",
        ],  # torch's advice: unpickle an untrusted file
    ),
    # 3. An existing, unrelated --out / --export file is not replaced silently.
    "train out exists": Case(
        "3",
        ["train", "--data", ABSENT, "--out", "existing.json"],
        words=["--out existing.json already exists", "--overwrite"],
        keep=["existing.json"],
    ),
    "tune export exists": Case(
        "3",
        ["tune", "--data", ABSENT, "--export", "existing.json"],
        words=["--export existing.json already exists", "--overwrite"],
        keep=["existing.json"],
        absent=["runs/pyg_negdiff.db"],
    ),
    # 4. The JSON result must not land on the checkpoint.
    "out is the checkpoint": Case(
        "4",
        ["train", "--data", ABSENT, "--checkpoint", "--out", "same.pt"],
        words=["--out same.pt", "same file", ".json"],
        keep=["same.pt"],
    ),
    # 5. An unknown --samplers name: refused before the study and any training.
    "run unknown sampler": Case(
        "5",
        ["run", "--data", ABSENT, "--samplers", "nope"],
        words=["--samplers nope", "unknown sampler", "cnsdiff"],
        absent=["runs/pyg_negdiff.db"],
    ),
    # 6. Only heuristics stand in the heuristic rows.
    "run heuristic cnsdiff": Case(
        "6",
        ["run", "--data", ABSENT, "--heuristics", "cnsdiff"],
        words=["--heuristics cnsdiff", "not a heuristic", "dns"],
        absent=["runs/pyg_negdiff.db"],
    ),
    # 7. A split without validation or test parts measures nothing: refused, naming --shift.
    "shift none on one file": Case(
        "7",
        ["train", "--data", "{tmp}/pairs.txt", *FAST, "--shift", "none", "--out", "r.json"],
        words=["--shift none", "validation part", "test part", "--shift auto"],
        absent=["r.json"],
    ),
    # 7. A CSV's rating column is not thresholded by default, and the note says so.
    "csv rating column kept": Case(
        "7",
        ["data", "inspect", "--data", "{tmp}/ratings.csv"],
        code=0,
        words=["'rating' looks like ratings", "every row is kept", "--min-rating"],
    ),
    # 7. `run` on data without an OOD test says that its table compares IID scores.
    "run without OOD test": Case(
        "7",
        [
            "run",
            "--data",
            "{tmp}/pairs.txt",
            "--trials",
            "1",
            "--samplers",
            "cnsdiff",
            "--heuristics",
            "dns",
            *FAST,
            "--out",
            "runs",
        ],
        code=0,
        words=["no shifted (OOD) test", "--shift popularity"],
    ),
    # 8. A 0/1 third column is read as labels: the label-0 rows are not positives.
    "label file": Case(
        "8",
        ["data", "inspect", "--data", "{tmp}/labels.txt", "--shift", "none"],
        code=0,
        words=["read as labels", "dropped the 90 rows labelled 0", "kept 90"],
    ),
    # 9. tune refuses a fixed value for a setting it searches, and lists what it searches.
    "tune fixed and searched": Case(
        "9",
        ["tune", "--data", ABSENT, "--lr", "0.5", "--dim", "8"],
        words=["--lr, --dim", "tune searches", "--fixed-size", "--l2"],
        absent=["runs/pyg_negdiff.db"],
    ),
    "tune sampler constant": Case(
        "9",
        ["tune", "--data", ABSENT, "--sampler", "dns", "--sampler-arg", "num_candidates=8"],
        words=["--sampler-arg num_candidates", "tune searches"],
    ),
    # 10. Environment options nothing would use are refused.
    "environments bogus": Case(
        "10",
        ["train", "--data", ABSENT, "--environments", "bogus"],
        words=["--environments bogus", "unknown environment strategy", "popularity"],
    ),
    "num environments unused": Case(
        "10",
        ["train", "--data", ABSENT, "--num-environments", "100000"],
        words=["--num-environments 100000", "--penalty", "--condition-on-environment"],
    ),
    "penalty kind unused": Case(
        "10",
        ["train", "--data", ABSENT, "--penalty-kind", "margin-vrex"],
        words=["--penalty-kind margin-vrex", "only with --penalty > 0"],
    ),
    # 10. The result records how many environments were used, beside the number asked for.
    "num environments used recorded": Case(
        "10",
        ["train", "--data", "{tmp}/pairs.txt", *FAST, "--penalty", "1"]
        + ["--num-environments", "20", "--out", "r.json"],
        code=0,
        words=["only 12 of the 20", "goes on with 12", "num_environments_used"],
        recorded={"num_environments": 20, "num_environments_used": 12},
    ),
    "condition without denoiser": Case(
        "10,14",
        ["train", "--data", ABSENT, "--condition-on-environment"],
        words=["--condition-on-environment", "no denoiser", "--sampler cnsdiff"],
        unwanted=["condition_on_environment"],
    ),
    # 11. RecBole headers: the types are checked, lists are not read as single ids, and a
    # space-separated header is named as such.
    "recbole unknown type": Case(
        "11",
        ["data", "inspect", "--data", "{tmp}/banana.inter"],
        words=["banana.inter, line 1", "'user_id:banana'", "token, token_seq, float, float_seq"],
    ),
    "recbole item token_seq": Case(
        "11",
        ["train", "--data", "{tmp}/seq.inter", *FAST, "--out", "r.json"],
        words=["'item_id' is token_seq", "one value per row", "fake", "one interaction per line"],
        absent=["r.json"],
    ),
    "recbole header with spaces": Case(
        "11",
        ["data", "inspect", "--data", "{tmp}/spaces.inter"],
        words=["the header is not tab-separated", "tabs"],
        unwanted=["no column 'item_id'"],
    ),
    # 12. A "user timestamp" file is refused, naming --format; given --format pairs, it loads.
    "user time file": Case(
        "12",
        ["train", "--data", "{tmp}/user_time.txt", *FAST, "--out", "r.json"],
        words=["user_time.txt", "looks like Unix times", "1997-09-20", "--format pairs"],
        absent=["r.json"],
    ),
    "user time file as pairs": Case(
        "12",
        ["data", "inspect", "--data", "{tmp}/user_time.txt", "--format", "pairs"],
        code=0,
        words=["150 items"],
    ),
    # 14. Messages name the option and the fix, in the command line's words.
    "non-utf8 csv": Case(
        "14",
        ["train", "--data", "{tmp}/latin1.csv", *FAST, "--out", "r.json"],
        words=["latin1.csv", "not UTF-8", "0xe9", "--encoding"],
        absent=["r.json"],
    ),
    "csv encoding option": Case(
        "14",
        ["data", "inspect", "--data", "{tmp}/latin1.csv", "--encoding", "latin-1"],
        code=0,
        words=["users"],
    ),
    "storage port not a number": Case(
        "14",
        ["tune", "--data", ABSENT, "--storage", "postgresql://me:s3cret@db:notaport/optuna"],
        words=["--storage", "the port 'notaport' is not a number", "5432"],
        unwanted=["invalid literal", "s3cret"],
    ),
    "sqlite folder missing": Case(
        "14",
        ["tune", "--data", ABSENT, "--storage", "sqlite:////nonexistent-dir/x/s.db"],
        words=["SQLite study file", "folder exists", "--storage"],
        unwanted=["server runs"],
    ),
    "num neighbors not given": Case(
        "14",
        ["train", "--data", ABSENT, "--propagation", "neighbor"],
        words=["--num-neighbors: give one fan-out per layer"],
        unwanted=["None"],
    ),
    "min rating without rating column": Case(
        "14",
        ["train", "--data", "{tmp}/pairs.txt", *FAST, "--min-rating", "4", "--out", "r.json"],
        words=["--min-rating 4", "weight or rating column"],
        unwanted=["min_rating=4"],
    ),
    "csv option for a text file": Case(
        "14",
        ["train", "--data", "{tmp}/pairs.txt", *FAST, "--user-col", "u", "--out", "r.json"],
        words=["--user-col", "only apply to CSV files"],
    ),
    "exposure without a random part": Case(
        "14",
        ["train", "--data", "{tmp}/pairs.txt", *FAST, "--shift", "exposure", "--out", "r.json"],
        words=["--shift exposure", "choose another --shift"],
        unwanted=["random_part=..."],
    ),
    # 16. Without a terminal: no bar redraws; data notes as one "pyg-negdiff: note:" line.
    "no terminal progress": Case(
        "16",
        ["train", "--data", "{tmp}/labels.txt", "--epochs", "1", "--dim", "8", "--out", "r.json"],
        code=0,
        words=["pyg-negdiff: note: ", "read as labels", "results written"],
        unwanted=["\r", "\x1b[", "UserWarning", "warnings.warn"],
    ),
    # 17. --debug shows the traceback and keeps the status of an expected error.
    "debug keeps status 2": Case(
        "17",
        ["train", "--data", ABSENT, "--dim", "0", "--debug"],
        words=["ConfigError", "--dim 0"],
        traceback=True,
    ),
}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name: str, tmp_path: Path, monkeypatch, capsys) -> None:
    case = CASES[name]
    for file, content in FILES.items():
        (tmp_path / file).write_bytes(content)
    if case.setup is not None:
        case.setup(tmp_path)
    before = {f: _digest(tmp_path / f) for f in case.keep}
    monkeypatch.chdir(tmp_path)
    code = main([a.replace("{tmp}", str(tmp_path)) for a in case.argv])
    out, err = capsys.readouterr()
    assert ("Traceback" in err) == case.traceback, err
    assert code == case.code, (code, out, err)
    text = err if code else out + err
    if code:
        assert "pyg-negdiff: error: " in err, err
        assert "this is a bug" not in err, err
    for word in case.words:
        assert word in text, (word, text)
    for word in case.unwanted:
        assert word not in text, (word, text)
    for file in case.keep:
        assert (tmp_path / file).exists() and _digest(tmp_path / file) == before[file], file
    for file in case.absent:
        assert not (tmp_path / file).exists(), file
    if case.recorded:
        config = json.loads((tmp_path / "r.json").read_text())["config"]
        assert {k: config.get(k) for k in case.recorded} == case.recorded, config


# ---------------------------------------------------------------- Python API
def _tiny():
    import torch

    from pyg_negdiff.data.interactions import InteractionData

    return InteractionData(
        num_users=3, num_items=5, parts={"train": torch.tensor([[0, 1, 2], [0, 1, 2]])}
    )


def _data(**kw):
    from pyg_negdiff.data.interactions import InteractionData

    return InteractionData(
        **{"num_users": 2, "num_items": 3, "parts": {"train": [[0, 1]] * 2}, **kw}
    )


def _sample(users, items):
    import torch

    from pyg_negdiff.sampling import UniformSampler

    return UniformSampler(_tiny().train_pairs())(torch.tensor(users), torch.tensor(items), None)


def _evaluate(users: int, items: int):
    import torch

    from pyg_negdiff.metrics import Evaluator
    from pyg_negdiff.nn.base import Embeddings

    data = _tiny()
    data.parts["test"] = torch.tensor([[0], [3]])
    emb = Embeddings(torch.zeros(users, 1, 4), torch.zeros(items, 1, 4))
    return Evaluator(data).evaluate(emb, "test")


def _trainer(**kw):
    from pyg_negdiff.nn import build_model
    from pyg_negdiff.sampling import UniformSampler
    from pyg_negdiff.train import Trainer

    data = _tiny()
    model = build_model("mf", data.num_users, data.num_items, embedding_dim=4)
    return Trainer(model, UniformSampler(data.train_pairs()), data, progress=False, **kw)


#: item, call, the exception it must raise, and words its message must hold.
CALLS: dict[str, tuple[str, Callable[[], object], type[BaseException], list[str]]] = {
    "float ids": (
        "13",
        lambda: _data(parts={"train": [[0.5, 1.9], [0, 1]]}),
        ValueError,
        ["parts['train']", "whole numbers", "0.5"],
    ),
    "float num_users": (
        "13",
        lambda: _data(num_users=2.5),
        TypeError,
        ["num_users=2.5", "integer"],
    ),
    "negative user": (
        "13",
        lambda: _sample([-26560], [0]),
        ValueError,
        ["users", "-26560", "[0, 3)"],
    ),
    "positive out of range": (
        "13",
        lambda: _sample([0], [9]),
        ValueError,
        ["pos_items", "id 9", "[0, 5)"],
    ),
    "positives of another length": (
        "13",
        lambda: _sample([0, 1], [0]),
        ValueError,
        ["pos_items", "shape [2]"],
    ),
    "wrong-sized user table": (
        "13",
        lambda: _evaluate(7, 5),
        ValueError,
        ["emb.user", "3 rows", "[7, 4]"],
    ),
    "wrong-sized item table": ("13", lambda: _evaluate(3, 2), ValueError, ["emb.item", "5 rows"]),
    "trainer epochs 0": (
        "13",
        lambda: _trainer(epochs=0),
        ValueError,
        ["epochs=0", "integer >= 1"],
    ),
    "trainer batch_size 2.5": (
        "13",
        lambda: _trainer(batch_size=2.5),
        TypeError,
        ["batch_size=2.5"],
    ),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_bad_call(name: str) -> None:
    _, call, error, words = CALLS[name]
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_label_loaders_agree(tmp_path: Path) -> None:
    """Item 8: the text loader and `from_hetero` both keep only the label-1 rows of 0/1 labels."""
    import torch
    from torch_geometric.data import HeteroData

    from pyg_negdiff.data.hetero import from_hetero
    from pyg_negdiff.data.io import load_dataset

    (tmp_path / "labels.txt").write_bytes(FILES["labels.txt"])
    text = load_dataset(tmp_path / "labels.txt")
    rows = torch.tensor(
        [[int(x) for x in l.split()] for l in FILES["labels.txt"].decode().splitlines()]
    )
    hetero = HeteroData()
    hetero["user"].num_nodes, hetero["item"].num_nodes = 30, 30
    store = hetero["user", "to", "item"]
    store.edge_index = rows[:, :2].t()
    store.edge_label_index = rows[:, :2].t()
    store.edge_label = rows[:, 2]
    assert text.train.size(1) == 90
    assert from_hetero(hetero).parts["test"].size(1) == 90


def test_time_items_rule_fires_only_on_two_column_time_files(tmp_path: Path) -> None:
    """Item 12: MovieLens ``u.data`` (4 columns), ``u i t`` files and ``user item`` files with
    large item ids that repeat (hashed ids) still load; only a 2-column time column is refused."""
    import warnings

    from pyg_negdiff.data.interactions import DataValidationError
    from pyg_negdiff.data.io import load_dataset

    rows = [(k % 30, 1 + (k * 7) % 40, 1 + k % 5, 874781198 + 7919 * k) for k in range(150)]
    files = {
        "u.data": "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows),
        "uit.txt": "".join(f"{u} {i} {t}\n" for u, i, _, t in rows),
        "hashed.txt": "".join(f"{u} {3_000_000_000 + 104_729 * i}\n" for u, i, _, _ in rows),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, text in files.items():
            (tmp_path / name).write_text(text)
            assert load_dataset(tmp_path / name).train.size(1) > 100, name
        (tmp_path / "ut.txt").write_text("".join(f"{u} {t}\n" for u, _, _, t in rows))
        with pytest.raises(DataValidationError, match="looks like Unix times"):
            load_dataset(tmp_path / "ut.txt")
