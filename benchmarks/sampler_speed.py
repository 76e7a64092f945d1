"""What the heuristic samplers cost per epoch, and how many false hard negatives they draw.

**Speed** (default mode). LightGCN (64 dimensions, 3 layers, batches of 2048 by
default) is trained with every sampler of ``--samplers`` through the library's
`Trainer`, all in this one process. The epochs are interleaved (epoch 0 of every
sampler, then epoch 1 of every sampler, ...) so that a machine whose load changes
during the run slows all samplers alike. Reported per sampler: the median training
time of an epoch (evaluation excluded), its ratio to uniform sampling, and the time
spent inside the sampler's ``forward`` (candidate draws and scoring).

**False hard negatives** (``--fhn``). On the synthetic popularity-confounded data,
which knows every user's true preferences (``data.true_positives``), LightGCN is
trained with every sampler for ``--epochs`` epochs, and the share of the negatives
that the user truly likes (`pyg_negdiff.sampling.FHNRatio`, through the trainer's
``fhn_reference``) is recorded per epoch. Synthetic negatives count through their
``probe_items`` (MixGCF: the candidate chosen at most layers; CNSDiff / ADAR are
built with ``probe=True``). Uniform gives the base rate. Recall@20 after the last
epoch is reported beside it, on the IID test and the uniform-exposure ``test_ood``.

    python benchmarks/sampler_speed.py --data synthetic --epochs 3
    python benchmarks/sampler_speed.py --data ml-1m --epochs 2 --threads 4
    python benchmarks/sampler_speed.py --fhn --epochs 20

Results go to ``benchmarks/results/`` as JSON (configuration, seeds, times, the
git commit) and a Markdown table, which is also printed.
"""

from __future__ import annotations

import argparse
import inspect
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pyg_negdiff.data.prepare import load, prepare_data
from pyg_negdiff.experiment import RunConfig, make_trainer
from pyg_negdiff.sampling import SAMPLERS
from pyg_negdiff.train import Trainer
from _common import git_commit  # noqa: E402  (sibling module of this script)

HEURISTIC = ("uniform", "popularity", "dns", "mixgcf", "ahns")


def config_for(args: argparse.Namespace, sampler: str, fhn: bool = False) -> RunConfig:
    kwargs: dict[str, Any] = {}
    if fhn and "probe" in inspect.signature(SAMPLERS[sampler]).parameters:
        kwargs["probe"] = True  # a synthesized negative counts as its nearest real item
    return RunConfig(
        model=args.model,
        embedding_dim=args.dim,
        num_layers=args.layers,
        sampler=sampler,
        sampler_kwargs=kwargs,
        lr=args.lr,
        batch_size=args.batch_size,
        epochs=args.epochs,
        patience=None,
        seed=args.seed,
        device=args.device,
    )


def time_sampler(trainer: Trainer) -> list[float]:
    """Accumulates the wall time of the sampler's ``forward`` into the returned one-element list."""
    spent = [0.0]
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)

    def start(*_: Any) -> None:
        sync()
        spent[0] -= time.perf_counter()

    def stop(*_: Any) -> None:
        sync()
        spent[0] += time.perf_counter()

    trainer.sampler.register_forward_pre_hook(start)
    trainer.sampler.register_forward_hook(stop)
    return spent


def run_speed(args: argparse.Namespace) -> dict[str, Any]:
    data = load(args.data, root=args.data_root, seed=args.seed)
    trainers = {
        name: make_trainer(config_for(args, name), data, progress=False) for name in args.samplers
    }
    spent = {name: time_sampler(t) for name, t in trainers.items()}
    times: dict[str, list[float]] = {name: [] for name in args.samplers}
    for epoch in range(args.epochs):
        for name, trainer in trainers.items():
            times[name].append(trainer.train_epoch(epoch).train_time)
            print(f"epoch {epoch} {name}: {times[name][-1]:.2f} s", file=sys.stderr)
    results = {}
    for name, trainer in trainers.items():
        results[name] = {
            "sampler": repr(trainer.sampler),
            "epoch_times": times[name],
            "epoch_time": float(np.median(times[name])),
            "sampler_time": spent[name][0] / args.epochs,
        }
    base = results["uniform"]["epoch_time"]
    for r in results.values():
        r["time_ratio"] = r["epoch_time"] / base
    return {
        "mode": "speed",
        "data": repr(data),
        "batches_per_epoch": -(-data.train.size(1) // args.batch_size),
        "results": results,
    }


def run_fhn(args: argparse.Namespace) -> dict[str, Any]:
    data = prepare_data(args.data, root=args.data_root, seed=args.seed)
    if data.true_positives is None:
        sys.exit(f"{args.data!r} has no true preferences: use --data synthetic")
    results = {}
    for name in args.samplers:
        trainer = make_trainer(config_for(args, name, fhn=True), data, progress=False, fhn=True)
        stats = [trainer.train_epoch(epoch) for epoch in range(args.epochs)]
        ratios = [s.fhn_ratio for s in stats]
        emb = trainer.embeddings()
        recall = {
            part: trainer.evaluator.evaluate(emb, part)["recall@20"]
            for part in ("test", "test_ood")
            if part in data.parts
        }
        results[name] = {
            "sampler": repr(trainer.sampler),
            "fhn_per_epoch": ratios,
            "fhn_mean": float(np.mean(ratios)),
            "fhn_last": ratios[-1],
            "recall@20": recall,
            "epoch_time": float(np.mean([s.train_time for s in stats])),
        }
        print(
            f"{name}: FHN ratio {results[name]['fhn_mean']:.4f} (last {ratios[-1]:.4f})",
            file=sys.stderr,
        )
    return {"mode": "fhn", "data": repr(data), "results": results}


def table(report: dict[str, Any]) -> str:
    rows = report["results"]
    if report["mode"] == "fhn":
        lines = [
            "| sampler | mean FHN ratio | last epoch | recall@20 test | recall@20 test_ood | s/epoch |",
            "|---|---|---|---|---|---|",
        ]
        for name, r in rows.items():
            rec = r["recall@20"]
            lines.append(
                f"| {name} | {r['fhn_mean']:.4f} | {r['fhn_last']:.4f} | {rec.get('test', float('nan')):.4f} "
                f"| {rec.get('test_ood', float('nan')):.4f} | {r['epoch_time']:.2f} |"
            )
        return "\n".join(lines)
    lines = [
        "| sampler | s/epoch (median) | ratio to uniform | in sampler, s/epoch |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {r['epoch_time']:.3f} | {r['time_ratio']:.2f} | {r['sampler_time']:.3f} |"
        for name, r in rows.items()
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", default="synthetic", help="a path, a built-in name (ml-1m, ...) or synthetic"
    )
    parser.add_argument("--data-root", default=None)
    parser.add_argument(
        "--epochs", type=int, default=2, help="timed epochs (speed) or trained epochs (--fhn)"
    )
    parser.add_argument(
        "--samplers",
        type=lambda s: s.split(","),
        default=list(HEURISTIC),
        help=f"comma-separated names among {', '.join(SAMPLERS)}",
    )
    parser.add_argument(
        "--fhn", action="store_true", help="compare false-hard-negative ratios instead"
    )
    parser.add_argument("--model", default="lightgcn", choices=["lightgcn", "ngcf", "mf"])
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    parser.add_argument(
        "--out",
        default=None,
        help="output stem (default: benchmarks/results/sampler_<mode>_<data>)",
    )
    args = parser.parse_args()
    unknown = [s for s in args.samplers if s not in SAMPLERS]
    if unknown:
        parser.error(f"unknown samplers {unknown}; choose from {sorted(SAMPLERS)}")
    if "uniform" not in args.samplers:
        args.samplers = ["uniform", *args.samplers]  # the reference of every ratio
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    report = run_fhn(args) if args.fhn else run_speed(args)
    report.update(
        {
            "config": vars(args),
            "git_commit": git_commit(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "machine": platform.platform(),
            "processor": platform.processor(),
        }
    )
    stem = (
        Path(args.out)
        if args.out
        else (
            Path(__file__).parent / "results" / f"sampler_{report['mode']}_{Path(args.data).stem}"
        )
    )
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2))
    markdown = table(report)
    stem.with_suffix(".md").write_text(
        f"{report['data']}, {args.model}, {args.epochs} epochs, "
        f"commit {report['git_commit']}\n\n{markdown}\n"
    )
    print(markdown)
    print(f"\nwritten to {stem}.json and {stem}.md")


if __name__ == "__main__":
    main()
