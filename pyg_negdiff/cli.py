"""The ``pyg-negdiff`` command: ``train``, ``tune``, ``run``, ``data inspect``.

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
import json
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence



def format_table(rows: dict[str, dict[str, float]], columns: Sequence[str] | None = None) -> str:
    """A plain-text table: one row per part, one column per metric.

    Examples:
        >>> print(format_table({"test": {"recall@20": 0.1234, "ndcg@20": 0.05}}))
        part    recall@20  ndcg@20
        test       0.1234   0.0500
    """
    columns = list(columns or dict.fromkeys(k for r in rows.values() for k in r if "/" not in k))
    width = max([4] + [len(p) for p in rows]) + 2
    head = "part".ljust(width) + "".join(c.rjust(max(len(c), 7) + 2) for c in columns)
    lines = [head.rstrip()]
    for part, values in rows.items():
        cells = "".join(
            (f"{values[c]:.4f}" if c in values else "-").rjust(max(len(c), 7) + 2) for c in columns)
        lines.append((part.ljust(width) + cells).rstrip())
    return "\n".join(lines)


class CommandError(Exception):
    """An expected failure of a command, with the message to print (what, where, what to do).

    Args:
        message (str): One or two lines for the user.
    """


#: `RunConfig` fields whose command-line option is not ``--<field-with-dashes>``.
OPTIONS = {"embedding_dim": "--dim", "num_layers": "--layers", "sampler_kwargs": "--sampler-arg",
           "penalty_weight": "--penalty", "sparse_gradients": "--dense-gradients"}


def option_name(key: str) -> str:
    """The command-line option of a `RunConfig` field.

    Args:
        key (str): The field, e.g. ``"embedding_dim"``.

    Returns:
        str: The option, e.g. ``"--dim"``.

    Examples:
        >>> option_name("embedding_dim"), option_name("batch_size")
        ('--dim', '--batch-size')
    """
    return OPTIONS.get(key, "--" + key.replace("_", "-"))


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
        if isinstance(value, bool):  # a flag: its name says it all
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
    return (f"unexpected {type(exc).__name__}: {first}; this is a bug: rerun with --debug and "
            f"report the traceback"), 1


def check_writable(path: str | Path, option: str = "--out") -> Path:
    """Checks, before any work, that ``path`` can be written (creating its folder).

    Args:
        path (str or Path): A file to write later.
        option (str): The option that gave it, for the message.

    Returns:
        Path: ``path``.

    Raises:
        CommandError: When it is a folder, or its folder cannot be made or written.

    Examples:
        >>> import tempfile, os
        >>> check_writable(os.path.join(tempfile.mkdtemp(), "runs", "a.json")).name
        'a.json'
    """
    path = Path(path)
    if path.is_dir():
        raise CommandError(f"{option} {path} is a folder; give a file name, e.g. {path / 'train.json'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise CommandError(f"{option} {path}: cannot write in {path.parent} ({exc.strerror or exc}); "
                           f"choose a writable place with {option}") from None
    return path


def _kv(text: str) -> tuple[str, Any]:
    """Parses ``key=value`` with the value read as JSON when possible (numbers, booleans)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        pass
    try:  # "nan", "inf": numbers to Python, refused by the validation with a clear message
        return key, float(value)
    except ValueError:
        return key, value


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments that pick and split a dataset (shared by every subcommand).

    Args:
        parser (argparse.ArgumentParser): The (sub)command's parser.
    """
    from pyg_negdiff.data.io import FORMATS  # imports torch: inside the error boundary
    from pyg_negdiff.data.prepare import BUILTIN

    parser.add_argument("--data", default="synthetic",
                        help=f"a path, or one of {', '.join(BUILTIN)} (default: synthetic)")
    parser.add_argument("--format", default="auto", choices=list(FORMATS),
                        help="file layout (default: auto, decided from the whole file; an "
                             "ambiguous file is refused): lightgcn 'u i i ...', pairs 'u i', "
                             "uiw 'u i weight', uit 'u i time', uirt 'u i rating time', recbole, csv")
    parser.add_argument("--on-bad-line", default="error", choices=["error", "skip"],
                        help="a malformed line: stop with its line number (default), or skip it "
                             "and count the lines skipped")
    parser.add_argument("--min-rating", type=float, default=None,
                        help="keep interactions rated at least this (files with a rating or "
                             "weight column; ml-100k and PyG's MovieLens sets default to 4)")
    csv_options = parser.add_argument_group("CSV columns (default: found by name, e.g. userId, movieId, timestamp)")
    for role, what in (("user", "user ids"), ("item", "item ids"),
                       ("time", "timestamps or ISO dates ('' reads none)"),
                       ("rating", "ratings that --min-rating thresholds")):
        csv_options.add_argument(f"--{role}-col", default=None, metavar="NAME",
                                 help=f"column of the {what}")
    csv_options.add_argument("--sep", default=None, help="field delimiter of a CSV file (default: ,)")
    from pyg_negdiff.data.prepare import SHIFTS

    parser.add_argument("--shift", default="auto", choices=["auto", "none", "holdout", *SHIFTS],
                        help="the split (default: auto); longtail: a popularity split whose OOD "
                             "test holds only items outside the top third by popularity")
    parser.add_argument("--data-root", default=None,
                        help="folder of the built-in datasets (default: $PYG_NEGDIFF_DATA or ../shared/data)")
    parser.add_argument("--seed", type=int, default=0)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Model, sampler and optimization settings of one run (a `RunConfig`)."""
    parser.add_argument("--model", default="lightgcn", choices=["lightgcn", "ngcf", "mf"])
    parser.add_argument("--dim", dest="embedding_dim", type=int, default=64)
    parser.add_argument("--layers", dest="num_layers", type=int, default=3)
    parser.add_argument("--sampler", default="uniform")
    parser.add_argument("--sampler-arg", dest="sampler_kwargs", type=_kv, action="append", default=[],
                        metavar="KEY=VALUE", help="extra sampler constructor argument (repeatable)")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--penalty", dest="penalty_weight", type=float, default=0.0,
                        help="weight of the environment variance penalty (0: off)")
    parser.add_argument("--environments", default="popularity",
                        help="environment strategy for --penalty and --condition-on-environment "
                             "(popularity, activity, time, oracle, eiil, cluster)")
    parser.add_argument("--num-environments", type=int, default=3)
    parser.add_argument("--condition-on-environment", action="store_true",
                        help="condition the diffusion sampler's denoiser on the environments (cnsdiff, adar)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0")
    parser.add_argument("--propagation", default="full", choices=["full", "neighbor"],
                        help="full: the whole graph every step; neighbor: the batch's sampled subgraph")
    parser.add_argument("--num-neighbors", type=int, nargs="+", default=None, metavar="K",
                        help="fan-out per layer of --propagation neighbor, -1 for all (e.g. 20 10 5)")
    parser.add_argument("--neighbor-engine", default="auto", choices=["auto", "pyg", "torch"],
                        help="neighbour sampling of --propagation neighbor: PyG's NeighborSampler (needs "
                             "pyg-lib or torch-sparse), plain PyTorch, or auto (pyg when installed)")
    parser.add_argument("--dense-gradients", action="store_true",
                        help="--propagation neighbor with dense embedding gradients and Adam instead of "
                             "sparse ones and SparseAdam (e.g. where the backend cannot all-reduce sparse tensors)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run_config_from_args(args: argparse.Namespace):
    """The `RunConfig` of the parsed arguments, validated (`RunConfig.validate`).

    Args:
        args (argparse.Namespace): Arguments of `add_run_arguments` and ``--seed``.

    Returns:
        RunConfig: The configuration.
    """
    from pyg_negdiff.experiment import RunConfig

    return RunConfig(model=args.model, embedding_dim=args.embedding_dim, num_layers=args.num_layers,
                     sampler=args.sampler, sampler_kwargs=dict(args.sampler_kwargs), lr=args.lr,
                     l2=args.l2, batch_size=args.batch_size, epochs=args.epochs,
                     patience=args.patience, penalty_weight=args.penalty_weight,
                     environments=args.environments, num_environments=args.num_environments,
                     condition_on_environment=args.condition_on_environment,
                     seed=args.seed, device=args.device, propagation=args.propagation,
                     num_neighbors=args.num_neighbors, neighbor_engine=args.neighbor_engine,
                     sparse_gradients=not args.dense_gradients).validate()


def load_data(args: argparse.Namespace):
    """Loads and splits the dataset that ``args`` names, printing how it was read (stderr).

    Args:
        args (argparse.Namespace): Parsed arguments of `add_data_arguments`.

    Returns:
        InteractionData: The split dataset.
    """
    from pyg_negdiff.data.prepare import load, load_report, split

    options = {key: value for key in ("min_rating", "user_col", "item_col", "time_col",
                                      "rating_col", "sep")
               if (value := getattr(args, key, None)) is not None}
    if getattr(args, "on_bad_line", "error") != "error":
        options["on_bad_line"] = args.on_bad_line
    data = load(args.data, format=args.format, root=args.data_root, seed=args.seed, **options)
    for line in load_report(data):
        print(line, file=sys.stderr)
    return split(data, args.shift, seed=args.seed)


def result_rows(result) -> dict[str, dict[str, float]]:
    rows = {"val (best epoch)": result.best_val} if result.best_val else {}
    rows.update(result.test)
    return rows


def checkpoint_for(args: argparse.Namespace) -> Path | None:
    """The checkpoint of ``train``, checked against ``--resume``/``--overwrite`` before any work.

    An existing checkpoint is never replaced silently: it is continued with
    ``--resume`` or replaced with ``--overwrite``.

    Args:
        args (argparse.Namespace): ``train``'s arguments.

    Returns:
        Path, optional: ``--out`` with the suffix ``.pt``; ``None`` without
        ``--checkpoint``, ``--resume`` or ``--overwrite``.

    Raises:
        CommandError: ``--resume`` without a checkpoint, an unreadable one, or an
            existing one without either flag.
    """
    from pyg_negdiff.train import read_checkpoint

    if not (args.checkpoint or args.resume or args.overwrite):
        return None
    path = check_writable(Path(args.out).with_suffix(".pt"), "--out")
    if args.resume:
        if not path.exists():
            raise CommandError(f"--resume: there is no checkpoint {path} to continue (the earlier run saved "
                               f"none); run again without --resume")
        epoch = read_checkpoint(path)["resume"]["loop"]["epoch"]
        print(f"resuming from {path}: epoch {epoch} was the last complete one")
    elif path.exists() and not args.overwrite:
        raise CommandError(f"checkpoint {path} already exists (an earlier run); add --resume to continue it, "
                           f"or --overwrite to start over and replace it")
    return path


def _saved_epoch(path: Path | None) -> str:
    """What an interrupted ``train`` kept, for the Ctrl-C message."""
    from pyg_negdiff.train import read_checkpoint

    if path is None:
        return "nothing was saved (add --checkpoint to make a run resumable)"
    if not path.exists():
        return f"no epoch had ended, so {path} was not written"
    epoch = read_checkpoint(path)["resume"]["loop"]["epoch"]
    return f"{path} holds epoch {epoch}: rerun the same command with --resume to continue"


def cmd_train(args: argparse.Namespace) -> int:
    """Trains one configuration and writes its JSON result (and checkpoint)."""
    from pyg_negdiff.experiment import run
    from pyg_negdiff.train import NonFiniteLossError

    config = run_config_from_args(args)
    out = check_writable(args.out)
    checkpoint = checkpoint_for(args)
    try:
        data = load_data(args)
    except KeyboardInterrupt:
        raise KeyboardInterrupt("while loading the data, before training; nothing was written") from None
    print(data.summary())
    try:
        result = run(config, data, progress=not args.no_progress, checkpoint_path=checkpoint,
                     resume=args.resume)
    except NonFiniteLossError as exc:
        if exc.result is None:
            raise
        exc.result.save(out)
        raise CommandError(f"{exc}\nThe history so far and the test metrics of the restored weights "
                           f"are written to {out}.") from exc
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"during training; {_saved_epoch(checkpoint)}") from None
    from pyg_negdiff.distributed import is_main_process

    if not is_main_process():  # under torchrun, rank 0 reports and writes
        return 0
    print(f"\nbest epoch {result.best_epoch} (of {len(result.history)}), "
          f"{result.epoch_time:.2f} s per training epoch")
    print(format_table(result_rows(result)))
    result.save(out)
    print(f"\nresults written to {out}")
    return 0


def cmd_data_inspect(args: argparse.Namespace) -> int:
    from pyg_negdiff.data.diagnostics import plot_popularity, shift_report

    if args.plot:
        check_writable(args.plot, "--plot")
    data = load_data(args)
    print(data.summary())
    print()
    print(shift_report(data))
    for note in data.notes:
        print(f"note: {note}")
    if args.plot:
        plot_popularity(data, args.plot)
        print(f"\npopularity plot written to {args.plot}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyg-negdiff",
        description="Graph recommenders with diffusion-based and causal negative sampling.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {importlib.import_module('pyg_negdiff').__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train one model and print its metrics")
    add_data_arguments(train)
    add_run_arguments(train)
    train.add_argument("--out", default="runs/train.json", help="JSON result file")
    train.add_argument("--checkpoint", action="store_true",
                       help="keep a checkpoint next to the JSON file (.pt): the best weights and the "
                            "last epoch, so that an interrupted run can be resumed")
    again = train.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue the run saved in the checkpoint (same settings), from its last epoch")
    again.add_argument("--overwrite", action="store_true",
                       help="start over, replacing an existing checkpoint")
    train.set_defaults(func=cmd_train)

    data = sub.add_parser("data", help="dataset utilities")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    inspect = data_sub.add_parser("inspect", help="sizes and distribution-shift diagnostics")
    add_data_arguments(inspect)
    inspect.add_argument("--plot", default=None, help="write a train-vs-test popularity plot (PNG)")
    inspect.set_defaults(func=cmd_data_inspect)

    try:
        from pyg_negdiff.tune.cli import add_tune_commands
    except ImportError:  # the tuning commands need optuna, a core dependency: should not happen
        add_tune_commands = None
    if add_tune_commands is not None:
        add_tune_commands(sub)
        from pyg_negdiff.bench.cli import add_bench_command

        add_bench_command(sub)
    for command in _commands(parser):
        command.add_argument("--debug", action="store_true",
                             help="show the Python traceback of a failure (for bug reports)")
    return parser


def _commands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers that run a command (the leaves of the sub-command tree)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    return [leaf for a in subs for child in dict.fromkeys(a.choices.values()) for leaf in _commands(child)]


#: Imported before anything else runs, with Ctrl-C held back until they are done: a
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
        with _sigint_deferred():  # Ctrl-C while torch, numpy, scipy or PyG import: after them
            for module in HEAVY_IMPORTS:
                importlib.import_module(module)
            parser = build_parser()
        args = parser.parse_args(argv)
        return args.func(args)
    except KeyboardInterrupt as exc:
        if debug:
            raise
        print(f"pyg-negdiff: interrupted (Ctrl-C) {str(exc) or 'before anything was written'}",
              file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the boundary: every failure becomes a message
        if debug:
            raise
        message, status = explain(exc)
        print(f"pyg-negdiff: error: {message}", file=sys.stderr)
        return status


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: the tuning commands import
    # pyg_negdiff.cli, and its classes (CommandError) must be the ones the boundary catches.
    from pyg_negdiff.cli import main as _main

    sys.exit(_main())
