"""``pyg-negdiff bench``: the equal-budget comparison on any data, resumable, with its report.

The command-line side of `pyg_negdiff.bench` (the protocol, rows and report), which imports
nothing from here.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
import sys
import time
from pathlib import Path

from pyg_negdiff.cli.common import CommandError, add_data_arguments, check_writable, load_data

__all__ = ["add_bench_command", "cmd_bench"]

_PLAN_FILE = "plan.json"


def _scenario_name(args: argparse.Namespace) -> str:
    return f"{Path(args.data).name}-{args.shift}"


def _check_plan(out: Path, plan: dict, resume_hint: str) -> None:
    """Refuses a folder that holds another benchmark (its runs would be mixed into this one)."""
    path = out / _PLAN_FILE
    if path.exists():
        try:
            before = json.loads(path.read_text())
        except json.JSONDecodeError:
            raise CommandError(
                f"--out {out}: {path} is not a benchmark plan; choose another --out"
            ) from None
        if before != plan:
            changed = sorted(k for k in set(before) | set(plan) if before.get(k) != plan.get(k))
            raise CommandError(
                f"--out {out} holds a benchmark with other settings ({', '.join(changed)}); "
                f"give a new --out, or the same settings to resume ({resume_hint})"
            )
    elif out.exists() and any(out.iterdir()):
        raise CommandError(
            f"--out {out} exists and is not a benchmark folder; give a new or empty folder"
        )


def cmd_bench(args: argparse.Namespace) -> int:
    """Runs (or resumes) the benchmark on the data that ``args`` names and prints its table."""
    import optuna

    from pyg_negdiff.bench import Budget, Plan, RunLog, Scenario, markdown, run_scenario, summarize
    from pyg_negdiff.bench.protocol import study_trials
    from pyg_negdiff.bench.rows import resolve_rows

    try:
        rows = [r.name for r in resolve_rows(args.samplers)]
    except ValueError as exc:
        raise CommandError(f"--samplers: {exc}") from None
    for option in ("trials", "backbone_trials", "epochs", "patience", "batch_size"):
        if getattr(args, option) < (0 if "trials" in option else 1):
            raise CommandError(
                f"--{option.replace('_', '-')} must be "
                f"{'>= 0' if 'trials' in option else '>= 1'}"
            )
    if not args.seeds or any(s < 0 for s in args.seeds):
        raise CommandError("--seeds: give one or more seeds >= 0")
    budget = Budget(args.epochs, args.patience, args.batch_size)
    plan = Plan(
        rows=tuple(rows),
        trials=args.trials,
        backbone_trials=args.backbone_trials,
        seeds=tuple(args.seeds),
        model=args.model,
        embedding_dim=args.embedding_dim,
        num_layers=args.num_layers,
        oracle=not args.no_oracle,
        device=args.device,
    )
    out = Path(args.out)
    record = {
        "data": args.data,
        "shift": args.shift,
        "seed": args.seed,
        **plan.to_dict(),
        "budget": asdict(budget),
    }
    _check_plan(out, record, "re-running the same command resumes")
    check_writable(out / "report.md", "--out")

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = load_data(args)
    print(data.summary())
    # load_data has refused data without a validation or a test part (cli.common).
    # Written once the data loaded: a mistyped --data must not claim the folder for its settings.
    (out / _PLAN_FILE).write_text(json.dumps(record, indent=2))
    if "test_ood" not in data.parts:
        print(
            "pyg-negdiff: note: this split has no shifted (OOD) test part; the table compares the test part "
            "(pick the shift with --shift)",
            file=sys.stderr,
        )
    scenario = Scenario.from_data(_scenario_name(args), data, budget)
    start = time.perf_counter()

    from tqdm.auto import tqdm

    bar = tqdm(total=None, desc="bench runs", disable=args.no_progress, unit="run")

    def progress(line: str) -> None:
        bar.update(1)
        bar.write(line) if not args.no_progress else print(line, file=sys.stderr)

    try:
        log = run_scenario(
            scenario.name, data, plan, out, budget=budget, commit=_version(), progress=progress
        )
    finally:
        bar.close()
    summary = summarize(
        RunLog(out / "runs.jsonl").records, scenario.name, study_trials(out, scenario.name)
    )
    table = markdown(summary)
    (out / "report.md").write_text(f"# Benchmark report: {scenario.name}\n\n{table}")
    (out / "report.json").write_text(json.dumps(summary, indent=2))
    print()
    print(table)
    print(
        f"Best sampler by validation NDCG@20: {summary['best_sampler']}. Oracle selection (half of the shifted "
        f"test's users choose, the other half scores) is a diagnostic only. Report: {out / 'report.md'}; "
        f"{len(log.records)} runs logged in {out / 'runs.jsonl'} ({time.perf_counter() - start:.0f} s). "
        f"Re-running the same command resumes."
    )
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"pyg-negdiff {version('pyg-negdiff')}"
    except PackageNotFoundError:
        return "pyg-negdiff (source)"


def add_bench_command(sub: argparse._SubParsersAction) -> None:
    """Adds ``bench`` to the ``pyg-negdiff`` command."""
    from pyg_negdiff.cli.names import DEFAULT_ROWS, ROWS

    bench = sub.add_parser(
        "bench",
        help="the equal-budget comparison of samplers on your data, with reference rows",
        description="Tunes lr and L2 with uniform negatives, gives every sampler the same trials over its own "
        "constants, re-runs the best configuration (chosen on validation) over the seeds, and "
        "prints OOD NDCG@20 with paired differences against uniform and the best heuristic, beside "
        "a popularity and a random ranking and an oracle-selection column. Resumable.",
    )
    add_data_arguments(bench)
    bench.add_argument(
        "--samplers",
        nargs="+",
        default=list(DEFAULT_ROWS),
        metavar="ROW",
        help=f"rows to compare, uniform always included (default: {' '.join(DEFAULT_ROWS)}; "
        f"known: {', '.join(ROWS)})",
    )
    bench.add_argument(
        "--trials",
        type=int,
        default=8,
        help="TPE trials per sampler over its own constants (default: 8)",
    )
    bench.add_argument(
        "--backbone-trials",
        type=int,
        default=12,
        help="TPE trials of lr and L2 with uniform (default: 12)",
    )
    bench.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="seeds of the re-runs (default: 0 1 2)",
    )
    bench.add_argument(
        "--epochs", type=int, default=100, help="maximum epochs of every run (default: 100)"
    )
    bench.add_argument(
        "--patience", type=int, default=15, help="validations without improvement (default: 15)"
    )
    bench.add_argument("--batch-size", type=int, default=2048, help="(default: 2048)")
    bench.add_argument("--model", default="lightgcn", help="backbone (default: lightgcn)")
    bench.add_argument("--dim", dest="embedding_dim", type=int, default=64, help="(default: 64)")
    bench.add_argument("--layers", dest="num_layers", type=int, default=2, help="(default: 2)")
    bench.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    bench.add_argument(
        "--no-oracle", action="store_true", help="skip the oracle-selection diagnostic"
    )
    bench.add_argument(
        "--out",
        default="runs/bench",
        help="benchmark folder: run log, Optuna journal, report " "(default: runs/bench)",
    )
    bench.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    bench.set_defaults(func=cmd_bench)
