"""``pyg-negdiff train`` (one run, with checkpoints) and ``pyg-negdiff data inspect``."""

from __future__ import annotations

import argparse
from pathlib import Path

from pyg_negdiff.cli.common import (
    CommandError,
    add_data_arguments,
    add_run_arguments,
    check_writable,
    format_table,
    load_data,
    refuse_existing,
    result_rows,
    run_config_from_args,
)

__all__ = ["add_train_commands", "cmd_train", "cmd_data_inspect", "checkpoint_for"]


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
    from pyg_negdiff.checkpoint import read_checkpoint

    if not (args.checkpoint or args.resume or args.overwrite):
        return None
    path = check_writable(Path(args.out).with_suffix(".pt"), "--out")
    if path == Path(args.out):  # the JSON result would land on the checkpoint
        raise CommandError(
            f"--out {args.out}: the checkpoint is written to --out with the suffix .pt, so the "
            f"result and the checkpoint would be the same file; give --out a .json name, "
            f"e.g. {path.with_suffix('.json')}"
        )
    if args.resume:
        if not path.exists():
            raise CommandError(
                f"--resume: there is no checkpoint {path} to continue (the earlier run saved "
                f"none); run again without --resume"
            )
        try:
            epoch = read_checkpoint(path)["resume"]["loop"]["epoch"]
        except ValueError as exc:
            raise CommandError(f"--resume: {exc} with --overwrite (it replaces {path})") from None
        print(f"resuming from {path}: epoch {epoch} was the last complete one")
    elif path.exists() and not args.overwrite:
        raise CommandError(
            f"checkpoint {path} already exists (an earlier run); add --resume to continue it, "
            f"or --overwrite to start over and replace it"
        )
    return path


def _saved_epoch(path: Path | None) -> str:
    """What an interrupted ``train`` kept, for the Ctrl-C message."""
    from pyg_negdiff.checkpoint import read_checkpoint

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
    if not (args.resume or args.overwrite):
        refuse_existing(out, "--out")
    try:
        data = load_data(args)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(
            "while loading the data, before training; nothing was written"
        ) from None
    print(data.summary())
    try:
        result = run(
            config,
            data,
            progress=not args.no_progress,
            checkpoint_path=checkpoint,
            resume=args.resume,
            validated=True,
        )  # run_config_from_args validated it
    except NonFiniteLossError as exc:
        if exc.result is None:
            raise
        exc.result.save(out)
        raise CommandError(
            f"{exc}\nThe history so far and the test metrics of the restored weights "
            f"are written to {out}."
        ) from exc
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"during training; {_saved_epoch(checkpoint)}") from None
    from pyg_negdiff.distributed import is_main_process

    if not is_main_process():  # under torchrun, rank 0 reports and writes
        return 0
    print(
        f"\nbest epoch {result.best_epoch} (of {len(result.history)}), "
        f"{result.epoch_time:.2f} s per training epoch"
    )
    print(format_table(result_rows(result)))
    result.save(out)
    print(f"\nresults written to {out}")
    return 0


def cmd_data_inspect(args: argparse.Namespace) -> int:
    """Prints the sizes and shift diagnostics of a dataset and split (and plots its popularity)."""
    from pyg_negdiff.data.diagnostics import plot_popularity, shift_report

    if args.plot:
        check_writable(args.plot, "--plot")
    data = load_data(args, evaluate=False)  # inspecting an unsplit file is fine
    print(data.summary())
    print()
    print(shift_report(data))
    for note in data.notes:
        print(f"note: {note}")
    if args.plot:
        plot_popularity(data, args.plot)
        print(f"\npopularity plot written to {args.plot}")
    return 0


def add_train_commands(sub: argparse._SubParsersAction) -> None:
    """Adds ``train`` and ``data inspect`` to the ``pyg-negdiff`` command."""
    train = sub.add_parser("train", help="train one model and print its metrics")
    add_data_arguments(train)
    add_run_arguments(train)
    train.add_argument("--out", default="runs/train.json", help="JSON result file")
    train.add_argument(
        "--checkpoint",
        action="store_true",
        help="keep a checkpoint next to the JSON file (.pt): the best weights and the "
        "last epoch, so that an interrupted run can be resumed",
    )
    again = train.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="continue the run saved in the checkpoint (same settings), from its last epoch",
    )
    again.add_argument(
        "--overwrite",
        action="store_true",
        help="start over, replacing an existing checkpoint and --out file (without it, an "
        "existing --out file is refused)",
    )
    train.set_defaults(func=cmd_train)

    data = sub.add_parser("data", help="dataset utilities")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    inspect = data_sub.add_parser("inspect", help="sizes and distribution-shift diagnostics")
    add_data_arguments(inspect)
    inspect.add_argument("--plot", default=None, help="write a train-vs-test popularity plot (PNG)")
    inspect.set_defaults(func=cmd_data_inspect)
