"""What the diffusion samplers cost, and what they buy in false hard negatives.

**Speed and memory** (default mode). One LightGCN epoch (64 dimensions, 3 layers,
batches of 2048) with the uniform sampler, CNSDiff and ADAR, all with their
default settings; the epoch times and peak memory are reported as ratios to
uniform. The issue's budget is 1.5x (CNSDiff) and 1.3x (ADAR) in time, and
1.2x of uniform in peak memory.

Every sampler runs in a fresh Python process, one after the other, so that its
peak is its own. On CPU, torch's allocator has no peak counter, so memory is
the process's peak resident set size over the timed epochs: the kernel's
high-water mark (``VmHWM``) is reset once setup is done (data, graph, model and
sampler built; ``/proc/self/clear_refs``, Linux) and read after the last
epoch. It includes the interpreter, the data and the allocator's caching, and
is reported with its rise above the resident size at the reset. Where the
mark cannot be reset, the lifetime peak (``ru_maxrss``) is used and the report
says so. On CUDA the figure is ``torch.cuda.max_memory_allocated`` over the
timed epochs. The time spent inside the sampler's ``forward`` is reported too.

**Distance per level** (``--levels``). LightGCN is trained with CNSDiff for
``--epochs`` epochs; then, for 2048 training positives, CNSDiff's candidates
are measured at each level: their distance to the positive relative to its
norm, their cosine with it, and their cosine with *other* positives (high
when the candidates collapse onto one direction). Beside the defaults, the
published setting is rebuilt with the same core: noise scale 0.1 and the
reverse chain run over all $T$ steps whatever the level, with an untrained
denoiser (as published: its optimizer is never stepped) and with a trained one.

**False hard negatives** (``--fhn``). On the synthetic confounded data (which
knows every user's true preferences), LightGCN is trained with DNS and with
CNSDiff (``probe=True``: each synthesized negative stands for the real item
nearest to it among the user's training non-positives), and the share of
negatives that are true positives is averaged over the epochs. Uniform is
reported as the base rate.

    python benchmarks/diffusion_speed.py --data ml-1m
    python benchmarks/diffusion_speed.py --levels --data ml-100k --epochs 10
    python benchmarks/diffusion_speed.py --fhn --data synthetic --epochs 20

Results go to ``benchmarks/results/`` as JSON (configuration, seeds, times and
the git commit) and are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from pyg_negdiff.data.prepare import load, prepare_data
from pyg_negdiff.diffusion import GaussianDiffusion, MLPDenoiser, NoiseSchedule
from pyg_negdiff.experiment import RunConfig, make_trainer
from pyg_negdiff.sampling.generative import to_unit_rms
from _common import git_commit  # noqa: E402  (sibling module of this script)

SPEED_SAMPLERS = ("uniform", "cnsdiff", "adar")
FHN_SAMPLERS: dict[str, dict[str, Any]] = {"uniform": {}, "dns": {}, "cnsdiff": {"probe": True}}
BUDGET = {"cnsdiff": 1.5, "adar": 1.3}
MEMORY_BUDGET = 1.2


def current_rss_mb() -> float | None:
    """Resident set size of this process now, in MiB (Linux), or ``None``."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def reset_peak_rss() -> bool:
    """Resets the kernel's peak-RSS mark of this process (Linux >= 4.0); ``False`` if it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident set size since the last reset (``VmHWM``), else over the process's life, in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def config_for(
    args: argparse.Namespace, sampler: str, kwargs: dict[str, Any] | None = None
) -> RunConfig:
    return RunConfig(
        model="lightgcn",
        embedding_dim=args.dim,
        num_layers=args.layers,
        sampler=sampler,
        sampler_kwargs=dict(kwargs or {}),
        batch_size=args.batch_size,
        epochs=args.epochs,
        patience=None,
        seed=args.seed,
        device=args.device,
    )


def measure(args: argparse.Namespace, sampler: str) -> dict[str, Any]:
    """Times ``args.epochs`` epochs with ``sampler`` in this process and reads its memory peak."""
    data = load(args.data, root=args.data_root, seed=args.seed)
    trainer = make_trainer(config_for(args, sampler), data, progress=False)
    spent = [0.0]
    trainer.sampler.register_forward_pre_hook(
        lambda *_: spent.__setitem__(0, spent[0] - time.perf_counter())
    )
    trainer.sampler.register_forward_hook(
        lambda *_: spent.__setitem__(0, spent[0] + time.perf_counter())
    )
    cuda = trainer.device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    reset = reset_peak_rss()
    rss_setup = current_rss_mb()
    times = [trainer.train_epoch(epoch).train_time for epoch in range(args.epochs)]
    out = {
        "sampler": repr(trainer.sampler),
        "epoch_times": times,
        "epoch_time": float(np.median(times)),
        "sampler_time": spent[0] / args.epochs,
        "batches": -(-data.train.size(1) // args.batch_size),
        "rss_setup_mb": rss_setup,
        "peak_rss_mb": peak_rss_mb(),
        "peak_rss_source": "VmHWM since setup" if reset else "ru_maxrss (lifetime)",
    }
    if cuda:
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def run_speed(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, dict[str, Any]] = {}
    for name in args.samplers:
        cmd = [sys.executable, __file__, "--worker", name, *sys.argv[1:]]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"worker for {name!r} failed:\n{done.stderr}")
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{name}: {results[name]['epoch_time']:.2f} s/epoch", file=sys.stderr)
    base = results["uniform"]
    memory_key = "cuda_peak_mb" if "cuda_peak_mb" in base else "peak_rss_mb"
    for name, r in results.items():
        r["time_ratio"] = r["epoch_time"] / base["epoch_time"]
        r["memory_ratio"] = r[memory_key] / base[memory_key]
        if r.get("rss_setup_mb") is not None and memory_key == "peak_rss_mb":
            r["training_rise_mb"] = r["peak_rss_mb"] - r["rss_setup_mb"]
    if memory_key == "peak_rss_mb":
        memory_key_note = base["peak_rss_source"]
    else:
        memory_key_note = "torch.cuda.max_memory_allocated"
    return {
        "mode": "speed",
        "memory_measure": memory_key,
        "memory_source": memory_key_note,
        "results": results,
    }


def run_fhn(args: argparse.Namespace) -> dict[str, Any]:
    data = prepare_data(args.data, root=args.data_root, seed=args.seed)
    if data.true_positives is None:
        sys.exit(f"{args.data!r} has no true preferences: use --data synthetic")
    results = {}
    for name, kwargs in FHN_SAMPLERS.items():
        trainer = make_trainer(config_for(args, name, kwargs), data, progress=False, fhn=True)
        stats = [trainer.train_epoch(epoch) for epoch in range(args.epochs)]
        ratios = [s.fhn_ratio for s in stats]
        results[name] = {
            "sampler": repr(trainer.sampler),
            "fhn_per_epoch": ratios,
            "fhn_mean": float(np.mean(ratios)),
            "fhn_last": ratios[-1],
            "epoch_time": float(np.mean([s.train_time for s in stats])),
        }
        print(f"{name}: FHN ratio {results[name]['fhn_mean']:.4f}", file=sys.stderr)
    return {"mode": "fhn", "results": results}


def level_stats(
    cands: torch.Tensor, x0: torch.Tensor, levels: list[int]
) -> dict[str, dict[str, float]]:
    """Per level: distance to the positive / its norm, cosine with it, cosine with another row's positive."""
    other = x0.roll(1, dims=0)
    out = {}
    for level, c in zip(levels, cands):
        out[str(level)] = {
            "distance": float(((c - x0).norm(dim=-1) / x0.norm(dim=-1)).mean()),
            "cos_positive": float(F.cosine_similarity(c, x0).mean()),
            "cos_other": float(F.cosine_similarity(c, other).mean()),
        }
    return out


def run_levels(args: argparse.Namespace) -> dict[str, Any]:
    data = load(args.data, root=args.data_root, seed=args.seed)
    trainer = make_trainer(config_for(args, "cnsdiff"), data, progress=False)
    history = [trainer.train_epoch(epoch).sampler_logs for epoch in range(args.epochs)]
    sampler = trainer.sampler
    g = torch.Generator().manual_seed(args.seed)
    rows = trainer.embeddings().item[data.train[1]]  # item rows as the denoiser saw them
    x0, _ = to_unit_rms(rows[torch.randint(0, rows.size(0), (2048,), generator=g)])
    variants = {
        "default (scale 10, 2 jumps from t_k)": level_stats(
            sampler.candidates(x0, generator=g), x0, sampler.levels
        )
    }
    steps, sampler.reverse_steps = sampler.reverse_steps, None
    variants["scale 10, every step from t_k"] = level_stats(
        sampler.candidates(x0, generator=g), x0, sampler.levels
    )
    sampler.reverse_steps = steps

    published = GaussianDiffusion(NoiseSchedule())  # 20 steps, linear-var, scale 0.1
    T, dim = published.num_steps, x0.size(-1)
    untrained, trained = MLPDenoiser(dim), MLPDenoiser(dim)
    opt = torch.optim.Adam(trained.parameters(), lr=1e-3)
    for _ in range(args.denoiser_steps):  # as many steps as the sampler took during training
        batch, _ = to_unit_rms(
            rows[torch.randint(0, rows.size(0), (args.batch_size,), generator=g)]
        )
        loss = published.loss(trained, batch, generator=g).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    t = torch.tensor(sampler.levels).repeat_interleave(x0.size(0))
    with torch.no_grad():
        noised = published.q_sample(x0.repeat(len(sampler.levels), 1), t, generator=g)
        for name, net, start in (
            ("published: scale 0.1, all T steps, untrained", untrained.eval(), T),
            ("scale 0.1, all T steps, trained", trained.eval(), T),
            ("scale 0.1, from t_k, trained", trained, t),
        ):
            cands = published.reverse(net, noised, start).view(len(sampler.levels), *x0.shape)
            variants[name] = level_stats(cands, x0, sampler.levels)
    return {
        "mode": "levels",
        "results": variants,
        "levels": sampler.levels,
        "sampler_logs_per_epoch": history,
    }


def table(report: dict[str, Any]) -> str:
    rows = report["results"]
    if report["mode"] == "levels":
        lines = [
            "| variant | level | distance / norm | cos(positive) | cos(other positive) |",
            "|---|---|---|---|---|",
        ]
        for name, per_level in rows.items():
            lines += [
                f"| {name} | {lv} | {r['distance']:.3f} | {r['cos_positive']:.3f} | {r['cos_other']:.3f} |"
                for lv, r in per_level.items()
            ]
        return "\n".join(lines)
    if report["mode"] == "fhn":
        lines = ["| sampler | mean FHN ratio | last epoch | s/epoch |", "|---|---|---|---|"]
        lines += [
            f"| {k} | {r['fhn_mean']:.4f} | {r['fhn_last']:.4f} | {r['epoch_time']:.2f} |"
            for k, r in rows.items()
        ]
        return "\n".join(lines)
    key = report["memory_measure"]
    lines = [
        f"| sampler | s/epoch | time ratio (budget) | in sampler, s | peak MiB ({report['memory_source']}) "
        f"| rise over setup, MiB | memory ratio (budget {MEMORY_BUDGET}) |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, r in rows.items():
        budget = f" ({BUDGET[k]})" if k in BUDGET else ""
        rise = f"{r['training_rise_mb']:.0f}" if "training_rise_mb" in r else "-"
        lines.append(
            f"| {k} | {r['epoch_time']:.2f} | {r['time_ratio']:.3f}{budget} | {r['sampler_time']:.2f} | "
            f"{r[key]:.0f} | {rise} | {r['memory_ratio']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="ml-1m")
    parser.add_argument("--data-root", default=None)
    parser.add_argument(
        "--epochs", type=int, default=1, help="timed epochs (speed) or trained epochs (--fhn)"
    )
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--samplers", type=lambda s: s.split(","), default=list(SPEED_SAMPLERS))
    parser.add_argument(
        "--fhn", action="store_true", help="compare false-hard-negative ratios instead"
    )
    parser.add_argument(
        "--levels", action="store_true", help="measure CNSDiff's distance per level instead"
    )
    parser.add_argument(
        "--denoiser-steps",
        type=int,
        default=500,
        help="--levels: training steps of the " "denoiser rebuilt on the published schedule",
    )
    parser.add_argument(
        "--out", default=None, help="JSON path (default: benchmarks/results/diffusion_<mode>.json)"
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(measure(args, args.worker)))
        return
    if not args.fhn and "uniform" not in args.samplers:
        args.samplers = ["uniform", *args.samplers]
    report = run_fhn(args) if args.fhn else run_levels(args) if args.levels else run_speed(args)
    report.update(
        {
            "config": {k: v for k, v in vars(args).items() if k != "worker"},
            "git_commit": git_commit(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "machine": platform.platform(),
            "processor": platform.processor(),
        }
    )
    out = Path(args.out or Path(__file__).parent / "results" / f"diffusion_{report['mode']}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(table(report))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
