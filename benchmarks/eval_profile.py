"""Where one full-ranking evaluation spends its CPU time (issue 26): propagation, matmul, mask,
top-k, metrics; the evaluator's loop before the change beside the current one.

Both loops are instrumented copies of `Evaluator.evaluate` (the old one: a fresh score matrix
per batch, seen items looked up per call and masked by a 2-D ``index_put``, the part's labels
rebuilt per call; the new one: `Evaluator._plan`'s cached batches, one reused score block,
``index_fill_``), timed in process CPU seconds, medians of ``--repeats``, alternating old and
new, on untrained LightGCN embeddings (64 dimensions, 3 layers; the times do not depend on
training). Run on one core with one thread; the results go to
``benchmarks/results/eval_profile.{json,md}`` (one entry per dataset) and ``--docs`` rewrites
the Benchmarks page's ``eval-profile`` block from the JSON (``--report``: only that)::

    taskset -c 0 python benchmarks/eval_profile.py --data ml-1m --repeats 7
    python benchmarks/eval_profile.py --report --docs docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from _common import git_commit, replace_block  # noqa: E402  (sibling module of this script)
from pyg_negdiff.data.pairs import PairSet  # noqa: E402
from pyg_negdiff.data.prepare import load, split  # noqa: E402
from pyg_negdiff.experiment import RunConfig, make_trainer  # noqa: E402
from pyg_negdiff.metrics import Evaluator  # noqa: E402


class Parts:
    """Accumulates CPU seconds per named part: ``parts.lap("matmul")`` after each step."""

    def __init__(self) -> None:
        self.t, self.times = time.process_time(), {}

    def lap(self, name: str) -> None:
        now = time.process_time()
        self.times[name] = self.times.get(name, 0.0) + now - self.t
        self.t = now


def old_loop(ev: Evaluator, emb, part: str, p: Parts) -> dict:
    data, index = ev.data, ev.data.parts[part]
    labels = PairSet(index, data.num_users, data.num_items)
    coll, seen = ev._collection(), ev.seen(part)
    users = torch.unique(index[0])
    p.lap("labels, users (per call)")
    for start in range(0, users.numel(), 512):
        batch = users[start : start + 512]
        scores = emb.user[batch] @ emb.item.t()
        p.lap("matmul")
        row, col = seen.rows(batch)
        scores[row, col] = float("-inf")
        p.lap("mask seen")
        top = scores.topk(ev.ks[-1], dim=1).indices
        p.lap("top-k")
        coll.update(top, labels.rows(batch))
        p.lap("metrics (PyG update)")
    out = {k: float(v) for k, v in coll.compute().items()}
    p.lap("metrics (PyG update)")
    return out


def new_loop(ev: Evaluator, emb, part: str, p: Parts) -> dict:
    plan = ev._plan(part, emb.user.device)
    coll = ev._collection()
    block = emb.user.new_empty((max(b.users.numel() for b in plan), ev.data.num_items))
    p.lap("labels, users (per call)")
    for b in plan:
        scores = block[: b.users.numel()]
        torch.mm(emb.user[b.users], emb.item.t(), out=scores)
        p.lap("matmul")
        scores.view(-1).index_fill_(0, b.seen, float("-inf"))
        p.lap("mask seen")
        top = scores.topk(ev.ks[-1], dim=1).indices
        p.lap("top-k")
        coll.update(top, (b.label_row, b.label_col))
        p.lap("metrics (PyG update)")
    out = {k: float(v) for k, v in coll.compute().items()}
    p.lap("metrics (PyG update)")
    return out


DOC_START, DOC_END = "<!-- eval-profile:start -->", "<!-- eval-profile:end -->"
RESULTS = ROOT / "benchmarks" / "results"
PARTS = {
    "propagation": "propagation (`Trainer.embeddings`, the whole training graph)",
    "labels, users (per call)": "the part's labels and users, per call",
    "matmul": "score matmul",
    "mask seen": "masking the training items",
    "top-k": "top-20 (`torch.topk`, once for the largest K)",
    "metrics (PyG update)": "metrics (PyG's `LinkPred*` updates)",
    "total": "total",
}


def markdown(report: dict) -> str:
    """The page's block: per dataset, the table of parts, and the bound it sets on the ratio to
    RecBole's evaluation (from ``peer_recbole.json``'s entry of the same data, if any)."""
    peer_path = RESULTS / "peer_recbole.json"
    peer = json.loads(peer_path.read_text()) if peer_path.exists() else {}
    out = []
    for name, e in sorted(report.items()):
        med = {
            run: {k: 1000 * statistics.median(v) for k, v in e[run].items()} for run in e["runs"]
        }
        old, new = med["old"], med["new"]
        lines = [
            f"**{e['data_repr']}**, `{e['command']}` (commit `{e['commit'][:12]}`, {e['date']}): "
            f"process CPU ms, medians of {e['repeats']}, the old and new loops alternating, "
            f"{e['batch_size']} users per batch.\n",
            "| part | before | now |",
            "|---|---|---|",
        ]
        lines += [f"| {PARTS[k]} | {old[k]:.0f} | {new[k]:.0f} |" for k in PARTS]
        floor = new["propagation"] + new["matmul"] + new["top-k"]
        text = (
            f"\nPropagation, matmul and top-k, work any exact full ranking does, are "
            f"{floor:.0f} of the {new['total']:.0f} ms now; the removed per-call work "
            f"(labels, users, masking) was {old['labels, users (per call)'] + old['mask seen']:.0f} ms "
            f"before and is {new['labels, users (per call)'] + new['mask seen']:.0f} ms now."
        )
        entry = peer.get(name)
        if entry:
            rb = [min(r["eval_cpu"]) for r in entry["records"] if r["library"] == "recbole"]
            bound = statistics.fmean(rb) * 1000 / 5
            text += (
                f" One fifth of RecBole's evaluation in `peer_recbole.json` ({name}, "
                f"{statistics.fmean(rb) * 1000:.0f} ms, the mean of its samplers' fastest) is "
                f"{bound:.0f} ms; our matmul and top-k alone take "
                f"{new['matmul'] + new['top-k']:.0f} ms here, before any propagation."
            )
        out.append("\n".join(lines) + "\n" + text + "\n")
    return "\n".join(out).strip() + "\n"


def measure(args: argparse.Namespace) -> dict:
    torch.set_num_threads(1)
    data = load(args.data)
    if "test" not in data.parts:  # as benchmarks/peer_recbole.py splits it
        data = split(data, "random", seed=0)
    train = torch.cat([data.train, data.parts["val"]], 1) if "val" in data.parts else data.train
    data = data.with_parts({"train": train, "test": data.parts["test"]})
    config = RunConfig(model="lightgcn", embedding_dim=64, num_layers=3, epochs=1, patience=None)
    ev = Evaluator(data, ks=(20,), metrics=("recall", "ndcg"), batch_size=args.batch_size)
    trainer = make_trainer(config, data, evaluator=ev, progress=False)
    ev._plan("test", torch.device("cpu"))  # built once per part, outside the timed calls
    rows: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
    results = []
    with torch.no_grad():
        for _ in range(args.repeats):
            for name, loop in (("old", old_loop), ("new", new_loop)):
                p = Parts()
                emb = trainer.embeddings()
                p.lap("propagation")
                results.append(pytest_approx(loop(ev, emb, "test", p)))
                p.times["total"] = sum(p.times.values())
                for key, value in p.times.items():
                    rows[name].setdefault(key, []).append(value)
    assert all(r == results[0] for r in results), "the two loops rank differently"
    return {
        "data_repr": repr(data),
        "command": " ".join(["python", "benchmarks/eval_profile.py", *sys.argv[1:]]),
        "commit": git_commit(),
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__,
        "repeats": args.repeats,
        "batch_size": ev.batch_size,
        "runs": ["old", "new"],
        "metrics": results[0],
        **rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="ml-1m")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--batch-size", type=int, default=512, help="users per batch of the new loop"
    )
    parser.add_argument("--report", action="store_true", help="only rewrite the Markdown")
    parser.add_argument("--docs", default=None, help="a page whose eval-profile block is rewritten")
    args = parser.parse_args()
    json_path = RESULTS / "eval_profile.json"
    report = json.loads(json_path.read_text()) if json_path.exists() else {}
    if not args.report:
        entry = measure(args)
        report = json.loads(json_path.read_text()) if json_path.exists() else {}
        report[Path(args.data).name] = entry
        json_path.write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (RESULTS / "eval_profile.md").write_text(text)
    if args.docs:
        replace_block(Path(args.docs), DOC_START, DOC_END, text)
    print(text)


def pytest_approx(d: dict) -> dict:
    """Metric values rounded to 6 digits (the two loops sum in different batch sizes)."""
    return {k: round(v, 6) for k, v in d.items()}


if __name__ == "__main__":
    main()
