"""The diffusion ablation of issue 13: every CNSDiff / ADAR variant against uniform and the
heuristic samplers, under one equal-budget protocol, on the five shift scenarios.

Protocol, per scenario (one fixed split, ``benchmarks/run_benchmarks.py``'s ``DATASETS``):

1. **Backbone once.** LightGCN's learning rate and L2 weight are tuned with uniform negatives
   (``--backbone-trials`` TPE trials on validation NDCG@20) and then fixed for every row.
2. **Equal budgets.** Every row (sampler or variant) gets the same ``--trials`` TPE trials over
   *its own* constants only (``VARIANTS``: a row without constants has nothing to tune).
3. **Seeds.** The best configuration (on validation) is re-trained with every seed of
   ``--seeds``; each run reads its test parts once, at its own best-validation epoch.

Reported per row: IID and OOD NDCG@20 and Recall@20 (mean ± std), the seed-paired difference
against uniform and against the best heuristic (the one of DNS, MixGCF, AHNS with the highest
mean *validation* NDCG@20), the share of top-20 lists taken by the 10% most popular items
(``head@20``, on the OOD test users), the mechanism diagnostics the diffusion samplers log
(mean over the last three epochs), and the training time per epoch.

    python benchmarks/diffusion_ablation.py --scenarios synthetic coat ml-100k
    python benchmarks/diffusion_ablation.py --scenarios yahoo-r3 --rows core --trials 0
    python benchmarks/diffusion_ablation.py --report   # tables from what has been run

Every finished run is appended to ``<out>/runs-<scenarios>.jsonl`` (with the git commit); a
re-run skips what is there, so the script resumes. ``--report`` writes ``<out>/ablation.md`` and
``<out>/ablation.json``. Run scenarios in parallel as separate processes pinned to one core
each (``taskset -c N``); the script sets one torch thread.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import optuna
import torch

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.experiment import RunConfig, make_trainer
from pyg_negdiff.tune import Objective
from pyg_negdiff.tune.space import SAMPLER_SPACES

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import git_commit, replace_block  # noqa: E402
from run_benchmarks import prepare  # noqa: E402

Space = Callable[[optuna.Trial], dict[str, Any]]


def _no_space(trial: optuna.Trial) -> dict[str, Any]:
    return {}


#: CNSDiff's own constants: how hard the curriculum ends and the contrastive weight (the library's
#: search space, `pyg_negdiff.tune.space.SAMPLER_SPACES`).
_curriculum = SAMPLER_SPACES["cnsdiff"]


def _cl_only(trial: optuna.Trial) -> dict[str, Any]:
    return {"cl_weight": trial.suggest_float("cl_weight", 0.0, 0.5)}


def _adar(trial: optuna.Trial) -> dict[str, Any]:
    return {"t_min": trial.suggest_int("t_min", 1, 25)}


BEFORE = {"anchor": "positive", "gradient": "detach"}  # CNSDiff's options before issue 13
ADAR_BEFORE = {"forward_noise": True, "gradient": "detach", "skip_edge_cases": False}
#: The environment penalty and the environment-conditioned denoiser (RunConfig fields), for row (h).
CAUSAL = {
    "penalty_weight": 1.0,
    "condition_on_environment": True,
    "environments": "popularity",
    "num_environments": 3,
}

#: Row name -> (sampler, fixed constructor arguments, search space over its own constants, and
#: RunConfig fields of the row). Letters are the variants of issue 13.
VARIANTS: dict[str, tuple[str, dict[str, Any], Space, dict[str, Any]]] = {
    "uniform": ("uniform", {}, _no_space, {}),
    "dns": (
        "dns",
        {},
        lambda t: {"num_candidates": t.suggest_categorical("num_candidates", [8, 16, 32])},
        {},
    ),
    "mixgcf": (
        "mixgcf",
        {},
        lambda t: {"num_candidates": t.suggest_categorical("num_candidates", [8, 16, 32])},
        {},
    ),
    "ahns": (
        "ahns",
        {},
        lambda t: {
            "alpha": t.suggest_float("alpha", 0.1, 2.0),
            "beta": t.suggest_float("beta", 0.01, 1.0, log=True),
        },
        {},
    ),
    # (a) the library's CNSDiff before issue 13: the positive, noised and denoised, detached.
    "cnsdiff-a-before": ("cnsdiff", BEFORE, _curriculum, {}),
    # (b) the authors' code, faithfully.
    "cnsdiff-b-published": ("cnsdiff", {"preset": "published"}, _no_space, {}),  # as published
    # (c) (a) with the gradient through the synthesized part.
    "cnsdiff-c-straight-through": (
        "cnsdiff",
        {**BEFORE, "gradient": "straight-through"},
        _curriculum,
        {},
    ),
    # (d) (a) with the synthesized negative as its own BPR term, the real one at full weight.
    "cnsdiff-d-separate": ("cnsdiff", {**BEFORE, "combine": "separate"}, _curriculum, {}),
    # (e) (a) with never a candidate above the positive.
    "cnsdiff-e-band": ("cnsdiff", {**BEFORE, "selection": "band"}, _curriculum, {}),
    # (f) diffusion anchored on the real negative, moved towards the positive, gradient to it: the default.
    "cnsdiff-f-default": ("cnsdiff", {}, _curriculum, {}),
    # (f') as (f), the gradient shared with the positive as in MixGCF's mixing.
    "cnsdiff-f2-linear": ("cnsdiff", {"gradient": "linear"}, _curriculum, {}),
    # (g) uniform negatives plus the batch-scope contrastive term, nothing synthesized.
    "cnsdiff-g-cl-only": (
        "cnsdiff",
        {"synthesize": False, "contrast_scope": "batch"},
        _cl_only,
        {},
    ),
    # (h) the default with the causal part on: environment penalty and conditioned denoiser.
    "cnsdiff-h-default-causal": ("cnsdiff", {}, _curriculum, CAUSAL),
    "adar-before": ("adar", ADAR_BEFORE, _no_space, {}),
    "adar-clipped": ("adar", {**ADAR_BEFORE, "skip_edge_cases": True}, _adar, {}),
    "adar-denoise": (
        "adar",
        {**ADAR_BEFORE, "generation": "denoise", "skip_edge_cases": True},
        _adar,
        {},
    ),
    "adar-mean": (
        "adar",
        {**ADAR_BEFORE, "forward_noise": False, "skip_edge_cases": True},
        _adar,
        {},
    ),
    # The default: the mean point, the gradient to the reference, edge cases skipped.
    "adar-default": ("adar", {}, _adar, {}),
}
#: The rows run on the expensive scenarios.
CORE = [
    "uniform",
    "dns",
    "mixgcf",
    "ahns",
    "cnsdiff-a-before",
    "cnsdiff-f-default",
    "adar-before",
    "adar-default",
]
HEURISTICS = ("dns", "mixgcf", "ahns")
SCENARIOS = ("synthetic", "coat", "yahoo-r3", "ml-100k", "ml-1m")
#: Per-scenario training budget (epochs, patience, batch size): the large graphs get larger batches.
BUDGET = {
    "synthetic": (40, 8, 2048),
    "coat": (60, 10, 512),
    "ml-100k": (40, 8, 2048),
    "yahoo-r3": (30, 6, 4096),
    "ml-1m": (8, 3, 8192),
}
DIAGNOSTICS = (
    "hard_above_pos",
    "neg_sigmoid",
    "neg_grad_norm",
    "cos_hard_pos",
    "head_share@20",
    "transition_at_1",
    "transition_at_T",
    "mix_ratio",
)
METRICS = ("ndcg@20", "recall@20")


def base_config(scenario: str, **values: Any) -> RunConfig:
    epochs, patience, batch = BUDGET[scenario]
    return RunConfig.from_dict(
        {
            "model": "lightgcn",
            "embedding_dim": 32,
            "num_layers": 2,
            "epochs": epochs,
            "patience": patience,
            "batch_size": batch,
            **values,
        }
    )


def tune(
    data: InteractionData, base: RunConfig, space: Space, trials: int, seed: int = 0
) -> dict[str, Any]:
    """``trials`` TPE trials (seeded) of ``space`` over ``base``; returns the best trial's values."""
    if trials <= 0:
        return {}
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_warmup_steps=5),
    )
    study.optimize(Objective(data, space, base), n_trials=trials)
    return study.best_trial.user_attrs["config"]


def train_once(data: InteractionData, config: RunConfig) -> dict[str, Any]:
    """One seeded run: test metrics at the best validation epoch, head@20, diagnostics, time."""
    trainer = make_trainer(config, data, progress=False)
    result = trainer.fit()
    ood = "test_ood" if "test_ood" in data.parts else "test"
    head = trainer.evaluator.head_share(trainer.embeddings(), ood)
    tail = result.history[-3:]
    logs = {
        k: float(np.mean([h.sampler_logs[k] for h in tail if k in h.sampler_logs]))
        for k in DIAGNOSTICS
        if any(k in h.sampler_logs for h in tail)
    }
    return {
        "test": result.test,
        "val": result.best_val,
        "best_epoch": result.best_epoch,
        "epochs": len(result.history),
        "epoch_time": result.epoch_time,
        "head@20": head,
        "diagnostics": logs,
    }


def run_scenario(
    scenario: str, rows: list[str], args: argparse.Namespace, done: set[tuple], log: Path
) -> None:
    data = prepare(scenario, args.data_root)
    print(f"[{scenario}] {data.summary()}", flush=True)
    backbone_key = (scenario, "_backbone", -1)
    if backbone_key in done:
        backbone = done_records(log.parent)[backbone_key]["backbone"]
    else:
        space = lambda t: {
            "lr": t.suggest_float("lr", 1e-3, 5e-2, log=True),  # noqa: E731
            "l2": t.suggest_float("l2", 1e-6, 1e-2, log=True),
        }
        best = tune(data, base_config(scenario), space, args.backbone_trials)
        backbone = {"lr": best.get("lr", 1e-2), "l2": best.get("l2", 1e-4)}
        append(log, {"scenario": scenario, "row": "_backbone", "seed": -1, "backbone": backbone})
    print(f"[{scenario}] backbone {backbone}", flush=True)
    for row in rows:
        sampler, fixed, space, extra = VARIANTS[row]
        if all((scenario, row, s) in done for s in args.seeds):
            continue
        start = time.perf_counter()
        base = base_config(scenario, sampler=sampler, sampler_kwargs=fixed, **backbone, **extra)
        # A row with nothing of its own to tune spends no trials (they would only pick a lucky seed).
        best = tune(
            data,
            base,
            lambda t: {"sampler_kwargs": space(t)},
            args.trials if space is not _no_space else 0,
        )
        kwargs = best.get("sampler_kwargs", fixed)
        for seed in args.seeds:
            if (scenario, row, seed) in done:
                continue
            config = RunConfig.from_dict({**base.to_dict(), "sampler_kwargs": kwargs, "seed": seed})
            out = train_once(data, config)
            append(
                log,
                {
                    "scenario": scenario,
                    "row": row,
                    "seed": seed,
                    "sampler": sampler,
                    "sampler_kwargs": kwargs,
                    "config": extra,
                    "trials": args.trials,
                    "backbone": backbone,
                    **out,
                },
            )
            print(
                f"[{scenario}] {row} seed {seed}: OOD ndcg@20 "
                f"{out['test'].get('test_ood', out['test'].get('test', {})).get('ndcg@20', float('nan')):.4f} "
                f"head@20 {out['head@20']:.2f} ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )


# ------------------------------------------------------------------ records
def append(log: Path, record: dict[str, Any]) -> None:
    record = {**record, "commit": COMMIT}
    with log.open("a") as f:
        f.write(json.dumps(record, default=list) + "\n")


def done_records(out_dir: Path) -> dict[tuple, dict[str, Any]]:
    """Every finished run in ``out_dir/runs*.jsonl`` (one file per process), keyed by (scenario, row, seed)."""
    out = {}
    for log in sorted(out_dir.glob("runs*.jsonl")):
        for line in log.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                out[(r["scenario"], r["row"], r["seed"])] = r
    return out


# ------------------------------------------------------------------ report
def _parts(record: dict[str, Any]) -> dict[str, str]:
    return {
        "OOD": "test_ood" if "test_ood" in record["test"] else "test",
        "IID": "test" if "test_ood" in record["test"] else None,
    }


def summarize(records: dict[tuple, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (scenario, row): means, stds and seed-paired differences."""
    by: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
    for (scenario, row, seed), r in records.items():
        if row != "_backbone":
            by.setdefault((scenario, row), {})[seed] = r
    table = []
    for scenario in SCENARIOS:
        rows = {row: seeds for (s, row), seeds in by.items() if s == scenario}
        if not rows:
            continue
        heur = [h for h in HEURISTICS if h in rows]
        best_heur = (
            max(heur, key=lambda h: np.mean([r["val"]["ndcg@20"] for r in rows[h].values()]))
            if heur
            else None
        )
        for row in VARIANTS:
            if row not in rows:
                continue
            seeds = rows[row]
            entry: dict[str, Any] = {
                "scenario": scenario,
                "row": row,
                "seeds": sorted(seeds),
                "best_heuristic": best_heur,
            }
            for label in ("OOD", "IID"):
                for m in METRICS:
                    vals = {
                        s: r["test"][p][m]
                        for s, r in seeds.items()
                        if (p := _parts(r)[label]) is not None and p in r["test"]
                    }
                    if not vals:
                        continue
                    key = f"{label} {m}"
                    entry[key] = (
                        float(np.mean(list(vals.values()))),
                        float(np.std(list(vals.values()))),
                    )
                    for ref_name, ref in (("uniform", "uniform"), ("heuristic", best_heur)):
                        if ref is None or ref not in rows:
                            continue
                        common = [s for s in vals if s in rows[ref]]
                        ref_vals = [
                            rows[ref][s]["test"][_parts(rows[ref][s])[label]][m] for s in common
                        ]
                        diff = np.array([vals[s] for s in common]) - np.array(ref_vals)
                        if len(diff):
                            entry[f"{key} - {ref_name}"] = (float(diff.mean()), float(diff.std()))
            entry["head@20"] = float(np.mean([r["head@20"] for r in seeds.values()]))
            entry["epoch_time"] = float(np.mean([r["epoch_time"] for r in seeds.values()]))
            entry["best_epoch"] = float(np.mean([r["best_epoch"] for r in seeds.values()]))
            diag = {}
            for k in DIAGNOSTICS:
                vals = [
                    r["diagnostics"][k] for r in seeds.values() if k in r.get("diagnostics", {})
                ]
                if vals:
                    diag[k] = float(np.mean(vals))
            entry["diagnostics"] = diag
            entry["sampler_kwargs"] = next(iter(seeds.values()))["sampler_kwargs"]
            entry["trials"] = next(iter(seeds.values()))["trials"]
            table.append(entry)
    return table


def _pm(value: tuple[float, float] | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value[0]:.{digits}f} ± {value[1]:.{digits}f}"


def _signed(value: tuple[float, float] | None) -> str:
    return "-" if value is None else f"{value[0]:+.4f} ± {value[1]:.4f}"


def markdown(table: list[dict[str, Any]]) -> str:
    lines = []
    for scenario in SCENARIOS:
        rows = [r for r in table if r["scenario"] == scenario]
        if not rows:
            continue
        uniform_time = next((r["epoch_time"] for r in rows if r["row"] == "uniform"), None)
        lines += [
            f"### {scenario}",
            "",
            f"Best heuristic (highest mean validation NDCG@20): **{rows[0]['best_heuristic']}**; "
            f"seeds {rows[0]['seeds']}; {rows[0]['trials']} trials per row.",
            "",
            "| row | OOD NDCG@20 | Δ vs uniform | Δ vs best heuristic | IID NDCG@20 | OOD Recall@20 "
            "| IID Recall@20 | head@20 | s_uh ≥ s_ui | σ(−margin) | ‖∇e_j‖ | cos(h, e_i) | best epoch "
            "| epoch time (× uniform) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            d = r["diagnostics"]

            def g(k: str) -> str:
                return f"{d[k]:.2f}" if k in d else "-"

            ratio = f"{r['epoch_time'] / uniform_time:.2f}" if uniform_time else "-"
            lines.append(
                f"| {r['row']} | {_pm(r.get('OOD ndcg@20'))} | {_signed(r.get('OOD ndcg@20 - uniform'))} "
                f"| {_signed(r.get('OOD ndcg@20 - heuristic'))} | {_pm(r.get('IID ndcg@20'))} "
                f"| {_pm(r.get('OOD recall@20'))} | {_pm(r.get('IID recall@20'))} | {r['head@20']:.2f} "
                f"| {g('hard_above_pos')} | {g('neg_sigmoid')} | {g('neg_grad_norm')} | {g('cos_hard_pos')} "
                f"| {r['best_epoch']:.1f} | {ratio} |"
            )
        lines.append("")
    return "\n".join(lines)


def plot(table: list[dict[str, Any]], path: Path) -> None:
    """OOD NDCG@20 (mean ± std over seeds) of every row, one panel per scenario."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = [s for s in SCENARIOS if any(r["scenario"] == s for r in table)]
    fig, axes = plt.subplots(1, len(scenarios), figsize=(4.2 * len(scenarios), 4.8), squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        rows = [r for r in table if r["scenario"] == scenario and "OOD ndcg@20" in r]
        means = [r["OOD ndcg@20"][0] for r in rows]
        colors = [
            (
                "tab:gray"
                if r["row"] == "uniform"
                else (
                    "tab:blue"
                    if r["row"] in HEURISTICS
                    else "tab:green" if r["row"].endswith("default") else "tab:orange"
                )
            )
            for r in rows
        ]
        ax.barh(range(len(rows)), means, xerr=[r["OOD ndcg@20"][1] for r in rows], color=colors)
        ax.set_yticks(range(len(rows)), [r["row"] for r in rows], fontsize=7)
        ax.invert_yaxis()
        uniform = next((r["OOD ndcg@20"][0] for r in rows if r["row"] == "uniform"), None)
        if uniform is not None:
            ax.axvline(uniform, color="black", lw=0.8, ls="--")
        ax.set_title(scenario)
        ax.set_xlabel("OOD NDCG@20")
    fig.suptitle(
        "Diffusion ablation: OOD NDCG@20, mean ± std over seeds (dashed: uniform; green: defaults)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


DOC_START, DOC_END = "<!-- ablation:start -->", "<!-- ablation:end -->"


def update_docs(page: Path, out: Path, table_md: str, commits: list[str]) -> None:
    """Writes the tables (and the plot, next to the page) between the page's ablation markers."""
    import shutil

    assets = page.parent / "ablation"
    assets.mkdir(parents=True, exist_ok=True)
    shutil.copy(out / "ood_ndcg.png", assets / "ood_ndcg.png")
    block = (
        f"Produced by `python benchmarks/diffusion_ablation.py --report --out {out} --docs {page}` "
        f"from runs of commit(s) {', '.join(commits)}.\n\n![ablation](ablation/ood_ndcg.png)\n\n"
        + table_md.strip()
    )
    replace_block(page, DOC_START, DOC_END, block)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    parser.add_argument(
        "--rows",
        nargs="+",
        default=["all"],
        help="row names (see VARIANTS), 'all', or 'core' (the rows of the expensive scenarios)",
    )
    parser.add_argument(
        "--skip", nargs="*", default=[], help="rows left out of 'all' (e.g. the slow published row)"
    )
    parser.add_argument(
        "--trials", type=int, default=3, help="TPE trials per row over its own constants"
    )
    parser.add_argument(
        "--backbone-trials", type=int, default=6, help="TPE trials of lr/l2 with uniform"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", default="benchmarks/results/ablation")
    parser.add_argument(
        "--report", action="store_true", help="only write the tables from the run logs"
    )
    parser.add_argument(
        "--docs", default=None, help="also write the tables into this page's ablation block"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # One log per process, so that scenarios can run in parallel processes.
    log = out / f"runs-{'-'.join(args.scenarios)}.jsonl"
    if not args.report:
        rows = (
            list(VARIANTS) if args.rows == ["all"] else CORE if args.rows == ["core"] else args.rows
        )
        rows = [r for r in rows if r not in args.skip]
        unknown = set(rows) - set(VARIANTS)
        if unknown:
            parser.error(f"unknown rows {sorted(unknown)}; known: {sorted(VARIANTS)}")
        for scenario in args.scenarios:
            run_scenario(scenario, rows, args, set(done_records(out)), log)
    records = done_records(out)
    table = summarize(records)
    commits = sorted(
        {
            r.get("commit", "unknown")[:7]
            + ("-dirty" if r.get("commit", "").endswith("-dirty") else "")
            for r in records.values()
        }
    )
    (out / "ablation.json").write_text(json.dumps({"commits": commits, "rows": table}, indent=2))
    (out / "ablation.md").write_text(markdown(table))
    plot(table, out / "ood_ndcg.png")
    if args.docs:
        update_docs(Path(args.docs), out, markdown(table), commits)
    print(markdown(table))


COMMIT = git_commit()

if __name__ == "__main__":
    main()
