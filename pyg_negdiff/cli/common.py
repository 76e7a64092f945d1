"""What every ``pyg-negdiff`` command shares: arguments, data loading, tables, `CommandError`.

The choices of ``--model``, ``--shift`` and ``--propagation`` are read from the registries
(`pyg_negdiff.nn.MODELS`, `pyg_negdiff.data.prepare.SHIFTS`, `pyg_negdiff.propagation.PROPAGATIONS`),
so a new entry needs no edit here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

__all__ = [
    "CommandError",
    "format_table",
    "option_name",
    "check_writable",
    "refuse_existing",
    "add_data_arguments",
    "add_run_arguments",
    "run_config_from_args",
    "load_data",
    "result_rows",
    "OPTIONS",
]


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
            (f"{values[c]:.4f}" if c in values else "-").rjust(max(len(c), 7) + 2) for c in columns
        )
        lines.append((part.ljust(width) + cells).rstrip())
    return "\n".join(lines)


class CommandError(Exception):
    """An expected failure of a command, with the message to print (what, where, what to do).

    Args:
        message (str): One or two lines for the user.
    """


#: `RunConfig` fields whose command-line option is not ``--<field-with-dashes>``.
OPTIONS = {
    "embedding_dim": "--dim",
    "num_layers": "--layers",
    "sampler_kwargs": "--sampler-arg",
    "penalty_weight": "--penalty",
    "penalty": "--penalty-kind",
    "sparse_gradients": "--dense-gradients",
}


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
        raise CommandError(
            f"{option} {path} is a folder; give a file name, e.g. {path / 'train.json'}"
        )
    if path.exists() and not path.is_file() and os.access(path, os.W_OK):
        # A device such as /dev/null is written in place; its folder need not be writable.
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise CommandError(
            f"{option} {path}: cannot write in {path.parent} ({exc.strerror or exc}); "
            f"choose a writable place with {option}"
        ) from None
    return path


def refuse_existing(path: str | Path, option: str, flag: str = "--overwrite") -> Path:
    """Refuses, before any work, to replace a file that exists: nothing is lost silently.

    Args:
        path (str or Path): A file the command would write.
        option (str): The option that gave it, for the message.
        flag (str): The option that allows replacing it.

    Returns:
        Path: ``path``.

    Raises:
        CommandError: When ``path`` exists.
    """
    path = Path(path)
    if path.exists():
        raise CommandError(
            f"{option} {path} already exists; choose another name with {option}, or add "
            f"{flag} to replace it"
        )
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
    from pyg_negdiff.cli.names import BUILTIN, FORMATS, SHIFTS  # not the registries: no torch

    parser.add_argument(
        "--data",
        default="synthetic",
        help=f"a path, or one of {', '.join(BUILTIN)} (default: synthetic)",
    )
    parser.add_argument(
        "--format",
        default="auto",
        choices=list(FORMATS),
        help="file layout (default: auto, decided from the whole file; an "
        "ambiguous file is refused): lightgcn 'u i i ...', pairs 'u i', "
        "uiw 'u i weight', uit 'u i time', uirt 'u i rating time', recbole, csv",
    )
    parser.add_argument(
        "--on-bad-line",
        default="error",
        choices=["error", "skip"],
        help="a malformed line: stop with its line number (default), or skip it "
        "and count the lines skipped",
    )
    parser.add_argument(
        "--min-rating",
        type=float,
        default=None,
        help="keep interactions rated at least this (files with a rating or "
        "weight column; ml-100k and PyG's MovieLens sets default to 4)",
    )
    csv_options = parser.add_argument_group(
        "CSV columns (default: found by name, e.g. userId, movieId, timestamp)"
    )
    for role, what in (
        ("user", "user ids"),
        ("item", "item ids"),
        ("time", "timestamps or ISO dates ('' reads none)"),
        ("rating", "ratings that --min-rating thresholds"),
    ):
        csv_options.add_argument(
            f"--{role}-col", default=None, metavar="NAME", help=f"column of the {what}"
        )
    csv_options.add_argument(
        "--sep", default=None, help="field delimiter of a CSV file (default: ,)"
    )
    csv_options.add_argument(
        "--encoding",
        default=None,
        help="text encoding of a CSV file, e.g. latin-1 or cp1252 (default: UTF-8)",
    )
    # "auto", "none" and "holdout" are not shifts: the data's own split, no split, a random holdout.
    parser.add_argument(
        "--shift",
        default="auto",
        choices=["auto", "none", "holdout", *SHIFTS],
        help="the split (default: auto); longtail: a popularity split whose OOD "
        "test holds only items outside the top third by popularity",
    )
    parser.add_argument(
        "--data-root",
        default=None,
        help="folder of the built-in datasets (default: $PYG_NEGDIFF_DATA or ../shared/data)",
    )
    parser.add_argument("--seed", type=int, default=0)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Model, sampler and optimization settings of one run (a `RunConfig`)."""
    from pyg_negdiff.cli.names import MODELS, PENALTIES, PROPAGATIONS, STRATEGIES  # no torch
    from pyg_negdiff.experiment.config import RunConfig

    # The defaults are RunConfig's, so that the command line and the library train alike.
    d = RunConfig()
    parser.add_argument(
        "--model", default=d.model, choices=list(MODELS), help=f"backbone (default: {d.model})"
    )
    parser.add_argument(
        "--dim",
        dest="embedding_dim",
        type=int,
        default=d.embedding_dim,
        help=f"embedding size (default: {d.embedding_dim})",
    )
    parser.add_argument(
        "--layers",
        dest="num_layers",
        type=int,
        default=d.num_layers,
        help=f"propagation layers (default: {d.num_layers})",
    )
    parser.add_argument(
        "--sampler", default=d.sampler, help=f"negative sampler (default: {d.sampler})"
    )
    parser.add_argument(
        "--sampler-arg",
        dest="sampler_kwargs",
        type=_kv,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra sampler constructor argument (repeatable)",
    )
    parser.add_argument(
        "--lr", type=float, default=d.lr, help=f"Adam learning rate (default: {d.lr:g})"
    )
    parser.add_argument(
        "--l2", type=float, default=d.l2, help=f"weight of the L2 term (default: {d.l2:g})"
    )
    parser.add_argument(
        "--batch-size", type=int, default=d.batch_size, help=f"(default: {d.batch_size})"
    )
    parser.add_argument(
        "--epochs", type=int, default=d.epochs, help=f"maximum epochs (default: {d.epochs})"
    )
    parser.add_argument(
        "--patience",
        type=int,
        default=d.patience,
        help=f"validations without improvement before stopping (default: {d.patience})",
    )
    parser.add_argument(
        "--penalty",
        dest="penalty_weight",
        type=float,
        default=0.0,
        help="weight of the environment penalty (0: off)",
    )
    parser.add_argument(
        "--penalty-kind",
        dest="penalty",
        default=d.penalty,
        choices=list(PENALTIES),
        help="the penalty --penalty weighs: vrex, the variance of the environment risks; irm, "
        f"IRMv1's gradient penalty; margin-vrex, the variance of the mean BPR margins; "
        f"balanced, the environment-balanced risk alone (default: {d.penalty})",
    )
    parser.add_argument(
        "--environments",
        default=d.environments,
        help="environment strategy for --penalty and --condition-on-environment "
        f"({', '.join(STRATEGIES)})",
    )
    parser.add_argument("--num-environments", type=int, default=d.num_environments)
    parser.add_argument(
        "--condition-on-environment",
        action="store_true",
        help="condition the diffusion sampler's denoiser on the environments (cnsdiff, adar)",
    )
    parser.add_argument("--device", default=d.device, help="torch device, e.g. cpu or cuda:0")
    parser.add_argument(
        "--propagation",
        default=d.propagation,
        choices=list(PROPAGATIONS),
        help="full: the whole graph every step; neighbor: the batch's sampled subgraph",
    )
    parser.add_argument(
        "--num-neighbors",
        type=int,
        nargs="+",
        default=None,
        metavar="K",
        help="fan-out per layer of --propagation neighbor, -1 for all (e.g. 20 10 5)",
    )
    parser.add_argument(
        "--neighbor-engine",
        default=d.neighbor_engine,
        choices=["auto", "pyg", "torch"],
        help="neighbour sampling of --propagation neighbor: PyG's NeighborSampler (needs "
        "pyg-lib or torch-sparse), plain PyTorch, or auto (pyg when installed)",
    )
    parser.add_argument(
        "--dense-gradients",
        action="store_true",
        help="--propagation neighbor with dense embedding gradients and Adam instead of "
        "sparse ones and SparseAdam (e.g. where the backend cannot all-reduce sparse tensors)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run_config_from_args(args: argparse.Namespace, *, tuned_penalty: bool = False):
    """The `RunConfig` of the parsed arguments, validated (`RunConfig.validate`).

    Args:
        args (argparse.Namespace): Arguments of `add_run_arguments` and ``--seed``.
        tuned_penalty (bool): ``tune --tune-penalty``: the environments are used.

    Returns:
        RunConfig: The configuration.
    """
    from pyg_negdiff.experiment import RunConfig

    from pyg_negdiff.cli.checks import check_environment_options  # checks imports this module

    check_environment_options(args, tuned=tuned_penalty)

    return RunConfig(
        model=args.model,
        embedding_dim=args.embedding_dim,
        num_layers=args.num_layers,
        sampler=args.sampler,
        sampler_kwargs=dict(args.sampler_kwargs),
        lr=args.lr,
        l2=args.l2,
        batch_size=args.batch_size,
        epochs=args.epochs,
        patience=args.patience,
        penalty_weight=args.penalty_weight,
        penalty=getattr(args, "penalty", RunConfig.penalty),
        environments=args.environments,
        num_environments=args.num_environments,
        condition_on_environment=args.condition_on_environment,
        seed=args.seed,
        device=args.device,
        propagation=args.propagation,
        num_neighbors=args.num_neighbors,
        neighbor_engine=args.neighbor_engine,
        sparse_gradients=not args.dense_gradients,
    ).validate()


def load_data(args: argparse.Namespace, *, evaluate: bool = True):
    """Loads and splits the dataset that ``args`` names, printing how it was read (stderr).

    Args:
        args (argparse.Namespace): Parsed arguments of `add_data_arguments`.
        evaluate (bool): The command trains and evaluates, so the split must hold a
            validation part and a test part (without them a run "works" and measures nothing).

    Returns:
        InteractionData: The split dataset.

    Raises:
        CommandError: With ``evaluate``, when the split lacks a validation or test part.
    """
    from pyg_negdiff.data.prepare import load, load_report, split

    options = {
        key: value
        for key in (
            "min_rating",
            "user_col",
            "item_col",
            "time_col",
            "rating_col",
            "sep",
            "encoding",
        )
        if (value := getattr(args, key, None)) is not None
    }
    if getattr(args, "on_bad_line", "error") != "error":
        options["on_bad_line"] = args.on_bad_line
    data = load(args.data, format=args.format, root=args.data_root, seed=args.seed, **options)
    for line in load_report(data):
        print(line, file=sys.stderr)
    data = split(data, args.shift, seed=args.seed)
    if evaluate:
        require_evaluation_parts(data, args.shift)
    return data


def require_evaluation_parts(data, shift: str) -> None:
    """Refuses a split without a validation part or without a test part, naming ``--shift``.

    Args:
        data (InteractionData): The split data.
        shift (str): The ``--shift`` that made it.

    Raises:
        CommandError: Naming the missing parts and the fix.
    """
    tests = [p for p in data.eval_parts if p != "val"]
    missing = ([] if "val" in data.parts else ["a validation part"]) + (
        [] if tests else ["a test part"]
    )
    if missing:
        raise CommandError(
            f"--shift {shift}: {data.name} has {' and '.join(missing)} missing (parts: "
            f"{', '.join(data.parts)}), so nothing would be measured; use --shift auto or "
            f"another split (random, popularity, temporal, ...), or give a folder with "
            f"train.txt, val.txt and test.txt"
        )


def result_rows(result) -> dict[str, dict[str, float]]:
    """The rows of a `TrainResult`'s table: the best validation epoch, then every test part."""
    rows = {"val (best epoch)": result.best_val} if result.best_val else {}
    rows.update(result.test)
    return rows
