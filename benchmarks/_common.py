"""Helpers shared by the benchmark scripts (run as ``python benchmarks/<name>.py``)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_commit() -> str:
    """The checked-out commit, with ``-dirty`` when the tree has changes; ``unknown`` outside git.

    Changes under ``benchmarks/results`` do not count: a benchmark that runs in
    several parts writes its results there between them, and they are output,
    not the code that produced them. Nor do untracked files outside ``pyg_negdiff/`` and
    ``benchmarks/`` (a log file the run's output was redirected to).
    """
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=root, check=True
        ).stdout.strip()
        # Tracked changes anywhere, and untracked files where code lives: a benchmark's own
        # stdout log at the root (``nohup ... > run.log``) is not code and does not count.
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", ":(exclude)benchmarks/results"],
            capture_output=True,
            text=True,
            cwd=root,
        ).stdout.splitlines()
        dirty = [
            line
            for line in status
            if not line.startswith("??") or line[3:].startswith(("pyg_negdiff/", "benchmarks/"))
        ]
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def replace_block(page: Path, start: str, end: str, block: str) -> None:
    """Writes ``block`` between the ``start`` and ``end`` marker lines of ``page`` (each exactly once).

    The generated parts of the docs pages are written this way, so that a test can regenerate
    them from the result files and compare.
    """
    text = page.read_text()
    if text.count(start) != 1 or text.count(end) != 1:
        raise SystemExit(f"{page} needs one {start} and one {end} line")
    head, rest = text.split(start, 1)
    page.write_text(head + start + "\n" + block.strip() + "\n" + end + rest.split(end, 1)[1])
