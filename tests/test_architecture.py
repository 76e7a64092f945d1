"""The package's shape: the layer contract of pyproject.toml, and files of at most 500 lines."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pyg_negdiff"
MAX_LINES = 500

#: Files allowed over the limit while they wait for a split (none: every split has landed).
OVER_500_PENDING: set[str] = set()


def _lint_imports() -> list[str] | None:
    """The command that runs import-linter, or None when it is not installed."""
    if importlib.util.find_spec("importlinter") is None:
        return None
    script = shutil.which("lint-imports")
    return (
        [script]
        if script
        else [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command as c; " "sys.exit(c())",
        ]
    )


def test_layers_contract_is_kept():
    command = _lint_imports()
    if command is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's package, not an installed one
    proc = subprocess.run(
        [*command, str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout, proc.stdout[-4000:]


def test_no_file_is_over_500_lines():
    sizes = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    over = {
        name: n
        for name, n in sorted(sizes.items())
        if n > MAX_LINES and name not in OVER_500_PENDING
    }
    assert not over, f"files over {MAX_LINES} lines (split them along their seams): " + ", ".join(
        f"pyg_negdiff/{name} ({n})" for name, n in over.items()
    )


def test_code_is_formatted_with_black():
    """The style of pyproject.toml's [tool.black] holds everywhere (``black .`` fixes it)."""
    if importlib.util.find_spec("black") is None:
        pytest.skip("black is not installed (it comes with the docs extra)")
    paths = [str(ROOT / p) for p in ("pyg_negdiff", "tests", "benchmarks", "docs")]
    proc = subprocess.run(
        [sys.executable, "-m", "black", "--check", "--quiet", *paths],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, "not formatted with black (run `black .`):\n" + proc.stderr
