"""The cached, block-reusing `Evaluator` path against the computation it replaced (issue 26).

`old_evaluate` is the evaluator's loop before the change, kept here as the reference: per
batch a fresh score matrix, seen items masked through `top_k_items` (2-D ``index_put``),
ground truth looked up from a `PairSet` built on every call, PyG's metric collection fed
the same way. The new path must give the same numbers on the same embeddings.
"""

import pytest
import torch
from torch_geometric.metrics import LinkPredMetricCollection

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.metrics import METRICS, Evaluator, top_k_items
from pyg_negdiff.nn.base import Embeddings

KS = (1, 5, 10, 20)


def old_evaluate(data, emb, part, ks, groups=None, batch_size=512):
    """The pre-change `Evaluator.evaluate`, line for line (names only shortened)."""
    index = data.parts[part]
    label_sets = {"": PairSet(index, data.num_users, data.num_items)}
    if groups is not None:
        for g in torch.unique(groups).tolist():
            label_sets[f"/{g}"] = PairSet(index[:, groups == g], data.num_users, data.num_items)
    collections = {
        key: LinkPredMetricCollection({f"{m}@{k}": METRICS[m](k) for m in METRICS for k in ks})
        for key in label_sets
    }
    seen = data.seen_pairs(part)
    users = torch.unique(index[0])
    for start in range(0, users.numel(), batch_size):
        batch = users[start : start + batch_size]
        top = top_k_items(emb.user[batch], emb.item, seen, batch, max(ks))
        for key, labels in label_sets.items():
            collections[key].update(top, labels.rows(batch))
    out = {}
    for key, coll in collections.items():
        for name, value in coll.compute().items():
            out[f"{name}{key}"] = float(value)
    if groups is not None:
        for m in METRICS:
            for k in ks:
                out[f"{m}@{k}/worst"] = min(out[f"{m}@{k}{key}"] for key in label_sets if key)
    return out


def hard_data(seed, ties):
    """Random data with the cases that can break a ranking shortcut.

    Users without ground truth (never ranked), users without training items (nothing
    masked), a user who has seen all but 3 items (fewer candidates than most k, so -inf
    items enter the top-k), a validation part (masked for the test), and, with ``ties``,
    small integer embeddings whose scores tie often and are exact in float32.
    """
    g = torch.Generator().manual_seed(seed)
    U, I, D = 50, 40, 4

    def pairs(n, users):
        return torch.stack(
            [
                users[torch.randint(0, users.numel(), (n,), generator=g)],
                torch.randint(0, I, (n,), generator=g),
            ]
        )

    trained = torch.arange(0, 40)  # users 40..49 have no training items
    train = torch.cat(
        [pairs(400, trained), torch.stack([torch.zeros(I - 3).long(), torch.arange(I - 3)])], 1
    )
    val = pairs(60, trained)
    test = pairs(150, torch.arange(0, 50, 1)[torch.arange(50) % 7 != 3])  # some users: no truth
    test = torch.cat([test, torch.tensor([[0, 0], [I - 2, I - 1]])], 1)
    seen = PairSet(torch.cat([train, val], 1), U, I)
    test = torch.unique(test[:, ~seen.contains(test[0], test[1])], dim=1)
    if ties:
        user = torch.randint(-1, 2, (U, 2, D), generator=g).float()
        item = torch.randint(-1, 2, (I, 2, D), generator=g).float()
    else:
        user, item = torch.randn(U, 2, D, generator=g), torch.randn(I, 2, D, generator=g)
    data = InteractionData(U, I, {"train": train, "val": val, "test": test})
    return data, Embeddings(user, item)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("ties", [True, False])
@pytest.mark.parametrize("batch_size", [1, 7, 512])
def test_fast_path_equals_the_old_computation(seed, ties, batch_size):
    data, emb = hard_data(seed, ties)
    scores = emb.user @ emb.item.t()
    if ties:  # the case is real: many rows tie at the k-th place
        assert (scores[:, None, :] == scores.topk(5).values[:, -1:, None]).sum() > 2 * 50
    ev = Evaluator(data, ks=KS, metrics=list(METRICS), batch_size=batch_size)
    groups = data.parts["test"][1] % 3
    for part, grouping in (("val", None), ("test", None), ("test", groups)):
        # Bit for bit at the same batch size; against the old default of 512 users per batch,
        # to float tolerance: PyG sums each metric batch by batch, in float32.
        same = old_evaluate(data, emb, part, KS, grouping, batch_size=ev.batch_size)
        old_default = old_evaluate(data, emb, part, KS, grouping)
        for _ in range(2):  # the second call runs on the cached plan
            got = ev.evaluate(emb, part, groups=grouping)
            assert got == same
            assert got.keys() == old_default.keys()
            for key, value in old_default.items():
                assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-7), key


def test_plan_is_cached_per_part_and_batch_size():
    data, emb = hard_data(1, ties=True)
    ev = Evaluator(data, ks=(5,), batch_size=7)
    ev.evaluate(emb, "test")
    ev.evaluate(emb, "val")
    assert len(ev._plans) == 2
    before = ev.evaluate(emb, "test")
    ev.batch_size = 3  # a changed batch size gets its own plan, and the same numbers (to float)
    assert ev.evaluate(emb, "test") == pytest.approx(before, rel=1e-6)
    assert len(ev._plans) == 3
