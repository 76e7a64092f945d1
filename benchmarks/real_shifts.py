"""The real-shift benchmark (issue 21): every sampler against uniform, the best heuristic and two
reference rankings, under one equal-budget protocol, on the built-in real scenarios.

The protocol is the library's (`pyg_negdiff.bench`, the same as ``pyg-negdiff bench``): lr and L2
tuned with uniform (``--backbone-trials``), every row the same ``--trials`` over its own constants,
the best configuration by validation re-run over ``--seeds``, an oracle-selection column, and the
popularity and random rankings. The real scenarios decide; ``synthetic`` is reported apart.

    python benchmarks/real_shifts.py --scenarios coat ml-100k-temporal
    taskset -c 1 python benchmarks/real_shifts.py --scenarios ml-100k-longtail   # one core each
    python benchmarks/real_shifts.py --report --docs docs/real-shifts.md

Each scenario writes ``<out>/<scenario>/runs.jsonl`` (one line per finished run, with the commit)
and ``<out>/<scenario>/optuna-journal.log`` (the Optuna studies): a re-run resumes, so commit both
as they grow. ``--report`` writes ``<out>/report.md`` and ``<out>/report.json`` from the logs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import optuna
import torch

from pyg_negdiff.bench.protocol import study_trials
from pyg_negdiff.bench import (
    DEFAULT_ROWS,
    REAL_SCENARIOS,
    ROWS,
    SCENARIOS,
    Plan,
    RunLog,
    markdown,
    markdown_across,
    run_scenario,
    summarize,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import git_commit, replace_block  # noqa: E402

DOC_START, DOC_END = "<!-- real-shifts:start -->", "<!-- real-shifts:end -->"


def report(out: Path) -> tuple[str, dict]:
    """The tables of every scenario logged under ``out``: real ones, their cross-scenario
    summary, then the synthetic mechanism check apart."""
    summaries = {}
    for name in SCENARIOS:
        log = out / name / "runs.jsonl"
        if log.exists():
            summary = summarize(RunLog(log).records, name, study_trials(out / name, name))
            if summary["rows"]:
                summaries[name] = summary
    real = [summaries[n] for n in REAL_SCENARIOS if n in summaries]
    parts = [markdown(s) for s in real]
    if real:
        parts.append("### Across the real scenarios\n\n" + markdown_across(real))
    if "synthetic" in summaries:
        parts.append(
            "### Mechanism check (synthetic data, never used to choose)\n\n"
            + markdown(summaries["synthetic"]).split("\n", 2)[2]
        )
    commits = sorted({c for s in summaries.values() for c in s["commits"]})
    head = (
        f"Produced by `python benchmarks/real_shifts.py --report --out {out}` from the run logs of "
        f"commit(s) {', '.join(c[:7] + ('-dirty' if c.endswith('-dirty') else '') for c in commits)}; "
        f"{sum(s['cpu_hours'] for s in summaries.values()):.1f} CPU hours in all.\n\n"
    )
    return head + "\n".join(parts), {"commits": commits, "scenarios": summaries}


def update_docs(page: Path, block: str, markers: tuple[str, str] = (DOC_START, DOC_END)) -> None:
    """Writes ``block`` between the page's ``markers`` (by default its real-shifts block)."""
    replace_block(page, *markers, block)


def build_parser(
    description: str, rows: tuple[str, ...] = DEFAULT_ROWS, out: str = "benchmarks/results/real"
) -> argparse.ArgumentParser:
    """The options of a real-shift benchmark script: the scenarios, ``rows`` and ``out`` default
    to this script's (`diffusion_ablation.py` runs its own rows with the same options)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--scenarios", nargs="+", default=[*REAL_SCENARIOS, "synthetic"], choices=list(SCENARIOS)
    )
    parser.add_argument("--rows", nargs="+", default=list(rows), choices=list(ROWS))
    parser.add_argument(
        "--trials", type=int, default=8, help="TPE trials per row over its own constants"
    )
    parser.add_argument(
        "--backbone-trials", type=int, default=12, help="TPE trials of lr and L2 with uniform"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", default=out)
    parser.add_argument(
        "--report", action="store_true", help="only write the tables from the run logs"
    )
    parser.add_argument(
        "--docs", default=None, help="also write the tables into this page's generated block"
    )
    return parser


def execute(args: argparse.Namespace, markers: tuple[str, str] = (DOC_START, DOC_END)) -> None:
    """Runs (or resumes) the protocol on every scenario of ``args`` unless ``--report``, then
    writes ``report.md`` and ``report.json`` into ``--out`` (and the page block between
    ``markers`` with ``--docs``) and prints the tables."""
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = Path(args.out)
    if not args.report:
        plan = Plan(
            rows=tuple(args.rows),
            trials=args.trials,
            backbone_trials=args.backbone_trials,
            seeds=tuple(args.seeds),
        )
        commit = git_commit()
        for name in args.scenarios:
            scenario = SCENARIOS[name]
            data = scenario.load(args.data_root)
            print(f"[{name}] {data.summary()}", flush=True)
            run_scenario(
                name,
                data,
                plan,
                out / name,
                budget=scenario.budget,
                commit=commit,
                fhn=data.true_positives is not None,
                progress=lambda line: print(line, flush=True),
            )
    text, summary = report(out)
    (out / "report.md").write_text(text)
    (out / "report.json").write_text(json.dumps(summary, indent=2))
    if args.docs:
        update_docs(Path(args.docs), text, markers)
    print(text)


def main(argv: list[str] | None = None) -> None:
    execute(build_parser(__doc__.split("\n\n")[0]).parse_args(argv))


if __name__ == "__main__":
    main()
