"""The benchmark suite: an Optuna study per (dataset, shift, sampler, backbone), the best
configuration re-run over several seeds, tables and plots.

Protocol (as pytorch-frame's benchmarks): every study tunes on the validation part only
(NDCG@20, median pruning); the best configuration is then re-trained with each seed of
``--seeds``, and each re-run reads its test parts once, at its own best-validation epoch. The
tables give mean ± std over the seeds of Recall@20 and NDCG@20 on the IID test (drawn like the
training data) and the OOD test (the dataset's shift: see ``DATASETS``).

    python benchmarks/run_benchmarks.py --small --samplers uniform dns cnsdiff adar \\
        --trials 4 --epochs 15 --out benchmarks/results/docs --docs docs/benchmarks.md
    python benchmarks/run_benchmarks.py --small      # seven samplers, 8 trials of 30 epochs
    python benchmarks/run_benchmarks.py              # the full version (hours): see README.md

The first command makes the docs page's tables and plots (``--docs``: see ``update_docs``).

Writes into ``--out`` (default ``benchmarks/results/<small|full>/``): ``results.csv``,
``results.md``, ``results.json`` (plan, best configurations, per-seed metrics and times, git
commit, versions), ``history_<study>.png`` and ``importance_<study>.png`` per study, and
``ood_ndcg.png``. The studies live in ``<out>/studies.db`` (SQLite): a suite that was
interrupted resumes its studies where they stopped when run again.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import optuna
import torch

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.prepare import load
from pyg_negdiff.experiment import RunConfig, run
from pyg_negdiff.tune import (
    Objective,
    SearchSpace,
    check_study_attrs,
    export_best,
    finished_trials,
    load_study,
    run_study,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import git_commit  # noqa: E402  (sibling module of this script)


def _split(name: str, **kwargs: Any) -> Callable[[InteractionData, int], InteractionData]:
    def split(data: InteractionData, seed: int) -> InteractionData:
        from pyg_negdiff.data import splits

        return getattr(splits, name)(data, seed=seed, **kwargs)

    return split


#: Dataset -> (its shift, the split that makes train / val / IID test / OOD test).
DATASETS: dict[str, tuple[str, Callable[[InteractionData, int], InteractionData] | None]] = {
    # Generated with a popularity confounder: test follows it, test_ood is exposed uniformly.
    "synthetic": ("exposure", None),
    # Train = what users chose to rate; OOD test = items shown at random; IID test carved from train.
    "coat": ("exposure", _split("split_exposure", val_ratio=0.1, test_ratio=0.1)),
    "yahoo-r3": ("exposure", _split("split_exposure", val_ratio=0.1, test_ratio=0.1)),
    # Train on the past, OOD test on the last 20% of time; IID test drawn at random from the past.
    "ml-100k": ("temporal", _split("split_temporal", iid_test_ratio=0.1)),
    # OOD test with near-uniform item popularity (per-item capped sample).
    "ml-1m": ("popularity", _split("split_popularity")),
}

SMALL: dict[str, Any] = {
    "data": ["synthetic", "coat"],
    "samplers": ["uniform", "popularity", "dns", "mixgcf", "ahns", "cnsdiff", "adar"],
    "models": ["lightgcn"],
    "trials": 8,
    "epochs": 30,
    "patience": 8,
    "warmup": 10,
    "seeds": [0, 1, 2],
}
FULL: dict[str, Any] = {
    "data": ["synthetic", "coat", "yahoo-r3", "ml-100k", "ml-1m"],
    "samplers": ["uniform", "popularity", "dns", "mixgcf", "ahns", "cnsdiff", "adar"],
    "models": ["lightgcn", "ngcf", "mf"],
    "trials": 40,
    "epochs": 200,
    "patience": 20,
    "warmup": 20,
    "seeds": [0, 1, 2, 3, 4],
}
PARTS = {"iid": "test", "ood": "test_ood"}
METRICS = ("recall@20", "ndcg@20")
DIFFUSION = ("cnsdiff", "adar")


def prepare(name: str, root: str | None, seed: int = 0) -> InteractionData:
    """Loads a dataset and applies its benchmark split (fixed ``seed``: one split for all runs)."""
    _, split = DATASETS[name]
    data = load(name, root=root, seed=seed)
    return split(data, seed) if split is not None else data


# ------------------------------------------------------------------ plots
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_study_plots(study: optuna.Study, out: Path) -> list[str]:
    """Optimization history and parameter importance, with Optuna's matplotlib backend."""
    plt = _plt()
    from optuna.visualization import matplotlib as ovm

    written = []
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    for kind, fn in (
        ("history", ovm.plot_optimization_history),
        ("importance", ovm.plot_param_importances),
    ):
        if kind == "importance" and (len(complete) < 2 or not complete[0].params):
            print(
                f"  no importance plot for {study.study_name}: needs 2 complete trials with parameters"
            )
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                ax = fn(study)
            except (ValueError, RuntimeError) as exc:
                print(f"  no {kind} plot for {study.study_name}: {exc}")
                continue
        fig = ax.figure
        fig.set_size_inches(7.5, 4.2)
        for loc in ("left", "center", "right"):  # replace Optuna's own title
            ax.set_title("", loc=loc)
        if kind == "history":
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel("validation NDCG@20")
            ax.set_title(
                f"Optimization history: {study.study_name}\n"
                f"({len(complete)} complete trials; "
                f"{len(study.trials) - len(complete)} pruned or failed, not shown)",
                fontsize=10,
            )
        else:
            if ax.get_legend() is not None:
                ax.get_legend().remove()
            ax.set_title(
                f"Hyperparameter importance (fANOVA on validation NDCG@20)\n{study.study_name}",
                fontsize=10,
            )
        fig.tight_layout()
        path = out / f"{kind}_{study.study_name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path.name)
    return written


def bar_chart(rows: list[dict[str, Any]], out: Path) -> str:
    """OOD NDCG@20 per sampler (mean ± std over seeds), one panel per dataset, one bar per backbone."""
    plt = _plt()
    datasets = list(dict.fromkeys(r["data"] for r in rows))
    samplers = list(dict.fromkeys(r["sampler"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    width = 0.8 / len(models)
    panel = max(3.2, 0.55 * len(samplers) * len(models) + 1.2)
    fig, axes = plt.subplots(1, len(datasets), figsize=(panel * len(datasets), 4.4), squeeze=False)
    hatches = ["", "//", ".."]
    for ax, name in zip(axes[0], datasets):
        for m, model in enumerate(models):
            sub = {r["sampler"]: r for r in rows if r["data"] == name and r["model"] == model}
            xs = [
                i
                for i, s in enumerate(samplers)
                if sub.get(s, {}).get("ood_ndcg@20_mean") is not None
            ]
            means = [sub[samplers[i]]["ood_ndcg@20_mean"] for i in xs]
            stds = [sub[samplers[i]]["ood_ndcg@20_std"] for i in xs]
            colors = ["#7e57c2" if samplers[i] in DIFFUSION else "#78909c" for i in xs]
            pos = [i + (m - (len(models) - 1) / 2) * width for i in xs]
            ax.bar(
                pos,
                means,
                width=width * 0.95,
                yerr=stds,
                capsize=3,
                color=colors,
                edgecolor="black",
                linewidth=0.5,
                hatch=hatches[m % len(hatches)],
                label=model if len(models) > 1 else None,
            )
            if len(models) == 1:
                for x, mean, std in zip(pos, means, stds):
                    ax.text(x, mean + std, f"{mean:.3f}", ha="center", va="bottom", fontsize=7)
                if sub.get("uniform", {}).get("ood_ndcg@20_mean") is not None:
                    ax.axhline(
                        sub["uniform"]["ood_ndcg@20_mean"],
                        color="black",
                        linestyle="--",
                        linewidth=0.8,
                    )
        ax.set_xticks(range(len(samplers)))
        ax.set_xticklabels(samplers, rotation=35, ha="right")
        shift = next(r["shift"] for r in rows if r["data"] == name)
        ax.set_title(f"{name} ({shift} shift)", fontsize=10)
        ax.set_ylabel("OOD test NDCG@20")
        ax.margins(y=0.15)
        if len(models) > 1:
            ax.legend(fontsize=8)
    fig.suptitle(
        "OOD NDCG@20 of each sampler's tuned configuration, mean ± std over seeds\n"
        "purple: diffusion samplers" + ("; dashed line: uniform" if len(models) == 1 else ""),
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(out / "ood_ndcg.png", dpi=110)
    plt.close(fig)
    return "ood_ndcg.png"


# ----------------------------------------------------------------- tables
def cell(row: dict[str, Any], key: str) -> str:
    mean, std = row.get(f"{key}_mean"), row.get(f"{key}_std")
    return "-" if mean is None else f"{mean:.4f} ± {std:.4f}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| data | shift | model | sampler | val NDCG@20 | IID Recall@20 | IID NDCG@20 | OOD Recall@20 "
        "| OOD NDCG@20 | min |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    best = {}  # best OOD NDCG@20 per (data, model), in bold
    for r in rows:  # compared as printed, so that rows that read the same are all in bold
        key = (r["data"], r["model"])
        if r["ood_ndcg@20_mean"] is not None and round(r["ood_ndcg@20_mean"], 4) > best.get(
            key, -1
        ):
            best[key] = round(r["ood_ndcg@20_mean"], 4)
    for r in rows:
        ood = cell(r, "ood_ndcg@20")
        if (
            r["ood_ndcg@20_mean"] is not None
            and round(r["ood_ndcg@20_mean"], 4) == best[(r["data"], r["model"])]
        ):
            ood = f"**{ood}**"
        lines.append(
            f"| {r['data']} | {r['shift']} | {r['model']} | {r['sampler']} | {r['val_ndcg@20']:.4f} | "
            + " | ".join(
                [cell(r, "iid_recall@20"), cell(r, "iid_ndcg@20"), cell(r, "ood_recall@20"), ood]
            )
            + f" | {r['minutes']:.1f} |"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------- docs
DOC_START, DOC_END = "<!-- results:start -->", "<!-- results:end -->"


def update_docs(page: Path, out: Path, table_md: str, plots: list[str]) -> None:
    """Copies the plots next to ``page`` and rewrites the page's block between the result markers."""
    import shutil

    assets = page.parent / page.stem  # docs/benchmarks.md -> docs/benchmarks/
    assets.mkdir(parents=True, exist_ok=True)
    for old in assets.glob("*.png"):
        old.unlink()
    shown = ["ood_ndcg.png"] + [p for p in plots if p != "ood_ndcg.png" and "cnsdiff" in p]
    for name in shown:
        shutil.copy(out / name, assets / name)

    def caption(name: str) -> str:
        if name == "ood_ndcg.png":
            return (
                "OOD test NDCG@20 of each sampler's tuned configuration (mean ± std over the seeds)"
            )
        kind, study = name[:-4].split("_", 1)
        return {
            "history": "Optuna optimization history",
            "importance": "Hyperparameter importance",
        }[kind] + f" of the study `{study}`"

    figures = "\n\n".join(
        f"**{caption(name)}**\n\n![{name[:-4]}]({assets.name}/{name})" for name in shown
    )
    block = f"{DOC_START}\n{table_md}\n\n{figures}\n{DOC_END}"
    text = page.read_text() if page.exists() else f"# Benchmarks\n\n{DOC_START}\n{DOC_END}\n"
    if DOC_START not in text or DOC_END not in text:
        raise ValueError(f"{page} lacks the {DOC_START} ... {DOC_END} markers")
    head, rest = text.split(DOC_START, 1)
    page.write_text(head + block + rest.split(DOC_END, 1)[1])
    print(f"updated {page} and {assets}/ ({len(shown)} plots)")


# ------------------------------------------------------------------- main
def bench_one(
    data: InteractionData,
    name: str,
    model: str,
    sampler: str,
    plan: dict[str, Any],
    storage: str,
    out: Path,
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Tunes one (data, model, sampler), re-runs the best over the seeds, returns row and details."""
    shift = DATASETS[name][0]
    study_name = f"{name}-{shift}-{model}-{sampler}"
    t0 = time.perf_counter()
    base = RunConfig(
        model=model,
        sampler=sampler,
        embedding_dim=64,
        num_layers=3,
        lr=1e-2,
        l2=1e-4,
        batch_size=4096,
        epochs=plan["epochs"],
        patience=plan["patience"],
        seed=0,
    )
    study = load_study(study_name, storage, seed=0, pruner_warmup=plan["warmup"])
    check_study_attrs(
        study,
        {
            "data": name,
            "shift": shift,
            "model": model,
            "sampler": sampler,
            "epochs": plan["epochs"],
            "patience": plan["patience"],
        },
    )
    resumed = finished_trials(study)
    run_study(study, Objective(data, SearchSpace(model, sampler), base), plan["trials"])
    tune_minutes = (time.perf_counter() - t0) / 60
    best = export_best(study, out / f"best_{study_name}.json")
    plots = save_study_plots(study, out)
    per_seed = []
    for seed in plan["seeds"]:
        config = RunConfig.from_dict({**best["config"], "seed": seed})
        start = time.perf_counter()
        result = run(config, data, progress=False)
        per_seed.append(
            {
                "seed": seed,
                "best_epoch": result.best_epoch,
                "epochs": len(result.history),
                "epoch_time": result.epoch_time,
                "seconds": time.perf_counter() - start,
                "test": {part: {m: result.test[part][m] for m in METRICS} for part in result.test},
            }
        )
    row: dict[str, Any] = {
        "data": name,
        "shift": shift,
        "model": model,
        "sampler": sampler,
        "trials": finished_trials(study),
        "seeds": len(plan["seeds"]),
        "val_ndcg@20": best["value"],
    }
    for label, part in PARTS.items():
        for m in METRICS:
            vals = [s["test"][part][m] for s in per_seed if part in s["test"]]
            row[f"{label}_{m}_mean"] = float(np.mean(vals)) if vals else None
            row[f"{label}_{m}_std"] = float(np.std(vals)) if vals else None
    row["epoch_seconds"] = float(np.mean([s["epoch_time"] for s in per_seed]))
    row["minutes"] = (time.perf_counter() - t0) / 60
    detail = {
        "study": study_name,
        "resumed_from": resumed,
        "tune_minutes": tune_minutes,
        "best": best,
        "per_seed": per_seed,
    }
    return row, detail, plots


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--small",
        action="store_true",
        help="the small plan: synthetic and coat, LightGCN, 8 trials of at most 30 epochs",
    )
    parser.add_argument(
        "--data", nargs="+", choices=list(DATASETS), help="datasets (default: the plan's)"
    )
    parser.add_argument("--samplers", nargs="+")
    parser.add_argument("--models", nargs="+", choices=["lightgcn", "ngcf", "mf"])
    parser.add_argument("--trials", type=int, help="finished trials per study")
    parser.add_argument("--epochs", type=int, help="maximum epochs per run")
    parser.add_argument(
        "--seeds", type=int, nargs="+", help="seeds of the re-runs of the best configuration"
    )
    parser.add_argument(
        "--data-root", default=None, help="folder of the datasets (default: ../shared/data)"
    )
    parser.add_argument(
        "--out", default=None, help="output folder (default: benchmarks/results/<small|full>)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument(
        "--docs",
        default=None,
        metavar="PAGE",
        help="also write the table and plots into this docs page (docs/benchmarks.md), "
        "between its results markers",
    )
    args = parser.parse_args(argv)
    # Recorded in results.md / results.json (and so on the docs page): what produced them.
    command = shlex.join(
        ["python", "benchmarks/run_benchmarks.py", *(sys.argv[1:] if argv is None else argv)]
    )
    commit = git_commit()  # at the start: the code that runs, even if the tree moves meanwhile
    plan = dict(SMALL if args.small else FULL)
    for key in ("data", "samplers", "models", "trials", "epochs", "seeds"):
        if getattr(args, key) is not None:
            plan[key] = getattr(args, key)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out or f"benchmarks/results/{'small' if args.small else 'full'}")
    out.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{out / 'studies.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings(
        "ignore", category=UserWarning, module="pyg_negdiff.data"
    )  # split notes

    rows, details, plots = [], [], []
    started = time.perf_counter()
    total = len(plan["data"]) * len(plan["models"]) * len(plan["samplers"])
    print(
        f"{total} studies of {plan['trials']} trials, best re-run over seeds {plan['seeds']}; "
        f"studies in {storage}"
    )
    for name in plan["data"]:
        data = prepare(name, args.data_root)
        print(f"\n{data.summary()}")
        for model in plan["models"]:
            for sampler in plan["samplers"]:
                row, detail, written = bench_one(data, name, model, sampler, plan, storage, out)
                rows.append(row)
                details.append(detail)
                plots += written
                print(
                    f"[{len(rows)}/{total}] {detail['study']}: val NDCG@20 {row['val_ndcg@20']:.4f}, "
                    f"IID NDCG@20 {cell(row, 'iid_ndcg@20')}, OOD NDCG@20 {cell(row, 'ood_ndcg@20')} "
                    f"({row['minutes']:.1f} min)",
                    flush=True,
                )

    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    table = markdown_table(rows)
    minutes = (time.perf_counter() - started) / 60
    results_md = (
        f"Produced by `{command}` (git commit `{commit[:12]}{'-dirty' if commit.endswith('-dirty') else ''}`, "
        f"{time.strftime('%Y-%m-%d')}): {total} studies, {minutes:.1f} min in all on "
        f"{torch.get_num_threads()} CPU threads.\n\n"
        f"Best configuration of a {plan['trials']}-trial Optuna study per row (TPE, median pruning, "
        f"validation NDCG@20, at most {plan['epochs']} epochs, patience {plan['patience']}), re-trained "
        f"with seeds {plan['seeds']}: mean ± std of the test metrics at each re-run's best validation "
        f"epoch. IID: test drawn like the training data; OOD: the dataset's shifted test. Bold: best OOD "
        f"NDCG@20 per dataset and backbone. `min`: minutes for the study and its re-runs.\n\n{table}\n"
    )
    (out / "results.md").write_text(results_md)
    plots.append(bar_chart(rows, out))
    (out / "results.json").write_text(
        json.dumps(
            {
                "plan": plan,
                "datasets": {n: DATASETS[n][0] for n in plan["data"]},
                "rows": rows,
                "details": details,
                "plots": plots,
                "command": command,
                "git_commit": commit,
                "minutes": minutes,
                "versions": {
                    "python": platform.python_version(),
                    "torch": torch.__version__,
                    "optuna": optuna.__version__,
                },
                "threads": torch.get_num_threads(),
            },
            indent=2,
        )
    )
    if args.docs:
        update_docs(Path(args.docs), out, results_md.strip(), plots)
    print("\n" + table)
    print(f"\nwritten to {out}/ in {minutes:.1f} min")


if __name__ == "__main__":
    main()
