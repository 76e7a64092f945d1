"""How often each static pool draws an item the shifted test rewards: the exact expected FHN
ratio (`pyg_negdiff.sampling.expected_fhn_ratio`) of uniform and popularity-weighted negatives on
every real scenario (issue 22, the mechanism behind the popularity tilt).

No model is trained and nothing is drawn: for each scenario, pool ($w_j = n_j^{\\alpha}$, with
$\\alpha = 0$ the uniform pool) and held-out part, the expected share of an epoch's negatives
that are that part's positives of their user, and its ratio to the uniform pool's. A ratio above 1
on ``test_ood`` means the pool pushes down the very items the shifted test rewards; below 1, that
it spares them. The test parts are read for this diagnostic only; nothing is chosen with it.

    python benchmarks/pool_false_negatives.py --out benchmarks/results/pool_false_negatives \\
        --docs docs/real-shifts.md
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch

from pyg_negdiff.bench import REAL_SCENARIOS, SCENARIOS
from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.sampling import expected_fhn_ratio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import git_commit, replace_block  # noqa: E402

DOC_START, DOC_END = "<!-- pool-fhn:start -->", "<!-- pool-fhn:end -->"
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
PARTS = ("test_ood", "test")
#: The exponent of the past-counts pool, the popularity pool's default.
PAST_ALPHA = 0.75


def past_counts(data, quantile: float = 0.75) -> torch.Tensor | None:
    """Training counts up to the ``quantile`` of training time (None without timestamps).

    The pool a hypothesis proposed and this measurement retired (the Real shifts page): an item
    popular only recently would be spared as a negative under a temporal shift.
    """
    if not data.has_timestamps:
        return None
    times = data.timestamps["train"].double()
    cut = torch.kthvalue(times, max(1, int(quantile * times.numel()))).values
    return torch.bincount(data.train[1][times <= cut], minlength=data.num_items).double()


def measure(data) -> dict[str, dict[str, float]]:
    """``{part: {alpha: expected FHN ratio}}`` of one scenario's data."""
    train = data.train_pairs()
    counts = data.item_popularity().double()
    past = past_counts(data)
    out = {}
    for part in PARTS:
        if part not in data.parts:
            continue
        ref = PairSet(data.parts[part], data.num_users, data.num_items)
        out[part] = {
            f"{a:g}": expected_fhn_ratio(
                counts.pow(a) if a else torch.ones_like(counts), train, ref
            )
            for a in ALPHAS
        }
        if past is not None:
            out[part]["past"] = expected_fhn_ratio(past.pow(PAST_ALPHA), train, ref)
    return out


def markdown(result: dict) -> str:
    """The page's table: the ratio to the uniform pool per scenario, part and alpha."""
    head = " | ".join(f"α = {a:g}" for a in ALPHAS[1:]) + f" | past counts, α = {PAST_ALPHA:g}"
    lines = [
        f"Produced by `python benchmarks/pool_false_negatives.py` at commit "
        f"{result['commit'][:7]}; the exact expected FHN ratio of popularity-weighted negatives "
        f"($w_j = n_j^{{\\alpha}}$) against the held-out positives, as a multiple of the uniform "
        f"pool's (its own rate in the second column). The last column weights by the counts up to the "
        f"75th percentile of training time (a dash: no timestamps).",
        "",
        f"| scenario | part | uniform rate | {head} |",
        "|---|---|---|" + "---|" * len(ALPHAS),
    ]
    for name, parts in result["scenarios"].items():
        for part, rates in parts.items():
            base = rates["0"]
            ratios = " | ".join(f"{rates[f'{a:g}'] / base:.2f}×" for a in ALPHAS[1:])
            ratios += f" | {rates['past'] / base:.2f}×" if "past" in rates else " | -"
            lines.append(f"| {name} | {part} | {base:.4f} | {ratios} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", nargs="+", default=list(REAL_SCENARIOS))
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", default="benchmarks/results/pool_false_negatives")
    parser.add_argument("--docs", default=None, help="write the table into this page's block")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    result = {"commit": git_commit(), "alphas": list(ALPHAS), "scenarios": {}}
    for name in args.scenarios:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the loaders' notes; the scenarios are documented
            data = SCENARIOS[name].load(args.data_root)
        result["scenarios"][name] = measure(data)
        print(f"[{name}] done", flush=True)
    text = markdown(result)
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(text + "\n")
    if args.docs:
        replace_block(Path(args.docs), DOC_START, DOC_END, text)
    print(text)
    return result


if __name__ == "__main__":
    main()
