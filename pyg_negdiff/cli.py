"""The ``pyg-negdiff`` command: ``train``, ``tune``, ``run``, ``data inspect``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from pyg_negdiff.data.prepare import BUILTIN


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


def _kv(text: str) -> tuple[str, Any]:
    """Parses ``key=value`` with the value read as JSON when possible (numbers, booleans)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments that pick and split a dataset (shared by every subcommand).

    Args:
        parser (argparse.ArgumentParser): The (sub)command's parser.
    """
    from pyg_negdiff.data.io import FORMATS

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
    parser.add_argument("--shift", default="auto",
                        choices=["auto", "none", "holdout", "random", "popularity", "temporal",
                                 "exposure", "mixed"])
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
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run_config_from_args(args: argparse.Namespace):
    from pyg_negdiff.experiment import RunConfig

    return RunConfig(model=args.model, embedding_dim=args.embedding_dim, num_layers=args.num_layers,
                     sampler=args.sampler, sampler_kwargs=dict(args.sampler_kwargs), lr=args.lr,
                     l2=args.l2, batch_size=args.batch_size, epochs=args.epochs,
                     patience=args.patience, penalty_weight=args.penalty_weight,
                     environments=args.environments, num_environments=args.num_environments,
                     condition_on_environment=args.condition_on_environment,
                     seed=args.seed, device=args.device, propagation=args.propagation,
                     num_neighbors=args.num_neighbors)


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


def cmd_train(args: argparse.Namespace) -> int:
    from pyg_negdiff.experiment import run

    data = load_data(args)
    print(data.summary())
    config = run_config_from_args(args)
    result = run(config, data, progress=not args.no_progress,
                 checkpoint_path=Path(args.out).with_suffix(".pt") if args.checkpoint else None)
    from pyg_negdiff.distributed import is_main_process

    if not is_main_process():  # under torchrun, rank 0 reports and writes
        return 0
    print(f"\nbest epoch {result.best_epoch} (of {len(result.history)}), "
          f"{result.epoch_time:.2f} s per training epoch")
    print(format_table(result_rows(result)))
    result.save(args.out)
    print(f"\nresults written to {args.out}")
    return 0


def cmd_data_inspect(args: argparse.Namespace) -> int:
    from pyg_negdiff.data.diagnostics import plot_popularity, shift_report

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
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train one model and print its metrics")
    add_data_arguments(train)
    add_run_arguments(train)
    train.add_argument("--out", default="runs/train.json", help="JSON result file")
    train.add_argument("--checkpoint", action="store_true",
                       help="also keep the best checkpoint next to the JSON file")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError) as exc:  # bad input: say what, no traceback
        print(f"pyg-negdiff: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
