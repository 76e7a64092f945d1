"""Side by side with RecBole: its LightGCN and its dynamic negatives against ours, in one run.

RecBole (1.2.1) is what a practitioner picks instead of this library to train LightGCN with
negative sampling. This script trains LightGCN in both libraries with matched settings and
reports, per library and sampler: time per training epoch, time of one full-ranking
evaluation, peak memory, and Recall@20 / NDCG@20 on the same test interactions at the same
epoch.

**Matched settings.** The script loads the data with pyg_negdiff (ML-1M: the published
train/test split; a dataset without a test part: `split_random` with ``--split-seed``, its
validation part merged into training), then writes *that* split as RecBole atomic files
(``<workdir>/peer/peer.{train,valid,test}.inter``, read through RecBole's
``benchmark_filename``, in a temporary folder unless ``--workdir``; never committed). Both
libraries get the same embedding size, layers, batch size, Adam learning rate, epochs and
L2 form: RecBole's ``EmbLoss`` with ``require_pow=True`` is
$\\frac{\\lambda_2}{2B}\\sum\\lVert E^{(0)}_{\\mathcal{B}}\\rVert^2$ over the batch's users,
positives and negatives, exactly our `pyg_negdiff.loss.l2_regularization`. Negatives: uniform
over the user's non-positives (RecBole ``train_neg_sample_args`` ``distribution: uniform``), then
DNS with the same number of candidates (RecBole ``dynamic: True, candidate_num: M``; ours
`DNSSampler(num_candidates=M)`). RecBole's valid file holds one test row only because RecBole
needs three files: it is never evaluated, and it changes no mask (RecBole masks
train ∪ valid minus the test positives, that is the training items, as we do). RecBole's
``eval_batch_size`` is set so that it ranks 512 users per batch, as our `Evaluator` does
(its default, 4096 scores, ranks one ML-1M user per batch).

**One run, alternating, one core.** Each (library, sampler, seed) is one subprocess, so its
peak RSS (``resource.getrusage``'s ``ru_maxrss``, which counts torch's allocations, unlike
``tracemalloc``) is its own; the libraries alternate (ours first, then RecBole, the order
swapped on every other pair), and the children inherit the parent's CPU affinity: start the
script under ``taskset -c 0``. Every child uses ``--threads`` torch threads (default 1).
A child trains ``--epochs`` epochs, timing each in process CPU seconds and wall seconds
(RecBole: ``Trainer._train_epoch``, its negative sampling included, as it happens inside its
data loader; ours: `Trainer.train_epoch`). The ratios are taken on CPU time: on a machine
shared with other jobs the wall time of a one-thread process measures the share of the core
it got as much as its work. Then it times ``--eval-repeats`` full-ranking evaluations on the test part (RecBole:
``Trainer.evaluate`` with its cached embeddings cleared before each; ours: `Trainer.embeddings`
plus `Evaluator.evaluate`) and keeps the fastest. RecBole's trained embeddings are also ranked
by *our* evaluator, so that a metric-definition difference is told apart from a training one.

**CNSDiff beside the authors' code** (``--cnsdiff``): one ML-1M epoch of our CNSDiff
(its defaults, LightGCN 64 dimensions, 3 layers, batches of 2048; with ``--max-batches``, its
first batches scaled to the epoch) at ``--threads 2`` (wall and CPU seconds), set beside
the 555.9 s per ML-1M epoch at 2 threads that issue 26 of this project reports for the
authors' public CNSDiff training loop (measured 2026-11-22). Their code is neither run nor
copied here.

**Installing RecBole for its LightGCN path only** (never a runtime dependency). RecBole 1.2.1
pins ``ray<=2.6.3``, ``colorlog==4.7.2`` and more, so install it without its dependencies, and
the ``peer`` extra (what its general-recommender path imports) beside it, best in a separate
virtual environment that sees the project's torch::

    python -m venv --system-site-packages venv-peer
    venv-peer/bin/pip install -e ".[peer]"              # tensorboard texttable scikit-learn ...
    venv-peer/bin/pip install recbole==1.2.1 --no-deps
    taskset -c 0 venv-peer/bin/python benchmarks/peer_recbole.py --data ml-1m --epochs 1

(``recbole.quick_start`` imports ray and is not used; ``tensorboard`` is imported by
``recbole.utils``, ``texttable`` by ``recbole.utils``, scikit-learn by ``recbole.evaluator``.)
With numpy 2 and a recent scipy (2.4 and 1.17 here) two things fail inside RecBole, and `recbole_shims` works
around them in this process only, without touching RecBole's files:

- ``recbole/config/configurator.py`` ``compatibility_settings`` reads ``np.float_``,
  ``np.complex_`` and ``np.unicode_``, removed in numpy 2 (``AttributeError``): the shim
  restores these three aliases (``np.float64``, ``np.complex128``, ``np.str_``).
- ``recbole/model/general_recommender/lightgcn.py`` ``get_norm_adj_mat`` calls the private
  ``scipy.sparse.dok_matrix._update``, gone from scipy 1.17 (``AttributeError``): the shim
  defines it as the unchecked ``dict.update`` of the matrix's entries, which is what it was.

Everything else of the LightGCN path runs on torch 2.13 with deprecation warnings only
(``torch.sparse.FloatTensor``, ``torch.cuda.amp.GradScaler``).

Commands of the results on the Benchmarks page (two cores: the ML-100K parity on core 1 while
ML-1M runs on core 0; ``--docs`` rewrites the page's block from the JSON)::

    taskset -c 0 venv-peer/bin/python benchmarks/peer_recbole.py --data ml-1m --epochs 1 --seeds 0 --max-batches 10 --eval-repeats 5
    taskset -c 1 venv-peer/bin/python benchmarks/peer_recbole.py --data ml-100k --epochs 20 --seeds 0 1 2
    taskset -c 0,1 venv-peer/bin/python benchmarks/peer_recbole.py --cnsdiff --threads 2 --max-batches 80
    taskset -c 1 venv-peer/bin/python benchmarks/peer_recbole.py --data ml-100k --epochs 20 --seeds 0 1 2 \\
        --libraries pyg_negdiff --init recbole --tag ml-100k-recbole-init
    for s in 3 4 5; do  # three more DNS seeds, one process each, side by side on core 1
        taskset -c 1 venv-peer/bin/python benchmarks/peer_recbole.py --data ml-100k --epochs 20 \\
            --seeds $s --samplers dns --tag ml-100k-dns-seed-$s &
    done; wait
    python benchmarks/peer_recbole.py --report --docs docs/benchmarks.md

Results go to ``benchmarks/results/peer_recbole.{json,md}`` (``--out`` changes the stem):
one entry per dataset (and one for ``--cnsdiff``), each with its command, commit, versions,
CPU affinity and every child's raw numbers; the Markdown is regenerated from the JSON. An entry
of its own ``--tag`` with its data's settings and other seeds (e.g. ``--seeds 3 --samplers dns``)
adds seeds to that data's entry: the report pools them (`pooled_markdown`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(ROOT),
    str(Path(__file__).resolve().parent),
]  # this checkout's package, as the children
from _common import git_commit, replace_block  # noqa: E402  (sibling module of this script)

DOC_START, DOC_END = "<!-- peer-recbole:start -->", "<!-- peer-recbole:end -->"
LIBRARIES = ("pyg_negdiff", "recbole")
SAMPLERS = ("uniform", "dns")
#: The authors' CNSDiff training loop, one ML-1M epoch at 2 threads, as issue 26 states it.
AUTHORS_CNSDIFF = {
    "epoch_time_s": 555.9,
    "threads": 2,
    "measured": "2026-11-22",
    "source": "issue 26 of this project: the authors' public CNSDiff code (SELFRec-based), "
    "one ML-1M epoch at 2 threads; not re-measured here",
}
#: Targets of issue 26: our epoch at most 1/3 of RecBole's, our evaluation at most 1/5 of it.
TARGETS = {"epoch": 1 / 3, "eval": 1 / 5}


# ------------------------------------------------------------------------------ RecBole
def recbole_shims() -> list[str]:
    """Lets RecBole 1.2.1's LightGCN path run on numpy 2 and recent scipy, in this process only.

    Returns:
        list[str]: What was patched (empty where nothing needed it).
    """
    import numpy as np
    import scipy.sparse as sp

    done = []
    for name, value in {
        "float_": np.float64,
        "complex_": np.complex128,
        "unicode_": np.str_,
    }.items():
        if not hasattr(
            np, name
        ):  # read by recbole.config.configurator.Config.compatibility_settings
            setattr(np, name, value)
            done.append(f"numpy.{name}")
    if not hasattr(sp.dok_matrix, "_update"):  # called by LightGCN.get_norm_adj_mat
        sp.dok_matrix._update = lambda self, entries: self._dict.update(entries)
        done.append("scipy.sparse.dok_matrix._update")
    return done


def write_atomic(data, folder: Path) -> Path:
    """Writes ``data``'s train and test parts as RecBole atomic files ``peer.{train,valid,test}.inter``."""
    folder.mkdir(parents=True, exist_ok=True)
    test = data.parts["test"]
    for suffix, edges in (("train", data.train), ("valid", test[:, :1]), ("test", test)):
        lines = ["user_id:token\titem_id:token"] + [f"{u}\t{i}" for u, i in edges.t().tolist()]
        (folder / f"peer.{suffix}.inter").write_text("\n".join(lines) + "\n")
    return folder


def rss_mib() -> float:
    """The process's current resident set size in MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Clock:
    """Wall and process CPU seconds of a block: ``with Clock() as c: ...; c.wall, c.cpu``.

    On a shared machine the wall time measures the share of the core a process got; the CPU
    time of a one-thread process measures its work, so the ratios are taken on it.
    """

    def __enter__(self) -> "Clock":
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall, self.cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child_recbole(args: argparse.Namespace) -> dict[str, Any]:
    shims = recbole_shims()
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.general_recommender import LightGCN as RBLightGCN
    from recbole.trainer import Trainer as RBTrainer
    from recbole.utils import init_seed

    from pyg_negdiff.metrics import Evaluator
    from pyg_negdiff.nn.base import Embeddings

    torch.set_num_threads(args.threads)
    base = rss_mib()
    data = load_parts(Path(args.workdir))
    work = Path(args.workdir)
    start = time.perf_counter()
    neg = {
        "distribution": "uniform",
        "sample_num": 1,
        "dynamic": args.sampler == "dns",
        "candidate_num": args.candidates if args.sampler == "dns" else 0,
    }
    config = Config(
        model="LightGCN",
        config_dict={
            "data_path": str(work),
            "dataset": "peer",
            "benchmark_filename": ["train", "valid", "test"],
            "load_col": {"inter": ["user_id", "item_id"]},
            "embedding_size": args.dim,
            "n_layers": args.layers,
            "reg_weight": args.l2,
            "require_pow": True,
            "learning_rate": args.lr,
            "learner": "adam",
            "weight_decay": 0.0,
            "train_batch_size": args.batch_size,
            "epochs": args.epochs,
            "train_neg_sample_args": neg,
            "metrics": ["Recall", "NDCG"],
            "topk": [20],
            "valid_metric": "NDCG@20",
            "metric_decimal_place": 8,
            "eval_batch_size": 512 * (data.num_items + 1),
            "seed": args.seed,
            "reproducibility": True,
            "show_progress": False,
            "device": "cpu",
            "use_gpu": False,
            "worker": 0,
            "checkpoint_dir": str(work / f"saved-{os.getpid()}"),
            "save_dataset": False,
            "save_dataloaders": False,
        },
    )
    init_seed(args.seed, True)
    dataset = create_dataset(config)
    train_data, _, test_data = data_preparation(config, dataset)
    init_seed(args.seed, True)
    model = RBLightGCN(config, train_data.dataset)
    trainer = RBTrainer(config, model)
    trainer.eval_collector.data_collect(train_data)
    if neg["dynamic"]:
        train_data.get_model(model)  # what Trainer.fit does for dynamic negatives
    setup = time.perf_counter() - start
    times, cpu, losses = [], [], []
    batches = len(train_data)
    timed = min(batches, args.max_batches or batches)
    for epoch in range(args.epochs):
        with Clock() as c:  # RecBole's own epoch loop; --max-batches cuts its data loader short
            loss = trainer._train_epoch(
                train_data if timed == batches else FirstBatches(train_data, timed),
                epoch,
                show_progress=False,
            )
        times.append(c.wall)
        cpu.append(c.cpu)
        losses.append(float(loss if not isinstance(loss, tuple) else sum(loss)))
        print(
            f"recbole {args.sampler} seed {args.seed} epoch {epoch}: {c.cpu:.2f} CPU s, {c.wall:.2f} s",
            file=sys.stderr,
        )
    evals, eval_cpu, own = [], [], {}
    for _ in range(args.eval_repeats):
        model.restore_user_e = model.restore_item_e = (
            None  # else a repeat reuses the cached forward
        )
        with Clock() as c:
            own = trainer.evaluate(test_data, load_best_model=False, show_progress=False)
        evals.append(c.wall)
        eval_cpu.append(c.cpu)
    # RecBole's trained embeddings, in our ids, ranked by our evaluator.
    with torch.no_grad():
        model.eval()
        user_all, item_all = model.forward()
    users = torch.as_tensor(dataset.field2id_token["user_id"][1:].astype(int))
    items = torch.as_tensor(dataset.field2id_token["item_id"][1:].astype(int))
    user_emb = torch.zeros(data.num_users, args.dim)
    item_emb = torch.zeros(data.num_items, args.dim)
    user_emb[users], item_emb[items] = user_all[1:], item_all[1:]
    ours = Evaluator(data, ks=(20,), metrics=("recall", "ndcg")).evaluate(
        Embeddings(user_emb.unsqueeze(1), item_emb.unsqueeze(1)), "test"
    )
    return {
        "setup_s": setup,
        "epoch_times": times,
        "epoch_cpu": cpu,
        "losses": losses,
        "eval_times": evals,
        "eval_cpu": eval_cpu,
        "batches_per_epoch": batches,
        "batches_timed": timed,
        "metrics": {k: float(v) for k, v in own.items()},
        "metrics_our_evaluator": {k: float(v) for k, v in ours.items()},
        "missing": {
            "users": data.num_users - users.numel(),
            "items": data.num_items - items.numel(),
        },
        "shims": shims,
        "rss_after_imports_mib": base,
    }


class FirstBatches:
    """The first ``n`` batches of a RecBole data loader, for ``Trainer._train_epoch`` (``--max-batches``)."""

    def __init__(self, loader, n: int) -> None:
        self.loader, self.n, self.shuffle = loader, n, loader.shuffle

    def __iter__(self):
        for b, batch in enumerate(self.loader):
            if b == self.n:
                break
            yield batch

    def __len__(self) -> int:
        return self.n


def first_batches(trainer, epoch: int, n: int) -> float:
    """The first ``n`` steps of `Trainer.train_epoch` (``--max-batches``); returns their mean loss."""
    import torch

    trainer.model.train()
    trainer.sampler.train()
    trainer.sampler.start_epoch(epoch, trainer.epochs)
    perm = torch.randperm(
        trainer.train_index.size(1), generator=trainer.generator, device=trainer.device
    )
    losses = [
        trainer.train_step(perm[b * trainer.batch_size : (b + 1) * trainer.batch_size], epoch).loss
        for b in range(n)
    ]
    return sum(losses) / n


def recbole_init(weight, num_users: int, num_items: int) -> None:
    r"""Redraws our one ``[U + I, D]`` table at RecBole's scale, in place.

    Both libraries draw Xavier-uniform embeddings, $\mathcal{U}(-a, a)$ with
    $a = \sqrt{6 / (n + D)}$ for an $n \times D$ table, but RecBole has two tables, of $U + 1$
    users and $I + 1$ items (a padding row each), so its rows start larger than ours, where
    $n = U + I$. This draws users with $n = U + 1$ and items with $n = I + 1$, to tell the
    initialization apart from the rest of training (``--init recbole``).
    """
    import math

    import torch

    dim = weight.size(1)
    with torch.no_grad():
        for rows, n in (
            (slice(0, num_users), num_users + 1),
            (slice(num_users, None), num_items + 1),
        ):
            bound = math.sqrt(6.0 / (n + dim))
            weight[rows].uniform_(-bound, bound)


def child_ours(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from pyg_negdiff.experiment import RunConfig, make_trainer
    from pyg_negdiff.metrics import Evaluator

    torch.set_num_threads(args.threads)
    base = rss_mib()
    data = load_parts(Path(args.workdir))
    start = time.perf_counter()
    kwargs = {"num_candidates": args.candidates} if args.sampler == "dns" else {}
    config = RunConfig(
        model="lightgcn",
        embedding_dim=args.dim,
        num_layers=args.layers,
        sampler=args.sampler,
        sampler_kwargs=kwargs,
        lr=args.lr,
        l2=args.l2,
        batch_size=args.batch_size,
        epochs=args.epochs,
        patience=None,
        seed=args.seed,
    )
    evaluator = Evaluator(data, ks=(20,), metrics=("recall", "ndcg"))
    trainer = make_trainer(config, data, evaluator=evaluator, progress=False)
    if args.init == "recbole":
        recbole_init(trainer.model.embedding.weight, data.num_users, data.num_items)
    setup = time.perf_counter() - start
    times, cpu, losses = [], [], []
    batches = -(-data.train.size(1) // args.batch_size)
    timed = min(batches, args.max_batches or batches)
    for epoch in range(args.epochs):
        with Clock() as c:
            loss = (
                trainer.train_epoch(epoch).loss
                if timed == batches
                else first_batches(trainer, epoch, timed)
            )
        times.append(c.wall)
        cpu.append(c.cpu)
        losses.append(loss)
        print(
            f"pyg_negdiff {args.sampler} seed {args.seed} epoch {epoch}: {c.cpu:.2f} CPU s, {c.wall:.2f} s",
            file=sys.stderr,
        )
    evals, eval_cpu, metrics = [], [], {}
    for _ in range(args.eval_repeats):
        with Clock() as c:
            metrics = evaluator.evaluate(trainer.embeddings(), "test")
        evals.append(c.wall)
        eval_cpu.append(c.cpu)
    metrics = {k: float(v) for k, v in metrics.items()}
    return {
        "setup_s": setup,
        "epoch_times": times,
        "epoch_cpu": cpu,
        "losses": losses,
        "eval_times": evals,
        "eval_cpu": eval_cpu,
        "batches_per_epoch": batches,
        "batches_timed": timed,
        "metrics": metrics,
        "metrics_our_evaluator": metrics,
        "sampler": repr(trainer.sampler),
        "rss_after_imports_mib": base,
    }


def child(args: argparse.Namespace) -> None:
    record = child_recbole(args) if args.child == "recbole" else child_ours(args)
    record.update(
        {
            "library": args.child,
            "sampler": args.sampler,
            "seed": args.seed,
            "threads": args.threads,
            "affinity": sorted(os.sched_getaffinity(0)),
            "peak_rss_mib": peak_rss_mib(),
        }
    )
    Path(args.child_out).write_text(json.dumps(record, indent=2))


# ------------------------------------------------------------------------------- the data
def prepare(args: argparse.Namespace):
    """The split both libraries train on: train and test parts only (fixed epochs, no validation)."""
    import torch

    from pyg_negdiff.data.prepare import load, split

    data = load(args.data, root=args.data_root)
    if "test" not in data.parts:
        data = split(data, "random", seed=args.split_seed)
    train = torch.cat([data.train, data.parts["val"]], 1) if "val" in data.parts else data.train
    return data.with_parts({"train": train, "test": data.parts["test"]})


def save_parts(data, work: Path) -> None:
    import torch

    torch.save(
        {
            "num_users": data.num_users,
            "num_items": data.num_items,
            "name": data.name,
            "train": data.train,
            "test": data.parts["test"],
        },
        work / "parts.pt",
    )


def load_parts(work: Path):
    import torch

    from pyg_negdiff.data import InteractionData

    d = torch.load(work / "parts.pt")
    return InteractionData(
        d["num_users"], d["num_items"], {"train": d["train"], "test": d["test"]}, name=d["name"]
    )


# ------------------------------------------------------------------------------ the parent
def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "machine": platform.platform()}
    for name in ("torch", "numpy", "scipy", "torch_geometric", "recbole", "pyg_negdiff"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def run_child(
    args: argparse.Namespace, work: Path, library: str, sampler: str, seed: int, threads: int
) -> dict[str, Any]:
    out = work / f"run-{library}-{sampler}-{seed}.json"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        library,
        "--sampler",
        sampler,
        "--seed",
        str(seed),
        "--workdir",
        str(work),
        "--child-out",
        str(out),
        "--threads",
        str(threads),
    ]
    for name in (
        "epochs",
        "dim",
        "layers",
        "lr",
        "l2",
        "batch_size",
        "candidates",
        "eval_repeats",
        "init",
        "max_batches",
    ):
        cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    lines = [
        line for line in proc.stderr.splitlines() if " epoch " in line and line.startswith(library)
    ]
    print("\n".join(lines), file=sys.stderr)
    if proc.returncode != 0:
        sys.exit(f"{library} {sampler} seed {seed} failed:\n{proc.stderr[-4000:]}")
    return json.loads(out.read_text())


def settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        k: getattr(args, k)
        for k in (
            "epochs",
            "dim",
            "layers",
            "lr",
            "l2",
            "batch_size",
            "candidates",
            "eval_repeats",
            "threads",
            "seeds",
            "samplers",
            "split_seed",
            "libraries",
            "init",
            "max_batches",
        )
    }


def command_line() -> str:
    return " ".join(["python", "benchmarks/peer_recbole.py", *sys.argv[1:]])


def run_comparison(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    data = prepare(args)
    save_parts(data, work)
    write_atomic(data, work / "peer")
    print(data.summary(), file=sys.stderr)
    records, turn = [], 0
    for seed in args.seeds:
        for sampler in args.samplers:
            order = LIBRARIES if turn % 2 == 0 else LIBRARIES[::-1]
            turn += 1
            for library in (lib for lib in order if lib in args.libraries):
                records.append(run_child(args, work, library, sampler, seed, args.threads))
    return {
        "data": Path(args.data).name,
        "data_repr": repr(data),
        "users": data.num_users,
        "items": data.num_items,
        "train": data.train.size(1),
        "test": data.parts["test"].size(1),
        "settings": settings(args),
        "records": records,
    }


def run_cnsdiff(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    data = prepare(args)
    save_parts(data, work)
    record = run_child(args, work, "pyg_negdiff", "cnsdiff", args.seeds[0], args.threads)
    return {
        "data": Path(args.data).name,
        "data_repr": repr(data),
        "settings": settings(args),
        "record": record,
        "authors": AUTHORS_CNSDIFF,
    }


# ------------------------------------------------------------------------------ the report
def _mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _pm(values: list[float], digits: int = 4) -> str:
    mean, sd = _mean_sd(values)
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def summarize(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per (sampler, library), one value per seed: the median epoch and the fastest evaluation
    (process CPU seconds and wall seconds), peak RSS, setup time and the test metrics."""
    out: dict[str, dict[str, Any]] = {}
    for r in entry["records"]:
        row = out.setdefault(r["sampler"], {}).setdefault(r["library"], {})
        scale = r.get("batches_per_epoch", 1) / r.get("batches_timed", 1)  # 1 unless --max-batches
        values = {
            "epoch_cpu": scale * statistics.median(r["epoch_cpu"]),
            "epoch": scale * statistics.median(r["epoch_times"]),
            "eval_cpu": min(r["eval_cpu"]),
            "eval": min(r["eval_times"]),
            "rss": r["peak_rss_mib"],
            "rss_base": r["rss_after_imports_mib"],
            "setup": r["setup_s"],
            "recall": r["metrics"]["recall@20"],
            "ndcg": r["metrics"]["ndcg@20"],
            "recall_ours": r["metrics_our_evaluator"]["recall@20"],
            "ndcg_ours": r["metrics_our_evaluator"]["ndcg@20"],
        }
        for key, value in values.items():
            row.setdefault(key, []).append(value)
    return out


def within_spread(a: list[float], b: list[float]) -> bool:
    """``|mean(a) - mean(b)| <= sd(a) + sd(b)``: the two seed spreads overlap."""
    (ma, sa), (mb, sb) = _mean_sd(a), _mean_sd(b)
    return abs(ma - mb) <= sa + sb


def _ratio(o: dict[str, list[float]], b: dict[str, list[float]], key: str) -> float:
    return statistics.fmean(o[key]) / statistics.fmean(b[key])


#: Settings that must be equal for two entries' seeds to be pooled (missing: the defaults).
POOL_SETTINGS = {
    "epochs": None,
    "dim": None,
    "layers": None,
    "lr": None,
    "l2": None,
    "batch_size": None,
    "candidates": None,
    "threads": None,
    "split_seed": None,
    "init": "ours",
    "max_batches": 0,
}
POOL_VERSIONS = ("torch", "recbole", "numpy", "scipy")


def poolable(entry: dict[str, Any], base: dict[str, Any]) -> bool:
    """Whether ``entry`` adds seeds to ``base``: the same data, training settings and versions
    of torch, RecBole, numpy and scipy (not of pyg_negdiff, the library under test), and
    disjoint seeds."""
    s, b = entry["settings"], base["settings"]
    return (
        entry["data_repr"] == base["data_repr"]
        and all(s.get(k, d) == b.get(k, d) for k, d in POOL_SETTINGS.items())
        and all(entry["versions"].get(k) == base["versions"].get(k) for k in POOL_VERSIONS)
        and not set(s["seeds"]) & set(b["seeds"])
    )


def pooled_markdown(report: dict[str, Any], key: str) -> str:
    """The seeds of ``report[key]`` (a data's main entry) and of every entry that adds seeds to
    it (`poolable`, with disjoint seeds among them), for every sampler run in both libraries
    by all of them: each library's mean ± std and seeds, the difference, whether the two
    spreads overlap, and the difference in standard errors of a difference of means."""
    base, extra = report[key], []
    for k in sorted(report):
        e = report[k]
        if k not in (key, "cnsdiff") and e["data"] == key and poolable(e, base):
            if any(set(e["settings"]["seeds"]) & set(x["settings"]["seeds"]) for _, x in extra):
                continue
            extra.append((k, e))
    if not extra:
        return ""
    entries = [base] + [e for _, e in extra]
    records = [r for e in entries for r in e["records"]]
    rows = {
        sampler: libs
        for sampler, libs in summarize({"records": records}).items()
        if all(sampler in e["settings"]["samplers"] for e in entries)
        and all(set(e["settings"].get("libraries", LIBRARIES)) == set(LIBRARIES) for e in entries)
    }
    if not rows:
        return ""
    seeds = sorted(seed for e in entries for seed in e["settings"]["seeds"])
    names = ", ".join(f"`{k}`" for k, _ in extra)
    lines = [
        f"**{key} pooled with {names}** (below; the same data, settings and versions of torch, "
        f"RecBole, numpy and scipy), seeds {seeds}:\n",
        "| sampler | library | seeds | Recall@20 | NDCG@20 | Recall@20 per seed |",
        "|---|---|---|---|---|---|",
    ]
    per_seed: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for r in records:
        per_seed.setdefault((r["sampler"], r["library"]), []).append(
            (r["seed"], r["metrics_our_evaluator"]["recall@20"])
        )
    for sampler, libs in rows.items():
        for lib in LIBRARIES:
            r = libs[lib]
            values = ", ".join(f"{v:.4f}" for _, v in sorted(per_seed[sampler, lib]))
            lines.append(
                f"| {sampler} | {lib} | {len(r['recall_ours'])} | {_pm(r['recall_ours'])} "
                f"| {_pm(r['ndcg_ours'])} | {values} |"
            )
    lines += [
        "",
        "| sampler | ΔRecall@20 (ours − RecBole) | in standard errors | ΔNDCG@20 "
        "| in standard errors | within the seed spread |",
        "|---|---|---|---|---|---|",
    ]
    for sampler, libs in rows.items():
        o, b = libs["pyg_negdiff"], libs["recbole"]
        cells = []
        for metric in ("recall", "ndcg"):
            (mo, so), (mb, sb) = _mean_sd(o[metric]), _mean_sd(b[f"{metric}_ours"])
            se = (so**2 / len(o[metric]) + sb**2 / len(b[f"{metric}_ours"])) ** 0.5
            cells += [f"{mo - mb:+.4f}", f"{(mo - mb) / se:+.1f}" if se else "–"]
        spread = within_spread(o["recall"], b["recall_ours"]) and within_spread(
            o["ndcg"], b["ndcg_ours"]
        )
        lines.append(f"| {sampler} | {' | '.join(cells)} | {'yes' if spread else 'no'} |")
    return "\n".join(lines) + "\n"


def markdown(report: dict[str, Any]) -> str:
    """The results as Markdown; the page's block and ``peer_recbole.md`` are this text."""
    parts = []
    for key in sorted(k for k in report if k != "cnsdiff"):
        entry = report[key]
        s = entry["settings"]
        rows = summarize(entry)
        seeds = s["seeds"]
        init = s.get("init", "ours")
        base = report.get(entry["data"]) if key != entry["data"] else None
        base_rows = summarize(base) if base else {}
        parts.append(
            f"**{key}: {entry['data_repr']}**{', our embeddings drawn at RecBole’s initial scale (`--init recbole`)' if init == 'recbole' else ''}: LightGCN, {s['dim']} dimensions, {s['layers']} layers, batches of "
            f"{s['batch_size']}, Adam lr {s['lr']:g}, L2 {s['l2']:g}, {s['epochs']} epoch{'s' if s['epochs'] != 1 else ''}, DNS with "
            f"{s['candidates']} candidates; seeds {seeds}; {s['threads']} torch thread, CPU "
            f"{entry['records'][0]['affinity']}. `{entry['command']}` (commit `{entry['commit'][:12]}`, "
            f"{entry['date']}; torch {entry['versions']['torch']}, RecBole {entry['versions']['recbole']}, "
            f"numpy {entry['versions']['numpy']}, scipy {entry['versions']['scipy']})."
            + (
                f" **Timing only**: each epoch is timed on its first {s['max_batches']} of "
                f"{entry['records'][0]['batches_per_epoch']} batches and scaled to the whole epoch; "
                f"the metrics are those of a model after {s['epochs']} × {s['max_batches']} steps, "
                f"not a trained one."
                if s.get("max_batches")
                else ""
            )
            + "\n"
        )
        lines = [
            "| sampler | library | CPU s/epoch | wall s/epoch | eval CPU s | eval wall s | peak RSS MiB "
            "(after imports) | setup s | Recall@20 | NDCG@20 | Recall@20, our evaluator "
            "| NDCG@20, our evaluator |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for sampler, libs in rows.items():
            for lib, r in ((lib, libs[lib]) for lib in LIBRARIES if lib in libs):
                lines.append(
                    f"| {sampler} | {lib} | {_pm(r['epoch_cpu'], 2)} | {_pm(r['epoch'], 2)} "
                    f"| {_pm(r['eval_cpu'], 3)} | {_pm(r['eval'], 3)} | {_pm(r['rss'], 0)} "
                    f"({_pm(r['rss_base'], 0)}) | {_pm(r['setup'], 1)} | {_pm(r['recall'])} "
                    f"| {_pm(r['ndcg'])} | {_pm(r['recall_ours'])} | {_pm(r['ndcg_ours'])} |"
                )
        parts.append("\n".join(lines) + "\n")
        lines = [
            "| sampler | epoch, ours / RecBole: CPU (wall) | evaluation: CPU (wall) | peak RSS "
            "| ΔRecall@20 (ours − RecBole) | ΔNDCG@20 | within the seed spread |",
            "|---|---|---|---|---|---|---|",
        ]
        borrowed = False
        for sampler, libs in rows.items():
            borrowed = borrowed or set(libs) != set(LIBRARIES)
            libs = {**base_rows.get(sampler, {}), **libs}  # RecBole from the entry of the same data
            if set(libs) != set(LIBRARIES):
                continue
            o, b = libs["pyg_negdiff"], libs["recbole"]
            epoch, ev = _ratio(o, b, "epoch_cpu"), _ratio(o, b, "eval_cpu")
            dr = statistics.fmean(o["recall"]) - statistics.fmean(b["recall_ours"])
            dn = statistics.fmean(o["ndcg"]) - statistics.fmean(b["ndcg_ours"])
            spread = (
                (
                    "yes"
                    if within_spread(o["recall"], b["recall_ours"])
                    and within_spread(o["ndcg"], b["ndcg_ours"])
                    else "no"
                )
                if len(seeds) > 1
                else "one seed"
            )
            lines.append(
                f"| {sampler} | {epoch:.2f} ({_ratio(o, b, 'epoch'):.2f}), target ≤ 0.33 "
                f"{'met' if epoch <= TARGETS['epoch'] else 'not met'} | {ev:.2f} ({_ratio(o, b, 'eval'):.2f}), "
                f"target ≤ 0.20 {'met' if ev <= TARGETS['eval'] else 'not met'} | {_ratio(o, b, 'rss'):.2f} "
                f"| {dr:+.4f} | {dn:+.4f} | {spread} |"
            )
        if base_rows and borrowed:
            lines.append(
                f"\nRecBole's side of this comparison: the runs of `{entry['data']}` above."
            )
        parts.append("\n".join(lines) + "\n")
        if key == entry["data"]:
            pooled = pooled_markdown(report, key)
            if pooled:
                parts.append(pooled)
    if "cnsdiff" in report:
        c = report["cnsdiff"]
        r, a = c["record"], c["authors"]
        scale = r.get("batches_per_epoch", 1) / r.get("batches_timed", 1)
        wall, cpu = scale * statistics.median(r["epoch_times"]), scale * statistics.median(
            r["epoch_cpu"]
        )
        timed = (
            f", timed on its first {r['batches_timed']} of {r['batches_per_epoch']} batches and scaled"
            if scale != 1
            else ""
        )
        threads = r["threads"]
        parts.append(
            f"**CNSDiff on {c['data_repr']}**, one training epoch at {threads} torch threads (CPUs "
            f"{r['affinity']}{timed}; `CNSDiffSampler` at its defaults, LightGCN {c['settings']['dim']} dimensions, "
            f"{c['settings']['layers']} layers, batches of {c['settings']['batch_size']}; `{c['command']}`, "
            f"commit `{c['commit'][:12]}`, {c['date']}): ours {cpu:.1f} CPU s over the {threads} threads, "
            f"{wall:.1f} s wall on the shared cores. On an idle machine that work takes between "
            f"{cpu / threads:.1f} s (both threads busy throughout) and {cpu:.1f} s of wall time (CPU time may also "
            f"count threads that spin while waiting for work, so both bounds may lean high). The authors' "
            f"training loop: {a['epoch_time_s']} s at {a['threads']} threads ({a['source']}, measured "
            f"{a['measured']}), {a['epoch_time_s'] / cpu:.1f} to {a['epoch_time_s'] * threads / cpu:.1f} times "
            f"ours: a number on paper (another day, another load, the authors' own settings).\n"
        )
    return "\n".join(parts).strip() + "\n"


# --------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", default="ml-1m", help="a built-in name (ml-1m, ml-100k, ...) or a path"
    )
    parser.add_argument("--data-root", default=None)
    parser.add_argument(
        "--split-seed", type=int, default=0, help="seed of the random split of data without a test"
    )
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=SAMPLERS)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument(
        "--candidates", type=int, default=32, help="DNS candidates M, both libraries"
    )
    parser.add_argument("--eval-repeats", type=int, default=3)
    parser.add_argument(
        "--max-batches",
        type=int,
        default=0,
        help="time only the first N batches of each epoch and scale to a whole epoch (0: all)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads of every child")
    parser.add_argument("--libraries", nargs="+", default=list(LIBRARIES), choices=LIBRARIES)
    parser.add_argument(
        "--init",
        choices=["ours", "recbole"],
        default="ours",
        help="our embeddings' initial scale: ours, or RecBole's (see recbole_init)",
    )
    parser.add_argument(
        "--tag", default=None, help="the result entry's name (default: the data's name)"
    )
    parser.add_argument(
        "--cnsdiff", action="store_true", help="time one epoch of our CNSDiff instead"
    )
    parser.add_argument(
        "--report", action="store_true", help="only rewrite the Markdown (and --docs) from the JSON"
    )
    parser.add_argument(
        "--out", default=str(ROOT / "benchmarks" / "results" / "peer_recbole"), help="output stem"
    )
    parser.add_argument("--docs", default=None, help="a page whose peer-recbole block is rewritten")
    parser.add_argument(
        "--workdir", default=None, help="where the atomic files go (default: a temporary folder)"
    )
    parser.add_argument("--child", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--sampler", default="uniform", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    stem = Path(args.out)
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    report = json.loads(json_path.read_text()) if json_path.exists() else {}
    commit = git_commit()  # before the run: the code the children read, however long they take
    if not args.report:
        if args.cnsdiff:
            args.epochs = 1
        with tempfile.TemporaryDirectory(prefix="peer_recbole-") as tmp:
            work = Path(args.workdir or tmp)
            work.mkdir(parents=True, exist_ok=True)
            entry = run_cnsdiff(args, work) if args.cnsdiff else run_comparison(args, work)
        entry.update(
            {
                "command": command_line(),
                "commit": commit,
                "versions": versions(),
                "date": datetime.date.today().isoformat(),
                "affinity": sorted(os.sched_getaffinity(0)),
            }
        )
        # Read again: another run (another dataset) may have written the file meanwhile.
        report = json.loads(json_path.read_text()) if json_path.exists() else {}
        report["cnsdiff" if args.cnsdiff else (args.tag or entry["data"])] = entry
        stem.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    md_path.write_text(text)
    if args.docs:
        replace_block(Path(args.docs), DOC_START, DOC_END, text)
    print(text)
    print(f"written to {json_path} and {md_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
