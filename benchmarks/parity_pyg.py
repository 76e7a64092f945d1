"""Parity with PyG: our LightGCN trainer vs. a loop written directly on PyG's own LightGCN.

Both runs share the data, the initial layer-0 weights, the batch order and the
negatives (the same exact uniform sampler with the same seed), so the test
Recall@20 must agree within a few percent; both are evaluated with the same
full-ranking evaluator. Both propagate once per batch (the PyG loop over a raw
CSR adjacency, which PyG's LGConv normalizes on every call, its fastest native
input; ``--pyg-input edge_index`` uses the edge list as PyG's example does,
about 10x slower). The script prints both figures, their relative gap and the
per-epoch time ratio, and writes them to JSON.

    python benchmarks/parity_pyg.py --data ml-1m --epochs 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch_geometric.nn.models import LightGCN as PyGLightGCN
from torch_geometric.utils import to_torch_csr_tensor
from tqdm.auto import tqdm

from pyg_negdiff.data.graph import bipartite_edge_index
from pyg_negdiff.data.prepare import prepare_data
from pyg_negdiff.metrics import Evaluator
from pyg_negdiff.nn import LightGCN
from pyg_negdiff.nn.base import Embeddings
from pyg_negdiff.sampling.uniform import UniformSampler
from pyg_negdiff.train import Trainer

from _common import git_commit  # sibling module of this script


def pyg_loop(
    data,
    init_weight: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    l2: float,
    batch_size: int,
    num_layers: int,
    seed: int,
    pyg_input: str,
    progress: bool,
) -> tuple[Embeddings, float]:
    """The same training written on ``torch_geometric.nn.models.LightGCN`` and its BPR loss."""
    U = data.num_users
    model = PyGLightGCN(U + data.num_items, init_weight.size(1), num_layers)
    with torch.no_grad():
        model.embedding.weight.copy_(init_weight)
    edge_index = bipartite_edge_index(data.train, U)
    graph = (
        edge_index
        if pyg_input == "edge_index"
        else to_torch_csr_tensor(edge_index, size=(U + data.num_items,) * 2)
    )
    pairs = data.train_pairs()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(
        seed
    )  # same stream as the Trainer: permutation, then negatives
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        perm = torch.randperm(data.train.size(1), generator=gen)
        for offset in tqdm(
            range(0, perm.numel(), batch_size),
            desc=f"pyg epoch {epoch}",
            leave=False,
            disable=not progress,
        ):
            index = perm[offset : offset + batch_size]
            users, pos = data.train[0, index], data.train[1, index]
            neg = pairs.sample_complement(users, 1, gen).squeeze(-1)
            x = model.get_embedding(graph)
            pos_rank = (x[users] * x[U + pos]).sum(-1)
            neg_rank = (x[users] * x[U + neg]).sum(-1)
            # PyG's BPRLoss divides ||E||^2 by the batch size; ours by twice that: halve lambda.
            loss = model.recommendation_loss(
                pos_rank, neg_rank, node_id=torch.cat([users, U + pos, U + neg]), lambda_reg=l2 / 2
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    with torch.no_grad():
        x = model.get_embedding(graph)
    return Embeddings(x[:U].unsqueeze(1), x[U:].unsqueeze(1)), sum(times) / len(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="ml-1m")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pyg-input", choices=["csr", "edge_index"], default="csr")
    parser.add_argument("--out", default="benchmarks/results/parity_pyg.json")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    data = prepare_data(args.data, shift="none", root=args.data_root, seed=args.seed)
    data = data.with_parts(
        {"train": data.train, "test": data.parts["test"]}
    )  # fixed epochs, no val
    print(data.summary())
    evaluator = Evaluator(data, ks=(20,), metrics=("recall", "ndcg"))

    torch.manual_seed(args.seed)
    ours = LightGCN(data.num_users, data.num_items, args.dim, args.layers)
    init = ours.embedding.weight.detach().clone()
    trainer = Trainer(
        ours,
        UniformSampler(data.train_pairs()),
        data,
        lr=args.lr,
        l2=args.l2,
        batch_size=args.batch_size,
        epochs=args.epochs,
        evaluator=evaluator,
        seed=args.seed,
        progress=not args.no_progress,
    )
    result = trainer.fit()
    ours_recall = result.test["test"]["recall@20"]

    pyg_emb, pyg_time = pyg_loop(
        data,
        init,
        epochs=args.epochs,
        lr=args.lr,
        l2=args.l2,
        batch_size=args.batch_size,
        num_layers=args.layers,
        seed=args.seed,
        pyg_input=args.pyg_input,
        progress=not args.no_progress,
    )
    pyg = evaluator.evaluate(pyg_emb, "test")

    gap = (ours_recall - pyg["recall@20"]) / max(pyg["recall@20"], 1e-12)
    ratio = result.epoch_time / pyg_time
    report = {
        "data": args.data,
        "epochs": args.epochs,
        "dim": args.dim,
        "layers": args.layers,
        "lr": args.lr,
        "l2": args.l2,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "pyg_input": args.pyg_input,
        "ours": {
            "recall@20": ours_recall,
            "ndcg@20": result.test["test"]["ndcg@20"],
            "epoch_time_s": result.epoch_time,
        },
        "pyg": {"recall@20": pyg["recall@20"], "ndcg@20": pyg["ndcg@20"], "epoch_time_s": pyg_time},
        "recall_relative_gap": gap,
        "epoch_time_ratio_ours_over_pyg": ratio,
        "within_3_percent": abs(gap) <= 0.03,
        "not_slower": ratio <= 1.0,
        "git_commit": git_commit(),
    }
    print(
        f"\ntest Recall@20 after {args.epochs} epochs: ours {ours_recall:.4f}, "
        f"PyG LightGCN {pyg['recall@20']:.4f} (gap {100 * gap:+.2f}%)"
    )
    print(
        f"epoch time: ours {result.epoch_time:.1f} s, PyG {pyg_time:.1f} s, ratio ours/PyG = {ratio:.3f}"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"written to {args.out}")
    sys.exit(0 if report["within_3_percent"] and report["not_slower"] else 1)


if __name__ == "__main__":
    main()
