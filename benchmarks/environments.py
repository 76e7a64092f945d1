"""Environment inference and the V-REx / IRM penalty on the synthetic confounded data.

Two experiments, each over several generator seeds (``make_synthetic(seed=s)``):

1. **Recovery.** Normalized mutual information (NMI) between the ground-truth
   environments of the training interactions (``data.env["train"]``: the item's
   latent-popularity tier) and the environments of every strategy: the observed
   proxies, EIIL and clustering on a reference LightGCN trained by plain BPR
   (ERM). Three figures fitted *on the truth* put them in context: the best NMI
   of any cuts of the observed item popularity (a grid search on NMI itself), a
   logistic regression of the true tier on log popularity, and the latter with
   the generator's hidden knowledge of which clicks are conformity clicks.
2. **Penalty on vs off.** LightGCN with uniform negatives, trained with plain
   BPR and with the V-REx (or IRM) penalty on several environment strategies
   (`PENALTY`; learned ones re-inferred every 5 epochs during training). The
   best epoch is chosen on validation NDCG@20 (the trainer's protocol); the
   report gives the per-environment validation Recall@20 (ground-truth
   environments), its spread (max - min) and worst value, the OOD and IID test
   NDCG@20 read once at the best epoch, and the time of an environment update
   as a share of an epoch.

3. **Environment-conditioned diffusion.** CNSDiff (library defaults) with a
   plain denoiser against one conditioned on the environments
   (``CNSDiffSampler(num_environments=K)``: popularity tiers or the oracle),
   and conditioned plus the V-REx penalty; the same report as (2).

Results go to JSON (configuration, seeds, per-seed rows, git commit) and a
Markdown table (mean ± std over seeds)::

    python benchmarks/environments.py --seeds 0 1 2 3 4  # the reported run: all three, 13 min
    python benchmarks/environments.py --seeds 0 --skip-penalty --skip-conditioning
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from pyg_negdiff.causal import (
    EnvironmentInference,
    IRMPenalty,
    VarianceRiskPenalty,
    harden,
    normalized_mutual_info,
)
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.synthetic import make_synthetic
from pyg_negdiff.metrics import Evaluator
from pyg_negdiff.nn import LightGCN
from pyg_negdiff.nn.base import Embeddings
from pyg_negdiff.sampling.cnsdiff import CNSDiffSampler
from pyg_negdiff.sampling.uniform import UniformSampler
from pyg_negdiff.train import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import git_commit  # noqa: E402  (sibling module of this script)

#: (label, strategy name, options) of the recovery experiment. Proxies ignore the reference model.
RECOVERY = [
    ("proxy: popularity tiers (equal items)", "popularity", {"by": "items"}),
    ("proxy: popularity tiers (equal interactions)", "popularity", {"by": "interactions"}),
    ("proxy: user activity tiers", "activity", {}),
    ("EIIL per interaction, V-REx objective (default)", "eiil", {}),
    ("EIIL per interaction, V-REx objective, 1 negative", "eiil", {"num_negatives": 1}),
    ("EIIL per interaction, IRM objective", "eiil", {"objective": "irm", "balance": 0.0}),
    (
        "EIIL tied per item, IRM objective",
        "eiil",
        {"tie": "item", "objective": "irm", "balance": 0.0},
    ),
    ("EIIL tied per item, V-REx objective", "eiil", {"tie": "item", "balance": 0.0}),
    ("k-means items (loss, popularity) (default)", "cluster", {}),
    ("k-means items (popularity)", "cluster", {"features": ["popularity"]}),
    ("k-means items (loss)", "cluster", {"features": ["loss"]}),
    (
        "k-means interactions (loss, popularity, activity)",
        "cluster",
        {"level": "interaction", "features": ["loss", "popularity", "activity"]},
    ),
]

#: (label, strategy name, environment options, penalty kind, penalty options, lambdas) of the
#: penalty experiment; kind None = plain BPR. "warmup" in the penalty options counts epochs.
PENALTY = [
    ("off (plain BPR)", None, {}, None, {}, [0.0]),
    ("V-REx, oracle environments", "oracle", {}, "vrex", {}, [1.0, 10.0]),
    ("V-REx, popularity tiers", "popularity", {}, "vrex", {}, [1.0, 10.0]),
    (
        "V-REx, popularity tiers, mean-loss base, 5-epoch warm-up",
        "popularity",
        {},
        "vrex",
        {"reduction": "interactions", "warmup": 5},
        [1.0, 10.0],
    ),
    (
        "one-sided V-REx, popularity tiers",
        "popularity",
        {},
        "vrex",
        {"one_sided": True},
        [1.0, 10.0],
    ),
    (
        "one-sided V-REx, popularity tiers, mean-loss base, 5-epoch warm-up",
        "popularity",
        {},
        "vrex",
        {"one_sided": True, "reduction": "interactions", "warmup": 5},
        [1.0, 10.0],
    ),
    (
        "one-sided V-REx, oracle environments",
        "oracle",
        {},
        "vrex",
        {"one_sided": True},
        [1.0, 10.0],
    ),
    (
        "V-REx, k-means items (updated every 5 epochs)",
        "cluster",
        {"update_every": 5},
        "vrex",
        {},
        [1.0, 10.0],
    ),
    (
        "V-REx, EIIL per interaction (updated every 5 epochs)",
        "eiil",
        {"update_every": 5},
        "vrex",
        {},
        [1.0],
    ),
    (
        "V-REx, EIIL tied per item, IRM objective (updated every 5 epochs)",
        "eiil",
        {"update_every": 5, "tie": "item", "objective": "irm", "balance": 0.0},
        "vrex",
        {},
        [1.0, 10.0],
    ),
    ("IRM, popularity tiers", "popularity", {}, "irm", {}, [1.0]),
]


#: The same rows for the environment-conditioned diffusion sampler: CNSDiff with a plain
#: denoiser against one conditioned on the environments (``num_environments=K``), with and
#: without the penalty. The fourth field says whether the denoiser is conditioned.
CONDITIONING = [
    ("CNSDiff, plain denoiser", None, {}, False, None, {}, [0.0]),
    ("CNSDiff, denoiser conditioned on popularity tiers", "popularity", {}, True, None, {}, [0.0]),
    ("CNSDiff, denoiser conditioned on oracle environments", "oracle", {}, True, None, {}, [0.0]),
    (
        "CNSDiff, conditioned on popularity tiers + V-REx (mean-loss base, 5-epoch warm-up)",
        "popularity",
        {},
        True,
        "vrex",
        {"reduction": "interactions", "warmup": 5},
        [1.0],
    ),
    (
        "CNSDiff, conditioned on popularity tiers + one-sided V-REx",
        "popularity",
        {},
        True,
        "vrex",
        {"one_sided": True},
        [1.0],
    ),
]


def popularity_ceiling(data: InteractionData, truth: Tensor, extra: list[Tensor] = ()) -> float:
    """NMI of the best linear rule on log item popularity (plus ``extra`` features), fitted on the truth."""
    items = data.train[1]
    cols = [torch.log1p(data.item_popularity().double())[items]] + [
        e.double()[items] for e in extra
    ]
    x = torch.stack(cols, -1)
    x = (x - x.mean(0)) / x.std(0).clamp_min(1e-12)
    k = int(truth.max()) + 1
    w = torch.zeros(x.size(1), k, dtype=torch.double, requires_grad=True)
    b = torch.zeros(k, dtype=torch.double, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(x @ w + b, truth)
        loss.backward()
        return loss

    opt.step(closure)
    return normalized_mutual_info(truth, (x @ w + b).argmax(-1))


def threshold_ceiling(data: InteractionData, truth: Tensor, grid: int = 49) -> float:
    """NMI of the best ``K - 1`` cuts of log item popularity, searched on the truth (NMI itself).

    The cuts run over a grid of popularity quantiles (every pair for K = 3). This is the
    NMI-optimal rule on popularity alone, which the likelihood-fitted `popularity_ceiling`
    is not.
    """
    from itertools import combinations

    k = int(truth.max()) + 1
    log_pop = torch.log1p(data.item_popularity().double())
    cuts = torch.quantile(log_pop, torch.linspace(0.02, 0.98, grid, dtype=torch.double)).unique()
    best = 0.0
    for chosen in combinations(cuts.tolist(), k - 1):
        labels = torch.bucketize(log_pop, torch.tensor(chosen, dtype=torch.double))
        best = max(best, normalized_mutual_info(truth, labels[data.train[1]]))
    return best


def train(
    data: InteractionData,
    args: argparse.Namespace,
    seed: int,
    *,
    epochs: int,
    environments: EnvironmentInference | None = None,
    penalty=None,
    evaluator: Evaluator | None = None,
    patience: int | None = 5,
    condition_on: int | None = None,
    sampler: str = "uniform",
) -> tuple[Trainer, Any]:
    """LightGCN with uniform negatives, or CNSDiff (``condition_on``: its denoiser's K, or None)."""
    torch.manual_seed(seed)
    model = LightGCN(data.num_users, data.num_items, args.dim, args.layers)
    if sampler == "cnsdiff":
        negatives = CNSDiffSampler(
            data.train_pairs(), model.output_dim, num_environments=condition_on
        )
    else:
        negatives = UniformSampler(data.train_pairs())
    trainer = Trainer(
        model,
        negatives,
        data,
        lr=args.lr,
        l2=args.l2,
        batch_size=args.batch_size,
        epochs=epochs,
        patience=patience,
        seed=seed,
        evaluator=evaluator,
        environments=environments,
        penalty=penalty,
        progress=False,
    )
    return trainer, trainer.fit()


def recovery(data: InteractionData, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    truth = data.env["train"]
    k = int(truth.max()) + 1
    row: dict[str, Any] = {
        "seed": seed,
        "num_environments": k,
        "truth_shares": (torch.bincount(truth, minlength=k) / truth.numel()).tolist(),
    }
    row["reference"], row["nmi"], row["inference_s"] = {}, {}, {}
    for ref_epochs in args.ref_epochs:
        start = time.perf_counter()
        trainer, result = train(data, args, seed, epochs=ref_epochs, patience=None)
        emb: Embeddings = trainer.embeddings()
        key = str(ref_epochs)
        row["reference"][key] = {
            "val_ndcg@20": result.best_val.get("ndcg@20"),
            "epoch_time_s": result.epoch_time,
            "train_s": time.perf_counter() - start,
        }
        nmi: dict[str, float] = {}
        seconds: dict[str, float] = {}
        for label, name, options in RECOVERY:
            env = EnvironmentInference(name, k, seed=seed, **options)
            t0 = time.perf_counter()
            assignment = env.fit(data, emb)
            seconds[label] = time.perf_counter() - t0
            nmi[label] = normalized_mutual_info(truth, harden(assignment))
        row["nmi"][key] = nmi
        row["inference_s"][key] = seconds
    row["ceiling_popularity_rule"] = popularity_ceiling(data, truth)
    row["ceiling_popularity_cuts"] = threshold_ceiling(data, truth)
    truth_info = getattr(data, "truth", None)
    if truth_info is not None and "train" in getattr(truth_info, "conformity", {}):
        conform = torch.zeros(data.num_items, dtype=torch.double).index_add_(
            0, data.train[1], truth_info.conformity["train"].double()
        )
        row["ceiling_with_conformity_truth"] = popularity_ceiling(
            data, truth, [torch.log1p(conform)]
        )
    return row


def penalty_runs(
    data: InteractionData, args: argparse.Namespace, seed: int, plan: str = "penalty"
) -> list[dict[str, Any]]:
    """The rows of `PENALTY` (uniform negatives) or of `CONDITIONING` (CNSDiff)."""
    k = int(data.env["train"].max()) + 1
    evaluator = Evaluator(data, ks=(20,), metrics=("recall", "ndcg"))
    rows = []
    batches = -(-data.train.size(1) // args.batch_size)
    entries = (
        [
            (label, name, options, False, kind, popts, lams)
            for label, name, options, kind, popts, lams in PENALTY
        ]
        if plan == "penalty"
        else CONDITIONING
    )
    for label, name, options, conditioned, kind, penalty_options, lams in entries:
        for lam in lams:
            env = penalty = None
            if name is not None:
                env = EnvironmentInference(name, k, seed=seed, **options)
                env.fit(data)
            if kind is not None:
                popts = dict(penalty_options)
                popts["warmup_steps"] = popts.pop("warmup", 0) * batches
                penalty = (VarianceRiskPenalty if kind == "vrex" else IRMPenalty)(lam, **popts)
            t0 = time.perf_counter()
            trainer, result = train(
                data,
                args,
                seed,
                epochs=args.epochs,
                environments=env,
                penalty=penalty,
                evaluator=evaluator,
                sampler="uniform" if plan == "penalty" else "cnsdiff",
                condition_on=k if conditioned else None,
            )
            wall = time.perf_counter() - t0
            val = evaluator.evaluate(trainer.embeddings(), "val", groups=data.env["val"])
            per_env = [val.get(f"recall@20/{e}", float("nan")) for e in range(k)]
            rows.append(
                {
                    "seed": seed,
                    "config": label,
                    "lambda": lam,
                    "plan": plan,
                    "val_recall@20": val["recall@20"],
                    "val_recall@20_per_env": per_env,
                    "val_recall@20_spread": max(per_env) - min(per_env),
                    "val_recall@20_worst": min(per_env),
                    "test_ood_ndcg@20": result.test["test_ood"]["ndcg@20"],
                    "test_ndcg@20": result.test["test"]["ndcg@20"],
                    "best_epoch": result.best_epoch,
                    "epochs_run": len(result.history),
                    "epoch_time_s": result.epoch_time,
                    "wall_s": wall,
                    "env_update_s": sum(env.update_seconds[1:]) if env is not None else 0.0,
                    "env_updates": max(0, env.num_updates - 1) if env is not None else 0,
                }
            )
            r = rows[-1]
            print(
                f"  seed {seed} {label:60s} lambda={lam:<5g} spread {r['val_recall@20_spread']:.4f} "
                f"worst {r['val_recall@20_worst']:.4f} per-env {[round(p, 3) for p in per_env]} "
                f"OOD NDCG@20 {r['test_ood_ndcg@20']:.4f} ({wall:.0f}s)",
                flush=True,
            )
    return rows


def mean_std(values: list[float]) -> str:
    a = np.asarray(values, dtype=float)
    return f"{a.mean():.3f} ± {a.std():.3f}" if a.size > 1 else f"{a.mean():.3f}"


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Environment inference and penalty on `make_synthetic` (seeds {report['seeds']})",
        "",
    ]
    rec = report["recovery"]
    if rec:
        refs = list(rec[0]["nmi"])
        lines += [
            "## Recovery of the true environments (NMI, training interactions)",
            "",
            f"K = {rec[0]['num_environments']}; true environment shares "
            f"{[round(s, 3) for s in rec[0]['truth_shares']]} (seed {rec[0]['seed']}). "
            "Learned strategies read a LightGCN reference trained by plain BPR for the given "
            "number of epochs; proxies do not depend on it.",
            "",
            "| strategy | "
            + " | ".join(f"NMI, reference after {r} epoch(s)" for r in refs)
            + " | inference time (s) |",
            "|---|" + "---|" * len(refs) + "---|",
        ]
        for label, _, _ in RECOVERY:
            cells = [mean_std([r["nmi"][ref][label] for r in rec]) for ref in refs]
            lines.append(
                f"| {label} | "
                + " | ".join(cells)
                + " | "
                + mean_std([r["inference_s"][refs[-1]][label] for r in rec])
                + " |"
            )
        lines.append(
            "| *reference: logistic regression on log popularity, fitted on the truth* | "
            + " | ".join([mean_std([r["ceiling_popularity_rule"] for r in rec])] * len(refs))
            + " | |"
        )
        if all("ceiling_popularity_cuts" in r for r in rec):
            lines.append(
                "| *ceiling: NMI-best cuts of log popularity, searched on the truth* | "
                + " | ".join([mean_std([r["ceiling_popularity_cuts"] for r in rec])] * len(refs))
                + " | |"
            )
        if all("ceiling_with_conformity_truth" in r for r in rec):
            lines.append(
                "| *ceiling: popularity + true conformity-click counts* | "
                + " | ".join(
                    [mean_std([r["ceiling_with_conformity_truth"] for r in rec])] * len(refs)
                )
                + " | |"
            )
        lines += [
            "",
            "Reference epoch time: "
            + mean_std([r["reference"][refs[-1]]["epoch_time_s"] for r in rec])
            + " s.",
            "",
        ]
    sections = [
        ("penalty", "Penalty on vs off, uniform negatives"),
        ("conditioning", "CNSDiff with a plain vs an environment-conditioned denoiser"),
    ]
    for key, title in sections:
        if report.get(key):
            lines += [
                f"## {title} (per-environment validation Recall@20, ground-truth environments)",
                "",
                *_run_table(report[key]),
                "",
            ]
    lines += ["", f"git commit `{report['git_commit']}`; configuration in the JSON file."]
    return "\n".join(lines) + "\n"


def _run_table(runs: list[dict[str, Any]]) -> list[str]:
    """Markdown rows (mean ± std over seeds) of the penalty or conditioning runs."""
    lines = [
        "| configuration | lambda | val Recall@20 | per-env val Recall@20 | spread | worst "
        "| OOD test NDCG@20 | IID test NDCG@20 | one update / one epoch (share of training) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    keys = []
    for r in runs:
        if (r["config"], r["lambda"]) not in keys:
            keys.append((r["config"], r["lambda"]))
    for config, lam in keys:
        rows = [r for r in runs if r["config"] == config and r["lambda"] == lam]
        per_env = np.mean([r["val_recall@20_per_env"] for r in rows], axis=0)
        share = np.mean(
            [
                (
                    r["env_update_s"] / max(1, r["env_updates"]) / r["epoch_time_s"]
                    if r["env_updates"]
                    else 0.0
                )
                for r in rows
            ]
        )
        amortized = np.mean(
            [
                (
                    r["env_update_s"] / (r["epoch_time_s"] * r["epochs_run"])
                    if r["env_updates"]
                    else 0.0
                )
                for r in rows
            ]
        )
        lines.append(
            f"| {config} | {lam:g} | {mean_std([r['val_recall@20'] for r in rows])} | "
            f"{', '.join(f'{v:.3f}' for v in per_env)} | "
            f"{mean_std([r['val_recall@20_spread'] for r in rows])} | "
            f"{mean_std([r['val_recall@20_worst'] for r in rows])} | "
            f"{mean_std([r['test_ood_ndcg@20'] for r in rows])} | "
            f"{mean_std([r['test_ndcg@20'] for r in rows])} | "
            f"{f'{100 * share:.0f}% ({100 * amortized:.1f}%)' if share else '-'} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--num-users", type=int, default=1000)
    parser.add_argument("--num-items", type=int, default=800)
    parser.add_argument("--num-envs", type=int, default=3)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=60, help="max epochs of the penalty runs")
    parser.add_argument(
        "--ref-epochs",
        type=int,
        nargs="+",
        default=[1, 20],
        help="epochs of the ERM reference model (one recovery column each)",
    )
    parser.add_argument("--skip-recovery", action="store_true")
    parser.add_argument("--skip-penalty", action="store_true")
    parser.add_argument(
        "--skip-conditioning",
        action="store_true",
        help="skip CNSDiff with a plain vs an environment-conditioned denoiser",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results/environments.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    report: dict[str, Any] = {
        "args": vars(args),
        "seeds": args.seeds,
        "recovery": [],
        "penalty": [],
        "conditioning": [],
        "git_commit": git_commit(),
    }
    start = time.perf_counter()
    for seed in args.seeds:
        data = make_synthetic(
            num_users=args.num_users, num_items=args.num_items, num_envs=args.num_envs, seed=seed
        )
        print(data.summary(), flush=True)
        if not args.skip_recovery:
            row = recovery(data, args, seed)
            report["recovery"].append(row)
            for ref, nmi in row["nmi"].items():
                print(
                    f"  seed {seed}, reference after {ref} epochs, NMI: "
                    + ", ".join(f"{k} {v:.3f}" for k, v in nmi.items()),
                    flush=True,
                )
            print(
                f"  logistic rule {row['ceiling_popularity_rule']:.3f}, "
                f"best cuts {row['ceiling_popularity_cuts']:.3f}",
                flush=True,
            )
        if not args.skip_penalty:
            report["penalty"] += penalty_runs(data, args, seed)
        if not args.skip_conditioning:
            report["conditioning"] += penalty_runs(data, args, seed, plan="conditioning")
    report["total_s"] = time.perf_counter() - start
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    print(f"written to {out} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
