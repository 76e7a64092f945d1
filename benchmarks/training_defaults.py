"""Training-loop defaults chosen on the real scenarios (issue 21, item 6).

Uniform LightGCN at `RunConfig`'s defaults, with each candidate learning rate of ``--lr`` (and the
candidate ``--epochs`` and ``--patience``), over ``--seeds``, on every scenario of
``--scenarios`` (real ones only: `pyg_negdiff.bench.REAL_SCENARIOS`). Per candidate it reports the
validation NDCG@20 (what chooses), the best epoch against the budget (a default whose best epoch
lies in the first tenth overfits almost at once), and the OOD NDCG@20 (read, never used).

The candidate chosen is the one with the best mean over scenarios of its validation NDCG@20
relative to the best candidate on that scenario, among those whose best epoch never falls in the
first tenth of the epochs.

    taskset -c 0 python benchmarks/training_defaults.py --scenarios coat ml-100k-temporal --lr 0.01 0.003 0.001
    python benchmarks/training_defaults.py --report

Every run is one JSON line of ``<out>/training_defaults.jsonl`` (resumable); the report is
``<out>/training_defaults.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from pyg_negdiff.bench import REAL_SCENARIOS, SCENARIOS, RunLog, train_run
from pyg_negdiff.experiment import RunConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import git_commit, replace_block  # noqa: E402

DOC_START, DOC_END = "<!-- training-defaults:start -->", "<!-- training-defaults:end -->"


def candidates(records: list[dict]) -> dict[tuple, dict[str, dict[int, dict]]]:
    """(lr, epochs, patience) -> scenario -> seed -> record."""
    out: dict[tuple, dict[str, dict[int, dict]]] = {}
    for r in records:
        key = (r["config"]["lr"], r["config"]["epochs"], r["config"]["patience"])
        out.setdefault(key, {}).setdefault(r["scenario"], {})[r["seed"]] = r
    return out


def summarize(records: list[dict]) -> dict:
    """Per candidate and scenario: val and OOD NDCG@20, best epoch; the chosen candidate."""
    table = candidates(records)
    scenarios = [s for s in SCENARIOS if any(s in v for v in table.values())]
    rows = []
    for (lr, epochs, patience), by in sorted(table.items(), reverse=True):
        row = {"lr": lr, "epochs": epochs, "patience": patience, "scenarios": {}}
        for s in scenarios:
            runs = by.get(s, {})
            if not runs:
                continue
            ood = ["test_ood" if "test_ood" in r["test"] else "test" for r in runs.values()]
            row["scenarios"][s] = {
                "seeds": sorted(runs),
                "val": float(np.mean([r["val"]["ndcg@20"] for r in runs.values()])),
                "ood": float(
                    np.mean([r["test"][p]["ndcg@20"] for r, p in zip(runs.values(), ood)])
                ),
                "best_epoch_min": min(r["best_epoch"] for r in runs.values()),
                "best_epoch_mean": float(np.mean([r["best_epoch"] for r in runs.values()])),
                "epochs_run": float(np.mean([r["epochs"] for r in runs.values()])),
                "early": any(r["best_epoch"] < epochs / 10 for r in runs.values()),
                "at_budget": any(r["best_epoch"] == epochs - 1 for r in runs.values()),
            }
        rows.append(row)
    complete = [r for r in rows if set(r["scenarios"]) == set(scenarios)]
    for s in scenarios:
        best = max(r["scenarios"][s]["val"] for r in complete) if complete else None
        for r in complete:
            r["scenarios"][s]["val_relative"] = r["scenarios"][s]["val"] / best if best else None
    for r in complete:
        r["score"] = float(np.mean([v["val_relative"] for v in r["scenarios"].values()]))
        r["eligible"] = not any(v["early"] for v in r["scenarios"].values())
    eligible = [r for r in complete if r["eligible"]]
    chosen = max(eligible, key=lambda r: r["score"]) if eligible else None
    return {
        "scenarios": scenarios,
        "rows": rows,
        "chosen": None if chosen is None else {k: chosen[k] for k in ("lr", "epochs", "patience")},
        "commits": sorted({r["commit"] for r in records}),
    }


def markdown(summary: dict) -> str:
    names = summary["scenarios"]
    lines = [
        "| lr | epochs | patience | "
        + " | ".join(names)
        + " | mean relative val | best epoch ever in the first tenth |",
        "|---|---|---|" + "---|" * (len(names) + 2),
    ]
    for r in summary["rows"]:
        cells = []
        for s in names:
            v = r["scenarios"].get(s)
            cells.append(
                "-"
                if v is None
                else f"val {v['val']:.4f}, OOD {v['ood']:.4f}, best epoch {v['best_epoch_mean']:.0f} "
                f"(min {v['best_epoch_min']}) of {v['epochs_run']:.0f} run"
                + (", at the budget" if v["at_budget"] else "")
            )
        score = f"{r['score']:.3f}" if "score" in r else "-"
        early = "-" if "eligible" not in r else ("no" if r["eligible"] else "**yes**")
        lines.append(
            f"| {r['lr']:g} | {r['epochs']} | {r['patience']} | "
            + " | ".join(cells)
            + f" | {score} | {early} |"
        )
    chosen = summary["chosen"]
    lines += [
        "",
        "Chosen (best mean relative validation NDCG@20 among the candidates whose best epoch never "
        "falls in the first tenth): "
        + (
            "none"
            if chosen is None
            else f"lr={chosen['lr']:g}, epochs={chosen['epochs']}, "
            f"patience={chosen['patience']}"
        )
        + ".",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenarios", nargs="+", default=list(REAL_SCENARIOS), choices=list(REAL_SCENARIOS)
    )
    parser.add_argument("--lr", type=float, nargs="+", default=[1e-2, 3e-3, 1e-3])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--patience", type=int, default=15)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--report", action="store_true")
    parser.add_argument(
        "--docs", default=None, help="also write the table into this page's training-defaults block"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    log = RunLog(Path(args.out) / "training_defaults.jsonl")
    if not args.report:
        commit = git_commit()
        for name in args.scenarios:
            data = SCENARIOS[name].load(args.data_root)
            for lr in args.lr:
                for seed in args.seeds:
                    config = RunConfig(lr=lr, epochs=args.epochs, patience=args.patience, seed=seed)
                    if any(
                        r["scenario"] == name
                        and r["seed"] == seed
                        and r["config"] == config.to_dict()
                        for r in log.records
                    ):
                        continue
                    record = train_run(config, data)
                    log.append(
                        {
                            "scenario": name,
                            "seed": seed,
                            "commit": commit,
                            "config": config.to_dict(),
                            **{
                                k: record[k]
                                for k in (
                                    "val",
                                    "test",
                                    "best_epoch",
                                    "epochs",
                                    "epoch_time",
                                    "wall_s",
                                    "cpu_s",
                                )
                            },
                        }
                    )
                    print(
                        f"[{name}] lr {lr:g} seed {seed}: val {record['val']['ndcg@20']:.4f}, best epoch "
                        f"{record['best_epoch']} of {record['epochs']}",
                        flush=True,
                    )
    summary = summarize(log.records)
    (Path(args.out) / "training_defaults.json").write_text(json.dumps(summary, indent=2))
    (Path(args.out) / "training_defaults.md").write_text(markdown(summary))
    if args.docs:
        replace_block(
            Path(args.docs),
            DOC_START,
            DOC_END,
            f"Produced by `python benchmarks/training_defaults.py --report --docs {args.docs}` from "
            f"runs of commit(s) {', '.join(c[:7] for c in summary['commits'])}.\n\n"
            + markdown(summary),
        )
    print(markdown(summary))


if __name__ == "__main__":
    main()
