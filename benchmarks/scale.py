"""Full versus neighbour propagation: peak memory, epoch time and accuracy.

Usage (from the repository root; writes benchmarks/results/scale.{json,md}):

    python benchmarks/scale.py --only measure --sizes 1000000 3000000 10000000 30000000 --epochs 0
    python benchmarks/scale.py --only accuracy --epochs 8 --fanout 20 10 5 [--seed S]
    python benchmarks/scale.py --only report --docs docs/scaling.md

Each ``--only`` part keeps the other parts' results from the last ``scale.json``
(accuracy runs are kept per fan-out, gradients, epochs and seed); ``report``
only rewrites ``scale.md`` and the page's block from ``scale.json``.

Two measurements, each mode in a fresh subprocess so that the peak resident
memory of one does not hide the other's:

1. **Memory and step time** (``measure``) on ML-1M and on synthetic graphs of
   growing size: ``--steps`` timed training steps after one warm-up step. The
   epoch time is the mean step time times the steps of an epoch (an
   extrapolation: on a CPU a full ten-million-interaction epoch takes hours).
   Memory is the process's peak RSS (``VmHWM``), and the *step* memory is the
   peak RSS of the timed steps (the mark reset after the warm-up) minus the
   RSS they started from (graph, parameters and Adam's moments included
   there): what one step allocates on top. Neighbour mode also reports the
   nodes and edges of one step's sampled subgraph.
2. **Accuracy** (``accuracy``) on ML-1M: LightGCN trained ``--epochs`` epochs
   in each mode with the same seed, the two modes side by side on one core
   each; test Recall@20 and NDCG@20 after every epoch (no model selection:
   both modes are read at the same epoch).

Everything runs on one thread (``torch.set_num_threads(1)``).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import git_commit, replace_block  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def rss_mib() -> float:
    """Current resident memory of this process (MiB)."""
    return _status_mib("VmRSS")


def peak_rss_mib() -> float:
    """Peak resident memory since start or since `reset_peak` (MiB)."""
    return _status_mib("VmHWM")


def reset_peak() -> None:
    """Returns freed heap to the system (glibc ``malloc_trim``), then resets the
    kernel's peak-RSS mark (``echo 5 > /proc/self/clear_refs``): RSS is then live memory."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def synthetic(num_interactions: int, seed: int = 0):
    """A power-law bipartite graph: 20 interactions per user on average, items drawn by Zipf-like weights."""
    from pyg_negdiff.data.interactions import InteractionData

    g = torch.Generator().manual_seed(seed)
    num_users = max(100, num_interactions // 20)
    num_items = max(100, num_interactions // 200)
    weights = torch.arange(1, num_items + 1, dtype=torch.float) ** -0.8
    users = torch.randint(0, num_users, (num_interactions,), generator=g)
    items = torch.multinomial(weights, num_interactions, replacement=True, generator=g)
    keys = torch.unique(users * num_items + items)
    index = torch.stack([keys // num_items, keys % num_items])
    return InteractionData(
        num_users, num_items, {"train": index}, name=f"synthetic-{num_interactions}"
    )


def load(dataset: str):
    if dataset == "ml-1m":
        from pyg_negdiff.data.prepare import prepare_data

        return prepare_data("ml-1m")
    return synthetic(int(dataset.split("-")[1]))


def make(data, mode: str, args, *, epochs: int = 1):
    from pyg_negdiff.data.graph import bipartite_edge_index
    from pyg_negdiff.nn import LightGCN
    from pyg_negdiff.propagation import build_propagation
    from pyg_negdiff.sampling import build_sampler
    from pyg_negdiff.train import Trainer

    torch.manual_seed(args.seed)
    model = LightGCN(
        data.num_users, data.num_items, embedding_dim=args.dim, num_layers=len(args.fanout)
    )
    sampler = build_sampler(args.sampler, data.train_pairs())
    fanout = args.fanout if mode == "neighbor" else None
    prop = build_propagation(
        mode,
        bipartite_edge_index(data.train, data.num_users),
        data.num_users,
        data.num_items,
        fanout,
        engine=args.engine,
    )
    if mode == "neighbor":
        prop.sparse_gradients = not args.dense_gradients
    return Trainer(
        model,
        sampler,
        data,
        lr=args.lr,
        batch_size=args.batch_size,
        epochs=epochs,
        eval_every=epochs,
        patience=None,
        seed=args.seed,
        progress=False,
        propagation=prop,
    )


def measure(dataset: str, mode: str, args) -> dict:
    """Memory and step time of ``mode`` on ``dataset`` (run in its own process)."""
    data = load(dataset)
    trainer = make(data, mode, args)
    num = data.train.size(1)
    perm = torch.randperm(num, generator=torch.Generator().manual_seed(args.seed))
    trainer.model.train()
    trainer.train_step(
        perm[: args.batch_size], 0
    )  # warm-up: Adam moments, gradients, cached transpose
    peak_total = peak_rss_mib()
    reset_peak()
    base = rss_mib()
    times = []
    for s in range(1, args.steps + 1):
        t0 = time.perf_counter()
        trainer.train_step(perm[s * args.batch_size : (s + 1) * args.batch_size], 0)
        times.append(time.perf_counter() - t0)
    steps_per_epoch = -(-num // args.batch_size)
    step = sum(times) / len(times)
    sub = {}
    if (
        mode == "neighbor"
    ):  # the size of a step's computation graph (one more draw, same kind of batch)
        users, pos = data.train[0, perm[: args.batch_size]], data.train[1, perm[: args.batch_size]]
        cand = trainer.sampler.candidate_items(users, pos, trainer.generator)
        items = torch.unique(pos if cand is None else torch.cat([pos, cand.flatten()]))
        node, edge_index, _ = trainer.propagation.sample(
            torch.cat([torch.unique(users), items + data.num_users]), trainer.generator
        )
        sub = {
            "subgraph_nodes": node.numel(),
            "subgraph_edges": edge_index.size(1),
            "engine": trainer.propagation.engine,
        }
    return {
        **sub,
        "dataset": dataset,
        "mode": mode,
        "num_users": data.num_users,
        "num_items": data.num_items,
        "interactions": num,
        "steps_measured": len(times),
        "step_time_s": step,
        "steps_per_epoch": steps_per_epoch,
        "epoch_time_s": step * steps_per_epoch,
        "peak_rss_mib": max(peak_total, peak_rss_mib()),
        "rss_after_warmup_mib": base,
        "step_peak_mib": peak_rss_mib() - base,
    }


def accuracy(mode: str, args) -> dict:
    """Test metrics on ML-1M after each of ``args.epochs`` epochs of ``mode`` (no model selection)."""
    data = load("ml-1m")
    trainer = make(data, mode, args, epochs=args.epochs)
    curve, times = [], []
    for epoch in range(args.epochs):
        stats = trainer.train_epoch(epoch)
        times.append(stats.train_time)
        curve.append(trainer.evaluator.evaluate(trainer.embeddings(), "test"))
    return {
        "mode": mode,
        "epochs": args.epochs,
        "epoch_time_s": sum(times) / len(times),
        "test": {"test": curve[-1]},
        "curve": curve,
    }


def child(args) -> None:
    torch.set_num_threads(1)
    out = (
        measure(args.dataset, args.mode, args)
        if args.task == "measure"
        else accuracy(args.mode, args)
    )
    print("RESULT " + json.dumps(out))


def _child_cmd(task: str, dataset: str, mode: str, argv: list[str]) -> list[str]:
    return [sys.executable, __file__, "--child", task, "--dataset", dataset, "--mode", mode, *argv]


def _result(
    proc: subprocess.CompletedProcess | subprocess.Popen, stdout: str, stderr: str, what: str
) -> dict:
    line = [x for x in stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode != 0 or not line:
        raise RuntimeError(f"{what} failed:\n{stderr[-3000:]}")
    out = json.loads(line[-1][len("RESULT ") :])
    print(f"  {what}: {json.dumps(out)[:400]}", flush=True)
    return out


def run_child(task: str, dataset: str, mode: str, argv: list[str]) -> dict:
    """One measurement in a fresh process (so that one's peak RSS does not hide another's)."""
    proc = subprocess.run(
        _child_cmd(task, dataset, mode, argv),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return _result(proc, proc.stdout, proc.stderr, f"{task} {dataset} {mode}")


def run_children_pinned(task: str, dataset: str, modes: list[str], argv: list[str]) -> list[dict]:
    """The modes side by side, one CPU core each (``taskset``): the same conditions for both."""
    procs = [
        subprocess.Popen(
            ["taskset", "-c", str(i % os.cpu_count()), *_child_cmd(task, dataset, m, argv)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for i, m in enumerate(modes)
    ]
    outs = [p.communicate() for p in procs]
    return [_result(p, o, e, f"{task} {dataset} {m}") for p, (o, e), m in zip(procs, outs, modes)]


def _setting(a: dict) -> str:
    return (
        f"LightGCN, {len(a['fanout'])} layers, dim {a['dim']}, batch {a['batch_size']}, lr {a['lr']}, "
        f"{a['sampler']} sampler, neighbour fan-out {a['fanout']}"
        + (", dense gradients" if a.get("dense_gradients") else ", sparse gradients (SparseAdam)")
    )


def _setting_key(a: dict, seed: bool = True) -> tuple:
    """Runs of one setting (fan-out, gradients, epochs, and the seed when ``seed``)."""
    key = (tuple(a["fanout"]), a["dense_gradients"], a["epochs"], a["lr"], a["batch_size"])
    return key + ((a["seed"],) if seed else ())


def _mean_std(values: list[float], digits: int = 4) -> str:
    t = torch.tensor(values, dtype=torch.float64)
    if t.numel() == 1:
        return f"{t.item():.{digits}f}"
    return f"{t.mean().item():.{digits}f} ± {t.std().item():.{digits}f}"


def _accuracy_table(runs: list[dict]) -> list[str]:
    """One setting's ML-1M curves: per epoch, mean ± std over seeds and the seed-paired ratio."""
    a = runs[0]["args"]
    seeds = [r["args"]["seed"] for r in runs]
    curves = [{r["mode"]: r["curve"] for r in run["results"]} for run in runs]
    times = {
        m: sum(r["epoch_time_s"] for run in runs for r in run["results"] if r["mode"] == m)
        / len(runs)
        for m in ("full", "neighbor")
    }
    lines = [
        "",
        f"## ML-1M test accuracy per epoch, fan-out {a['fanout']}",
        "",
        _setting(a)
        + f"; seeds {seeds}; commits "
        + ", ".join(sorted({f"`{r['commit'][:10]}`" for r in runs}))
        + ". Same seed for both modes, full ranking, no model selection; both modes trained side by side, "
        f"one core each; mean epoch time full {times['full']:.1f} s, neighbour {times['neighbor']:.1f} s.",
        "",
        "| epoch | Recall@20 full | Recall@20 neighbour | neighbour / full (paired) | NDCG@20 full | "
        "NDCG@20 neighbour |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for e in range(len(curves[0]["full"])):
        full = [c["full"][e] for c in curves]
        nb = [c["neighbor"][e] for c in curves]
        ratio = [n["recall@20"] / f["recall@20"] for f, n in zip(full, nb)]
        lines.append(
            f"| {e + 1} | {_mean_std([f['recall@20'] for f in full])} | "
            f"{_mean_std([n['recall@20'] for n in nb])} | {_mean_std(ratio, 3)} | "
            f"{_mean_std([f['ndcg@20'] for f in full])} | {_mean_std([n['ndcg@20'] for n in nb])} |"
        )
    lines += ["", "```", *sorted({r["command"] for r in runs}), "```"]
    return lines


def _measure_table(run: dict) -> list[str]:
    """One memory-and-time run: every graph in both modes, and their ratios."""
    a = run["args"]
    engine = next((m["engine"] for m in run["measure"] if "engine" in m), "?")
    lines = [
        "",
        f"## Memory and time per graph, batch {a['batch_size']}, fan-out {a['fanout']}",
        "",
        _setting(a) + f"; engine {engine!r}; commit `{run['commit'][:10]}`.",
        "",
        f"{a['steps']} timed steps after one warm-up step per mode, each mode in its own process. "
        "Epoch time = mean step time x steps per epoch (extrapolated). Peak = the process's peak RSS; "
        "step memory = peak RSS of the timed steps minus the RSS they start from (the graph, the "
        "parameters and Adam's moments are in the latter): what a step adds.",
        "",
        "| graph | interactions | nodes | mode | nodes in a step | step (s) | epoch (s, extrap.) | "
        "peak RSS (MiB) | step memory (MiB) |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in run["measure"]:
        lines.append(
            f"| {m['dataset']} | {m['interactions']:,} | {m['num_users'] + m['num_items']:,} | "
            f"{m['mode']} | {m.get('subgraph_nodes', m['num_users'] + m['num_items']):,} | "
            f"{m['step_time_s']:.3f} | {m['epoch_time_s']:.1f} | {m['peak_rss_mib']:.0f} | "
            f"{m['step_peak_mib']:.0f} |"
        )
    lines += [
        "",
        "Ratios neighbour / full (below 1: neighbour mode uses less):",
        "",
        "| graph | epoch time | peak RSS | step memory |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in run["ratios"]:
        lines.append(
            f"| {r['dataset']} | {r['epoch_time']:.2f} | {r['peak_rss']:.2f} | {r['step_memory']:.2f} |"
        )
    lines += ["", "```", run["command"], "```"]
    return lines


def _measure_key(a: dict) -> tuple:
    return (tuple(a["fanout"]), a["batch_size"], a["dense_gradients"], a["dim"])


def measure_runs(report: dict) -> list[dict]:
    """The report's memory-and-time runs."""
    return report.get("measure_runs", [])


def markdown(report: dict) -> str:
    lines = [
        "# Full versus neighbour propagation",
        "",
        f"One CPU thread per process ({report['machine']}).",
    ]
    for run in measure_runs(report):
        lines += _measure_table(run)
    groups: dict[tuple, list[dict]] = {}
    for run in report.get("accuracy_runs", []):
        groups.setdefault(_setting_key(run["args"], seed=False), []).append(run)
    for runs in groups.values():
        lines += _accuracy_table(sorted(runs, key=lambda r: r["args"]["seed"]))
    lines.append("")
    return "\n".join(lines)


DOC_START, DOC_END = "<!-- scale:start -->", "<!-- scale:end -->"


def docs_block(report: dict) -> str:
    """The report as the Scaling out page shows it: no title, headings one level down."""
    body = markdown(report).split("\n", 2)[2]  # drop the title line and the blank line after it
    return "\n".join(
        "#" + line if line.startswith("## ") else line for line in body.splitlines()
    ).strip()


def update_docs(page: Path, report: dict) -> None:
    """Writes `docs_block` between the page's scale markers."""
    replace_block(page, DOC_START, DOC_END, docs_block(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1_000_000, 3_000_000, 10_000_000],
        help="interactions of the synthetic graphs",
    )
    parser.add_argument("--steps", type=int, default=3, help="timed steps per measurement")
    parser.add_argument(
        "--epochs", type=int, default=3, help="ML-1M training epochs per mode (0: skip)"
    )
    parser.add_argument("--fanout", type=int, nargs="+", default=[20, 10, 5])
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument(
        "--engine",
        default="auto",
        choices=["auto", "pyg", "torch"],
        help="neighbour-sampling engine (see NeighborPropagation)",
    )
    parser.add_argument(
        "--dense-gradients",
        action="store_true",
        help="neighbour mode with dense gradients and Adam (default: sparse, SparseAdam)",
    )
    parser.add_argument(
        "--only",
        choices=["measure", "accuracy", "report"],
        default=None,
        help="run one part only (results of the other are kept from the last report); "
        "report: run nothing, rewrite scale.md (and --docs) from scale.json",
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="folder of scale.json and scale.md"
    )
    parser.add_argument(
        "--docs",
        type=Path,
        default=None,
        help="also write the tables between the scale markers of this page (docs/scaling.md)",
    )
    parser.add_argument("--sampler", default="uniform")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-ml1m", action="store_true", help="skip ML-1M (no data at hand)")
    parser.add_argument("--child", dest="task", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.task:
        return child(args)
    argv = [
        "--steps",
        str(args.steps),
        "--epochs",
        str(args.epochs),
        "--fanout",
        *map(str, args.fanout),
        "--dim",
        str(args.dim),
        "--batch-size",
        str(args.batch_size),
        "--lr",
        str(args.lr),
        "--sampler",
        args.sampler,
        "--seed",
        str(args.seed),
        "--engine",
        args.engine,
        *(["--dense-gradients"] if args.dense_gradients else []),
    ]
    datasets = ([] if args.no_ml1m else ["ml-1m"]) + [f"synthetic-{n}" for n in args.sizes]
    previous = (
        json.loads((args.out / "scale.json").read_text())
        if args.only and (args.out / "scale.json").exists()
        else {}
    )
    if args.only == "report":
        (args.out / "scale.md").write_text(markdown(previous))
        if args.docs:
            update_docs(args.docs, previous)
        return
    report = {
        "args": {
            k: str(v) if isinstance(v, Path) else v
            for k, v in vars(args).items()
            if k not in ("task", "dataset", "mode")
        },
        "git_commit": git_commit(),
        "machine": f"{platform.processor() or platform.machine()}",
        "command": "python benchmarks/scale.py " + " ".join(sys.argv[1:]),
        "measure_runs": measure_runs(previous),
        "accuracy_runs": previous.get("accuracy_runs", []),
    }
    if args.only != "accuracy":
        run = {
            "args": report["args"],
            "commit": report["git_commit"],
            "command": report["command"],
            "measure": [],
            "ratios": [],
        }
        for dataset in datasets:
            pair = {
                mode: run_child("measure", dataset, mode, argv) for mode in ("full", "neighbor")
            }
            run["measure"] += list(pair.values())
            f, n = pair["full"], pair["neighbor"]
            run["ratios"].append(
                {
                    "dataset": dataset,
                    "epoch_time": n["epoch_time_s"] / f["epoch_time_s"],
                    "peak_rss": n["peak_rss_mib"] / f["peak_rss_mib"],
                    "step_memory": n["step_peak_mib"] / max(f["step_peak_mib"], 1e-9),
                }
            )
        # One run per setting: a rerun replaces the old one.
        report["measure_runs"] = [
            r
            for r in report["measure_runs"]
            if _measure_key(r["args"]) != _measure_key(run["args"])
        ] + [run]
    if args.only != "measure" and args.epochs > 0 and not args.no_ml1m:
        run = {
            "args": report["args"],
            "commit": report["git_commit"],
            "command": report["command"],
            "results": run_children_pinned("accuracy", "ml-1m", ["full", "neighbor"], argv),
        }
        # One run per setting and seed: a rerun replaces the old one.
        report["accuracy_runs"] = [
            r
            for r in report["accuracy_runs"]
            if _setting_key(r["args"]) != _setting_key(run["args"])
        ]
        report["accuracy_runs"].append(run)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.json").write_text(json.dumps(report, indent=2))
    (args.out / "scale.md").write_text(markdown(report))
    if args.docs:
        update_docs(args.docs, report)
    print(markdown(report))


if __name__ == "__main__":
    main()
