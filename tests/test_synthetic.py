import doctest

import pytest
import torch

from pyg_negdiff.data import synthetic
from pyg_negdiff.data.diagnostics import gini
from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.data.synthetic import false_negative_share, make_synthetic


@pytest.fixture(scope="module")
def data():
    return make_synthetic(seed=0)  # the default, bundled size


def keys(index, num_items):
    return set((index[0] * num_items + index[1]).tolist())


def test_parts_envs_and_every_user_trains(data):
    assert list(data.parts) == ["train", "val", "test", "test_ood"]
    assert (data.num_users, data.num_items) == (1000, 800)
    assert bool((data.user_degree("train") > 0).all())
    for part, index in data.parts.items():
        assert data.env[part].shape == (index.size(1),)
        assert torch.equal(data.env[part], data.item_env[index[1]])  # env = the item's tier
        assert data.truth.conformity[part].shape == (index.size(1),)
    # Equal-size popularity tiers, ordered by popularity.
    assert torch.bincount(data.item_env).tolist() == [267, 267, 266]
    z = data.truth.item_popularity
    assert z[data.item_env == 0].max() < z[data.item_env == 1].min()
    # Parts are disjoint.
    sets = {p: keys(i, data.num_items) for p, i in data.parts.items()}
    names = list(sets)
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            assert not sets[names[a]] & sets[names[b]], (names[a], names[b])
    # The IID evaluation parts hold about val_ratio / test_ratio of the observed data.
    total = sum(data.parts[p].size(1) for p in ("train", "val", "test"))
    assert abs(data.parts["val"].size(1) / total - 0.1) < 0.01


def test_true_positives_and_confounding(data):
    tp = data.true_positives
    assert tp.shape == (2, 1000 * 40)  # 5% of 800 items per user
    assert torch.bincount(tp[0]).tolist() == [40] * 1000
    truth = PairSet(tp, data.num_users, data.num_items)
    # Observed = liked and shown, plus conformity clicks on items the user does not like.
    for part in ("train", "val", "test"):
        index = data.parts[part]
        liked = truth.contains(index[0], index[1])
        assert torch.equal(liked, ~data.truth.conformity[part])
    conform = data.train[1][data.truth.conformity["train"]]
    share = float(data.truth.conformity["train"].double().mean())
    assert 0.1 < share < 0.4
    # Conformity clicks go to popular items.
    assert float((data.item_env[conform] == 2).double().mean()) > 0.7
    # Many true positives are unobserved in training, popular ones included: these
    # are what a score-based sampler can draw as false hard negatives.
    assert false_negative_share(data) > 0.4
    unseen = ~data.train_pairs().contains(tp[0], tp[1])
    head = data.item_env[tp[1]] == 2
    assert float(unseen[head].double().mean()) > 0.2
    assert int((unseen & head).sum()) > 5000
    # Exposure rises with popularity.
    exposure = data.truth.item_exposure
    assert exposure[data.item_env == 2].mean() > 3 * exposure[data.item_env == 0].mean()


def test_ood_test_is_liked_unseen_and_flatter(data):
    ood = data.parts["test_ood"]
    truth = PairSet(data.true_positives, data.num_users, data.num_items)
    assert bool(truth.contains(ood[0], ood[1]).all())
    assert data.truth.conformity["test_ood"].sum() == 0
    g_train = gini(data.item_popularity("train").double())
    g_ood = gini(data.item_popularity("test_ood").double())
    assert g_ood < g_train - 0.08
    # The tail tier is far better represented under uniform exposure.
    share = {p: float((data.env[p] == 0).double().mean()) for p in ("train", "test_ood")}
    assert share["test_ood"] > 2 * share["train"]


def test_deterministic_under_seed():
    a, b = make_synthetic(200, 150, seed=5), make_synthetic(200, 150, seed=5)
    c = make_synthetic(200, 150, seed=6)
    for part in a.parts:
        assert torch.equal(a.parts[part], b.parts[part]) and torch.equal(a.env[part], b.env[part])
    assert torch.equal(a.true_positives, b.true_positives)
    assert not torch.equal(a.true_positives, c.true_positives)


def test_no_confounding_without_popularity():
    data = make_synthetic(
        300, 200, popularity_strength=0.0, preference_popularity=0.0, ood_exposure=1.0, seed=0
    )
    exposure = data.truth.item_exposure
    assert torch.allclose(exposure, exposure[0].expand_as(exposure))
    # Without the confounder every tier gets about a third of train and of test_ood alike.
    for part in ("train", "test_ood"):
        shares = torch.bincount(data.env[part], minlength=3).double() / data.env[part].numel()
        assert (shares - 1 / 3).abs().max() < 0.06, (part, shares)


def test_small_and_invalid_settings():
    data = make_synthetic(20, 30, embedding_dim=4, num_envs=2, true_ratio=0.1, seed=0)
    assert bool((data.user_degree("train") > 0).all())
    assert int(data.env["train"].max()) <= 1
    with pytest.raises(ValueError, match="num_envs"):
        make_synthetic(10, 5, num_envs=6)
    with pytest.raises(ValueError, match="val_ratio"):
        make_synthetic(10, 5, val_ratio=0.5, test_ratio=0.5)


def test_doctests():
    assert doctest.testmod(synthetic).failed == 0
