"""``--help`` and ``--version`` answer without importing torch, PyG or Optuna (issue 24, item 15).

Each case runs in a fresh interpreter, so that no other test's imports hide a heavy one. Its time
is measured in ``benchmarks/cli_help_time.py`` (a ratio to Python's own start-up), not here.
"""

import argparse
import subprocess
import sys

import pytest

HEAVY = ("torch", "torch_geometric", "optuna")

# Runs every leaf command's --help (and the top level's, and --version) in one process, then
# prints the heavy modules that got imported.
PROBE = """
import contextlib, io, sys
from pyg_negdiff.cli import _commands, build_parser, main
leaves = [leaf.prog.split()[1:] for leaf in _commands(build_parser())]
for argv in [["--help"], ["--version"], *[[*leaf, "--help"] for leaf in leaves]]:
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        try:
            main(argv)
        except SystemExit as exc:
            assert exc.code == 0, (argv, exc.code)
    assert text.getvalue().strip(), argv
print(len(leaves), *[m for m in %r if m in sys.modules])
""" % (HEAVY,)


def test_help_of_every_command_imports_no_torch_pyg_or_optuna():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    count, *heavy = out.stdout.split()
    assert int(count) >= 5  # train, run, tune, bench, data inspect
    assert heavy == [], f"--help imported {heavy}"


def test_train_help_shows_the_defaults_the_issue_names():
    out = subprocess.run(
        [sys.executable, "-m", "pyg_negdiff.cli", "train", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split("options:", 1)[1].split())
    for option in (
        "--lr",
        "--epochs",
        "--dim",
        "--layers",
        "--sampler",
        "--batch-size",
        "--patience",
    ):
        # The option's own entry (argparse wraps it), up to the next option.
        entry = text.split(f" {option} ", 1)[1].split(" --", 1)[0]
        assert "(default: " in entry, (option, entry)


def test_every_option_with_a_default_shows_it():
    from pyg_negdiff.cli import _commands, build_parser

    missing = [
        f"{leaf.prog} {action.option_strings[0]}"
        for leaf in _commands(build_parser())
        for action in leaf._actions
        if not isinstance(action.default, bool)
        and action.default not in (None, argparse.SUPPRESS, [])
        and "default" not in (action.help or "")
    ]
    assert missing == []


def test_a_mistyped_option_is_refused_before_torch_is_imported():
    probe = (
        "import sys\nfrom pyg_negdiff.cli import main\n"
        "try:\n    main(['train', '--lr', 'fast'])\n"
        "except SystemExit as exc:\n    print(exc.code, *[m for m in %r if m in sys.modules])\n"
    ) % (HEAVY,)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.split() == ["2"], out.stdout + out.stderr
    assert "--lr: invalid float value: 'fast'" in out.stderr


@pytest.mark.parametrize("module", ["pyg_negdiff", "pyg_negdiff.cli"])
def test_python_dash_m_runs_the_command(module):
    from pyg_negdiff import __version__

    out = subprocess.run(
        [sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert __version__ in out.stdout
