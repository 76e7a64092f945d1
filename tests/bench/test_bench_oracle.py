import torch

from pyg_negdiff.bench.oracle import OracleSelection, oracle_choice
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.metrics import Evaluator, random_ranking


def data(seed=0, U=40, I=30):
    g = torch.Generator().manual_seed(seed)
    pairs = torch.unique(
        torch.stack(
            [torch.randint(0, U, (600,), generator=g), torch.randint(0, I, (600,), generator=g)]
        ),
        dim=1,
    )
    perm = torch.randperm(pairs.size(1), generator=g)
    pairs = pairs[:, perm]
    n = pairs.size(1)
    return InteractionData(
        U,
        I,
        {
            "train": pairs[:, : n // 2],
            "val": pairs[:, n // 2 : 3 * n // 4],
            "test_ood": pairs[:, 3 * n // 4 :],
        },
    )


def test_halves_split_the_users_of_the_shifted_part_in_two():
    d = data()
    oracle = OracleSelection(d, seed=1)
    sel, ev = oracle.halves["select"], oracle.halves["eval"]
    assert sel.size(1) + ev.size(1) == d.parts["test_ood"].size(1)
    users_s, users_e = set(sel[0].tolist()), set(ev[0].tolist())
    assert not users_s & users_e
    assert abs(len(users_s) - len(users_e)) <= 1
    # another seed, another split; the same seed, the same split
    assert not torch.equal(OracleSelection(d, seed=2).halves["select"], sel)
    assert torch.equal(OracleSelection(d, seed=1).halves["select"], sel)


def test_half_scores_equal_a_direct_evaluation_restricted_to_those_users():
    d = data()
    oracle = OracleSelection(d, seed=0)
    emb = random_ranking(d, seed=3)
    scores = oracle.scores(emb)
    for half in ("select", "eval"):
        alone = InteractionData(
            d.num_users,
            d.num_items,
            {"train": d.train, "val": d.parts["val"], "test_ood": oracle.halves[half]},
        )
        assert abs(Evaluator(alone, ks=[20])(emb, "test_ood")["ndcg@20"] - scores[half]) < 1e-7


def test_oracle_choice_is_the_argmax_of_the_selection_half_like_a_loop():
    g = torch.Generator().manual_seed(0)
    curves = {
        "epoch": list(range(0, 20, 2)),
        "select": torch.rand(10, generator=g).tolist(),
        "eval": torch.rand(10, generator=g).tolist(),
    }
    choice = oracle_choice(curves, at_epoch=6)
    best_i, best_v = 0, -1.0
    for i, v in enumerate(curves["select"]):
        if v > best_v:
            best_i, best_v = i, v
    assert choice["epoch"] == curves["epoch"][best_i]
    assert choice["eval"] == curves["eval"][best_i]
    assert choice["eval_at"] == curves["eval"][3]
    assert oracle_choice({"epoch": [], "select": [], "eval": []}) == {}
