import math

import pytest
import torch

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.metrics import Evaluator, top_k_items
from pyg_negdiff.nn.base import Embeddings


def naive_metrics(scores, train, test, k):
    """Per-user loop, written from the definitions."""
    recall, ndcg, prec, hit, n = 0.0, 0.0, 0.0, 0.0, 0
    for u in range(scores.size(0)):
        truth = {i for uu, i in test if uu == u}
        if not truth:
            continue
        s = scores[u].clone()
        for uu, i in train:
            if uu == u:
                s[i] = -math.inf
        top = s.topk(k).indices.tolist()
        hits = [1.0 if i in truth else 0.0 for i in top]
        dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(truth))))
        recall += sum(hits) / len(truth)
        ndcg += dcg / idcg
        prec += sum(hits) / k
        hit += float(sum(hits) > 0)
        n += 1
    return {"recall": recall / n, "ndcg": ndcg / n, "precision": prec / n, "hit_ratio": hit / n}


def random_data(seed=0, U=30, I=40):
    g = torch.Generator().manual_seed(seed)
    train = torch.stack(
        [torch.randint(0, U, (300,), generator=g), torch.randint(0, I, (300,), generator=g)]
    )
    test = torch.stack(
        [torch.randint(0, U, (80,), generator=g), torch.randint(0, I, (80,), generator=g)]
    )
    keep = ~InteractionData(U, I, {"train": train}).train_pairs().contains(test[0], test[1])
    test = torch.unique(test[:, keep], dim=1)
    emb = Embeddings(torch.randn(U, 2, 8, generator=g), torch.randn(I, 2, 8, generator=g))
    return InteractionData(U, I, {"train": train, "test": test}), emb


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorized_metrics_equal_the_naive_loop(seed):
    data, emb = random_data(seed)
    ev = Evaluator(data, ks=(5, 10), batch_size=7)  # odd batch size: batching must not matter
    got = ev.evaluate(emb, "test")
    scores = emb.user @ emb.item.t()
    train = list(map(tuple, data.train.t().tolist()))
    test = list(map(tuple, data.parts["test"].t().tolist()))
    for k in (5, 10):
        ref = naive_metrics(scores, train, test, k)
        for name, value in ref.items():
            assert got[f"{name}@{k}"] == pytest.approx(value, abs=1e-5), (name, k)


def test_hand_computed_toy_case():
    # Item i has embedding e_i, so user scores are read off directly.
    item = torch.eye(4).unsqueeze(1)
    user = torch.tensor([[0.9, 0.8, 0.7, 0.1]]).unsqueeze(1)
    data = InteractionData(
        1,
        4,
        {
            "train": torch.tensor([[0], [0]]),  # item 0 seen: masked
            "test": torch.tensor([[0, 0], [2, 3]]),
        },
    )  # truth {2, 3}
    res = Evaluator(data, ks=(2,))(Embeddings(user, item), "test")
    # Ranking after the mask: 1, 2, 3 -> top-2 = [1, 2]: one hit of two, at rank 2.
    assert res["recall@2"] == pytest.approx(0.5)
    assert res["precision@2"] == pytest.approx(0.5)
    assert res["hit_ratio@2"] == pytest.approx(1.0)
    assert res["ndcg@2"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))


def test_masked_items_never_in_top_k():
    data, emb = random_data(3)
    # Make seen items score highest of all: a finite sentinel could let them through.
    seen = data.seen_pairs("test")
    users = torch.arange(data.num_users)
    row, col = seen.rows(users)
    emb = Embeddings(torch.ones(data.num_users, 1, 1), torch.zeros(data.num_items, 1, 1))
    emb.item[col] = 1e30
    top = top_k_items(emb.user, emb.item, seen, users, 10)
    assert not seen.contains(users.unsqueeze(-1).expand_as(top), top).any()


def test_validation_masks_train_and_test_masks_train_and_val():
    train = torch.tensor([[0], [0]])
    val = torch.tensor([[0], [1]])
    test = torch.tensor([[0], [2]])
    data = InteractionData(1, 4, {"train": train, "val": val, "test": test})
    assert data.seen_pairs("val").contains(torch.tensor([0, 0]), torch.tensor([0, 1])).tolist() == [
        True,
        False,
    ]
    assert data.seen_pairs("test").contains(
        torch.tensor([0, 0]), torch.tensor([0, 1])
    ).tolist() == [True, True]


def test_groups_and_worst_group():
    data, emb = random_data(4)
    test = data.parts["test"]
    groups = test[1] % 2
    ev = Evaluator(data, ks=(10,))
    res = ev.evaluate(emb, "test", groups=groups, group_names=["even", "odd"])
    for part, keep in (("even", groups == 0), ("odd", groups == 1)):
        sub = InteractionData(
            data.num_users, data.num_items, {"train": data.train, "test": test[:, keep]}
        )
        ref = Evaluator(sub, ks=(10,)).evaluate(emb, "test")
        assert res[f"recall@10/{part}"] == pytest.approx(ref["recall@10"])
    assert res["recall@10/worst"] == min(res["recall@10/even"], res["recall@10/odd"])


def test_bad_arguments():
    data, emb = random_data()
    with pytest.raises(ValueError, match="unknown metrics"):
        Evaluator(data, metrics=["auc"])
    with pytest.raises(KeyError, match="no part"):
        Evaluator(data).evaluate(emb, "val")
