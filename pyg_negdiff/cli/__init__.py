"""The ``pyg-negdiff`` command: ``train``, ``tune``, ``run``, ``bench``, ``data inspect``.

The commands live in `pyg_negdiff.cli.train`, `pyg_negdiff.cli.tune` and `pyg_negdiff.cli.bench`,
what they share in `pyg_negdiff.cli.common`; this module holds `main`, the parser and the error
boundary.

Every command runs inside one error boundary (`main`): an expected failure (bad
input, a setting that cannot work, a missing file or driver, an unreachable
storage, a diverged loss) prints one or two lines saying what went wrong, where,
and what to do, and exits with status 2; Ctrl-C exits with status 130 after
saying what was kept. A traceback is printed only with ``--debug``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import traceback
import warnings
from pathlib import Path
from typing import Sequence

# The shared pieces, re-exported: `pyg_negdiff.cli.format_table` and friends keep working.
from pyg_negdiff.cli.common import (
    OPTIONS,
    CommandError,
    add_data_arguments,
    add_run_arguments,
    check_writable,
    format_table,
    load_data,
    option_name,
    result_rows,
    run_config_from_args,
)

__all__ = [
    "main",
    "build_parser",
    "explain",
    "CommandError",
    "format_table",
    "load_data",
    "option_name",
    "check_writable",
    "add_data_arguments",
    "add_run_arguments",
    "run_config_from_args",
    "result_rows",
    "OPTIONS",
]

#: The commands that lived in the former single ``cli.py``, importable from here on first use
#: (PEP 562), so that importing this module stays as light as building the parser.
_MOVED: dict[str, str] = {
    "cmd_train": "pyg_negdiff.cli.train",
    "cmd_data_inspect": "pyg_negdiff.cli.train",
    "checkpoint_for": "pyg_negdiff.cli.train",
}


def __getattr__(name: str):
    if name in _MOVED:
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'pyg_negdiff.cli' has no attribute {name!r}")


def explain(exc: BaseException) -> tuple[str, int]:
    """The message and exit status of a failure that reached the command line.

    Expected failures get status 2 and a message that names the fix; anything
    else is a bug, reported in one line with status 1 (``--debug`` shows the traceback).

    Args:
        exc (BaseException): The exception.

    Returns:
        tuple[str, int]: The message and the exit status.

    Examples:
        >>> from pyg_negdiff.experiment import ConfigError
        >>> explain(ConfigError("embedding_dim", 0, "must be an integer >= 1"))
        ('--dim 0: must be an integer >= 1', 2)
    """
    from pyg_negdiff.distributed import RankZeroAborted
    from pyg_negdiff.experiment import ConfigError
    from pyg_negdiff.train import NonFiniteLossError

    if isinstance(exc, ConfigError):
        value = exc.value
        if exc.key == "sampler_kwargs" and isinstance(value, dict):
            value = " ".join(f"{k}={v}" for k, v in value.items())
        if isinstance(value, (list, tuple)):  # nargs="+": as typed, "--num-neighbors 20 10"
            value = " ".join(map(str, value))
        if isinstance(value, bool) or value is None:  # a flag, or an option not given
            return f"{option_name(exc.key)}: {exc.problem}", 2
        return f"{option_name(exc.key)} {value}: {exc.problem}", 2
    if isinstance(exc, (CommandError, NonFiniteLossError, RankZeroAborted, ValueError)):
        return str(exc), 2
    if isinstance(exc, OSError):  # files, folders, disks, sockets: the environment, not a bug
        if exc.filename is not None and exc.strerror:
            return f"{exc.filename}: {exc.strerror}; check the path and its permissions", 2
        return str(exc), 2
    if isinstance(exc, ModuleNotFoundError):
        return f"{exc}; install it (pip install {exc.name}) or the extra that provides it", 2
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return "out of memory; lower --batch-size or --dim, or use a smaller dataset", 2
    first = str(exc).splitlines()[0] if str(exc) else ""
    return (
        f"unexpected {type(exc).__name__}: {first}; this is a bug: rerun with --debug and "
        f"report the traceback"
    ), 1


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``pyg-negdiff`` and all its subcommands (each leaf also takes ``--debug``)."""
    parser = argparse.ArgumentParser(
        prog="pyg-negdiff",
        description="Graph recommenders with diffusion-based and causal negative sampling.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {importlib.import_module('pyg_negdiff').__version__}",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    # Imported here, inside main's error boundary. They read names and defaults only
    # (`pyg_negdiff.cli.names`, `RunConfig`): building the parser imports no torch, PyG or Optuna.
    from pyg_negdiff.cli.bench import add_bench_command
    from pyg_negdiff.cli.train import add_train_commands
    from pyg_negdiff.cli.tune import add_tune_commands

    add_train_commands(sub)
    add_tune_commands(sub)
    add_bench_command(sub)
    for command in _commands(parser):
        command.add_argument(
            "--debug",
            action="store_true",
            help="show the Python traceback of a failure (for bug reports)",
        )
        _show_defaults(command)
    return parser


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Appends ``(default: X)`` to every option whose help does not say it already.

    Flags (default false) and options whose default means "not given" (``None``, ``[]``) are left
    as they are. argparse's `ArgumentDefaultsHelpFormatter` would repeat the defaults the help
    texts already give, and skip the options without a help text.
    """
    for action in parser._actions:
        default = action.default
        if isinstance(default, bool) or default in (None, argparse.SUPPRESS, []):
            continue
        if action.help and "default" in action.help:
            continue
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        text = f"(default: {shown})".replace("%", "%%")  # argparse expands %-formats in help
        action.help = f"{action.help} {text}" if action.help else text


def _commands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers that run a command (the leaves of the sub-command tree)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    return [
        leaf
        for a in subs
        for child in dict.fromkeys(a.choices.values())
        for leaf in _commands(child)
    ]


#: Imported once the arguments are parsed, before the command runs, with Ctrl-C held back until
#: they are done: a
#: KeyboardInterrupt in the middle of one leaves it half-initialized, and libraries that import
#: them catch broad exceptions, so an interrupt there came out as an unrelated error (numpy
#: "has no attribute", "cannot load module more than once") or was swallowed and the run went on.
HEAVY_IMPORTS = ("torch", "torch_geometric")


@contextlib.contextmanager
def _sigint_deferred():
    """Holds SIGINT back inside the block and raises KeyboardInterrupt after it if one came."""
    pending: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    if previous is not signal.default_int_handler:  # ignored (a background job) or someone else's
        signal.signal(signal.SIGINT, previous)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


#: The package's folder: a warning raised from a file below it is one of our data notes.
_PACKAGE = str(Path(__file__).resolve().parents[1])


def _show_note(message, category, filename, lineno, file=None, line=None) -> None:
    """Prints a warning of this library as one ``pyg-negdiff: note:`` line (not with its
    source line); other libraries' warnings keep Python's format."""
    if str(Path(filename).resolve()).startswith(_PACKAGE) and issubclass(category, UserWarning):
        print(f"pyg-negdiff: note: {message}", file=file or sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``pyg-negdiff`` command: the one error boundary of the command line.

    Args:
        argv (Sequence[str], optional): The arguments (default: ``sys.argv[1:]``).

    Returns:
        int: The exit status: ``0`` on success, ``2`` on an expected failure (bad
        input or settings, a missing file, driver or server, a diverged loss),
        ``130`` after Ctrl-C, ``1`` on a bug.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        # Parsed first: --help, --version and a mistyped option answer before torch is imported.
        args = build_parser().parse_args(argv)
        with _sigint_deferred():  # Ctrl-C while torch, numpy, scipy or PyG import: after them
            for module in HEAVY_IMPORTS:
                importlib.import_module(module)
        if getattr(args, "no_progress", True) is False and not _is_terminal(sys.stderr):
            # Bars redraw with \r and cursor-up codes: in a log file they are noise.
            args.no_progress = True
        with warnings.catch_warnings():
            warnings.showwarning = _show_note
            return args.func(args)
    except KeyboardInterrupt as exc:
        if debug:
            traceback.print_exc()
        print(
            f"pyg-negdiff: interrupted (Ctrl-C) {str(exc) or 'before anything was written'}",
            file=sys.stderr,
        )
        return 130
    except Exception as exc:  # noqa: BLE001 - the boundary: every failure becomes a message
        if debug:  # the traceback for a bug report, and still the status scripts test
            traceback.print_exc()
        message, status = explain(exc)
        print(f"pyg-negdiff: error: {message}", file=sys.stderr)
        return status
