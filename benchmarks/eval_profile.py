"""Where one full-ranking evaluation spends its CPU time (issue 26): propagation, matmul, mask,
top-k, metrics; the evaluator's loop before the change beside the current one.

Both loops are instrumented copies of `Evaluator.evaluate` (the old one: a fresh score matrix
per batch, seen items looked up per call and masked by a 2-D ``index_put``, the part's labels
rebuilt per call; the new one: `Evaluator._plan`'s cached batches, one reused score block,
``index_fill_``), timed in process CPU seconds, medians of ``--repeats``, alternating old and
new, on untrained LightGCN embeddings (64 dimensions, 3 layers; the times do not depend on
training). Run on one core with one thread::

    taskset -c 0 python benchmarks/eval_profile.py --data ml-1m --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="ml-1m")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--batch-size", type=int, default=512, help="users per batch of the new loop"
    )
    args = parser.parse_args()
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
    with torch.no_grad():
        for _ in range(args.repeats):
            for name, loop in (("old", old_loop), ("new", new_loop)):
                p = Parts()
                emb = trainer.embeddings()
                p.lap("propagation")
                res = loop(ev, emb, "test", p)
                p.times["total"] = sum(p.times.values())
                for key, value in p.times.items():
                    rows[name].setdefault(key, []).append(value)
                rows[name].setdefault("_res", []).append(res)
    assert pytest_approx(rows["old"]["_res"][0]) == pytest_approx(rows["new"]["_res"][0])
    print(f"{data!r}; new batch {ev.batch_size} users; medians of {args.repeats}, CPU ms")
    print("| part | old loop | new loop |\n|---|---|---|")
    for key in rows["old"]:
        if key != "_res":
            old, new = (1000 * statistics.median(rows[n][key]) for n in ("old", "new"))
            print(f"| {key} | {old:.1f} | {new:.1f} |")


def pytest_approx(d: dict) -> dict:
    """Metric values rounded to 6 digits (the two loops sum in different batch sizes)."""
    return {k: round(v, 6) for k, v in d.items()}


if __name__ == "__main__":
    main()
