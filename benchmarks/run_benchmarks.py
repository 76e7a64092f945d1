"""The benchmark suite: an Optuna study per (dataset, shift, sampler, backbone), best configuration
re-run over several seeds, tables and plots.

Protocol (as pytorch-frame's benchmarks): tune on validation only; the test parts are read once,
at the best-validation epoch of each seeded re-run; report mean and std over seeds.

    python benchmarks/run_benchmarks.py --small          # ~10 minutes on 2 CPU cores
    python benchmarks/run_benchmarks.py                  # the full version (hours): see README.md

Writes into ``--out``: ``results.csv``, ``results.md``, ``results.json`` (configurations, seeds,
times, git commit), ``history_<study>.png``, ``importance_<study>.png`` and ``ood_ndcg.png``.
Studies live in ``--out/studies.db`` (SQLite), so an interrupted suite resumes where it stopped.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import optuna

from pyg_negdiff.data.prepare import prepare_data
from pyg_negdiff.experiment import RunConfig, run
from pyg_negdiff.tune import Objective, SearchSpace, export_best, load_study, run_study

from _common import git_commit  # sibling module of this script

SMALL = {"data": ["synthetic", "coat"], "samplers": ["uniform", "dns", "cnsdiff"], "models": ["lightgcn"],
         "trials": 4, "epochs": 15, "seeds": [0, 1, 2]}
FULL = {"data": ["synthetic", "coat", "yahoo-r3", "ml-100k", "ml-1m"],
        "samplers": ["uniform", "popularity", "dns", "mixgcf", "ahns", "cnsdiff", "adar"],
        "models": ["lightgcn", "ngcf", "mf"], "trials": 30, "epochs": 200, "seeds": [0, 1, 2, 3, 4]}
#: The shift each dataset is benchmarked under (its natural out-of-distribution test).
SHIFTS = {"synthetic": "auto", "coat": "exposure", "yahoo-r3": "exposure", "ml-100k": "temporal",
          "ml-1m": "popularity"}
METRICS = ("recall@20", "ndcg@20")


def save_study_plots(study: optuna.Study, out: Path) -> list[str]:
    """Optimization history and parameter importance with Optuna's matplotlib backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    written = []
    for kind, fn in (("history", ovm.plot_optimization_history), ("importance", ovm.plot_param_importances)):
        try:
            ax = fn(study)
        except (ValueError, RuntimeError) as exc:  # e.g. importance needs >= 2 finished trials
            print(f"  no {kind} plot for {study.study_name}: {exc}")
            continue
        if kind == "history":
            ax.set_ylabel("validation NDCG@20")
        fig = ax.figure if hasattr(ax, "figure") else ax[0].figure
        fig.set_size_inches(7, 4)
        fig.tight_layout()
        path = out / f"{kind}_{study.study_name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path.name)
    return written


def bar_chart(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({r["data"] for r in rows})
    samplers = list(dict.fromkeys(r["sampler"] for r in rows))
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 3.6), squeeze=False)
    for ax, name in zip(axes[0], datasets):
        sub = {r["sampler"]: r for r in rows if r["data"] == name and r["model"] == rows[0]["model"]}
        xs = [s for s in samplers if s in sub and sub[s].get("ood_ndcg@20_mean") is not None]
        means = [sub[s]["ood_ndcg@20_mean"] for s in xs]
        stds = [sub[s]["ood_ndcg@20_std"] for s in xs]
        ax.bar(xs, means, yerr=stds, capsize=4, color=["#7e57c2" if s == "cnsdiff" else "#90a4ae" for s in xs])
        ax.set_title(f"{name} ({SHIFTS.get(name, 'auto')} shift)")
        ax.set_ylabel("OOD test NDCG@20")
        ax.tick_params(axis="x", rotation=30)
    fig.suptitle("OOD test NDCG@20 per sampler, mean ± std over seeds")
    fig.tight_layout()
    fig.savefig(out / "ood_ndcg.png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="the ~10-minute version")
    parser.add_argument("--data", nargs="*")
    parser.add_argument("--samplers", nargs="*")
    parser.add_argument("--models", nargs="*")
    parser.add_argument("--trials", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seeds", type=int, nargs="*")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    plan = dict(SMALL if args.small else FULL)
    for key in plan:
        if getattr(args, key, None):
            plan[key] = getattr(args, key)
    out = Path(args.out or f"benchmarks/results/{'small' if args.small else 'full'}")
    out.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{out / 'studies.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    rows, details, plots = [], [], []
    started = time.perf_counter()
    for name in plan["data"]:
        data = prepare_data(name, shift=SHIFTS.get(name, "auto"), root=args.data_root, seed=0)
        for model in plan["models"]:
            for sampler in plan["samplers"]:
                study_name = f"{name}-{SHIFTS.get(name, 'auto')}-{model}-{sampler}"
                t0 = time.perf_counter()
                base = RunConfig(model=model, sampler=sampler, epochs=plan["epochs"], patience=5, lr=5e-3,
                                 embedding_dim=32, num_layers=2, batch_size=2048, seed=0)
                study = load_study(study_name, storage, seed=0)
                run_study(study, Objective(data, SearchSpace(model, sampler), base), plan["trials"])
                best = export_best(study, out / f"best_{study_name}.json")
                plots += save_study_plots(study, out)
                per_seed = []
                for seed in plan["seeds"]:
                    config = RunConfig.from_dict({**best["config"], "seed": seed})
                    result = run(config, data, progress=False)
                    per_seed.append({part: {m: result.test[part][m] for m in METRICS} for part in result.test})
                row = {"data": name, "shift": SHIFTS.get(name, "auto"), "model": model, "sampler": sampler,
                       "trials": plan["trials"], "seeds": len(plan["seeds"]), "val_ndcg@20": best["value"]}
                for label, part in (("iid", "test"), ("ood", "test_ood")):
                    for m in METRICS:
                        vals = [s[part][m] for s in per_seed if part in s]
                        row[f"{label}_{m}_mean"] = float(np.mean(vals)) if vals else None
                        row[f"{label}_{m}_std"] = float(np.std(vals)) if vals else None
                row["minutes"] = (time.perf_counter() - t0) / 60
                rows.append(row)
                details.append({"study": study_name, "best": best, "per_seed": per_seed})
                print(f"{study_name}: val {best['value']:.4f}, OOD NDCG@20 {row['ood_ndcg@20_mean']}, "
                      f"{row['minutes']:.1f} min")

    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    def cell(r, key):
        mean, std = r[f"{key}_mean"], r[f"{key}_std"]
        return "-" if mean is None else f"{mean:.4f} ± {std:.4f}"

    lines = ["| data | shift | model | sampler | IID Recall@20 | IID NDCG@20 | OOD Recall@20 | OOD NDCG@20 |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['data']} | {r['shift']} | {r['model']} | {r['sampler']} | "
                     + " | ".join(cell(r, k) for k in ("iid_recall@20", "iid_ndcg@20", "ood_recall@20",
                                                        "ood_ndcg@20")) + " |")
    table = "\n".join(lines)
    (out / "results.md").write_text(
        f"Mean ± std over seeds {plan['seeds']} of the best configuration of a {plan['trials']}-trial "
        f"Optuna study (validation NDCG@20), at most {plan['epochs']} epochs.\n\n{table}\n")
    bar_chart(rows, out)
    (out / "results.json").write_text(json.dumps(
        {"plan": plan, "rows": rows, "details": details, "plots": plots + ["ood_ndcg.png"],
         "git_commit": git_commit(), "minutes": (time.perf_counter() - started) / 60}, indent=2))
    print("\n" + table)
    print(f"\nwritten to {out}/ in {(time.perf_counter() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
