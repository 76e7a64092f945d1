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
        setup (Callable, optional): Writes more files into the folder first.
    """

    item: str
    argv: list[str]
    code: int = 2
    words: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    setup: Callable[[Path], None] | None = None


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
        words=["not a pyg_negdiff checkpoint", "--overwrite"],
        keep=["garbage.pt"],
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
    assert "Traceback" not in out + err, err
    assert code == case.code, (code, out, err)
    text = err if code else out + err
    if code:
        assert "pyg-negdiff: error: " in err, err
        assert "this is a bug" not in err, err
    for word in case.words:
        assert word in text, (word, text)
    for file in case.keep:
        assert (tmp_path / file).exists() and _digest(tmp_path / file) == before[file], file
    for file in case.absent:
        assert not (tmp_path / file).exists(), file
