import doctest
import os
import warnings
from pathlib import Path

import pytest
import torch

from pyg_negdiff.data import splits
from pyg_negdiff.data.diagnostics import gini, shift_report
from pyg_negdiff.data.interactions import DataValidationError, InteractionData
from pyg_negdiff.data.splits import (
    capped_quotas,
    carve_validation,
    split_exposure,
    split_mixed,
    split_popularity,
    split_random,
    split_temporal,
)


# ------------------------------------------------------------------- toy data
def toy(seed=0, U=120, I=60, time=True, env=True):
    """Skewed (Zipf) interactions, user degrees 1..30, unique pairs, random times and envs."""
    g = torch.Generator().manual_seed(seed)
    degree = torch.randint(1, 31, (U,), generator=g)
    degree[:5] = 1  # a few users with a single interaction
    weight = 1.0 / torch.arange(1, I + 1).double()
    items = torch.cat([torch.multinomial(weight, int(d), generator=g) for d in degree])
    users = torch.arange(U).repeat_interleave(degree)
    perm = torch.randperm(users.numel(), generator=g)
    index = torch.stack([users, items])[:, perm]
    ts = {"train": torch.rand(index.size(1), generator=g, dtype=torch.double) * 1e6} if time else {}
    envs = {"train": torch.randint(0, 3, (index.size(1),), generator=g)} if env else {}
    return InteractionData(U, I, {"train": index}, timestamps=ts, env=envs, name="toy")


def keys(index, num_items):
    return set((index[0] * num_items + index[1]).tolist())


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kwargs)


def exposure_toy(seed=0):
    data = toy(seed, time=False, env=False)
    g = torch.Generator().manual_seed(seed + 1)
    rand = torch.stack(
        [
            torch.randint(0, data.num_users, (300,), generator=g),
            torch.randint(0, data.num_items, (300,), generator=g),
        ]
    )
    rand = torch.unique(rand, dim=1)
    return InteractionData(
        data.num_users, data.num_items, {"train": data.train, "test": rand}, name="toy"
    )


SPLITS = {
    "random": lambda d, s: split_random(d, seed=s),
    "popularity": lambda d, s: split_popularity(d, seed=s),
    "popularity_oodval": lambda d, s: split_popularity(d, seed=s, val_from="ood"),
    "popularity_longtail": lambda d, s: split_popularity(d, seed=s, ood_items="tail"),
    "temporal_global": lambda d, s: split_temporal(d, iid_test_ratio=0.1, seed=s),
    "temporal_user": lambda d, s: split_temporal(d, mode="user", seed=s),
    "mixed": lambda d, s: split_mixed(d, iid_test_ratio=0.1, seed=s),
    "mixed_user": lambda d, s: split_mixed(d, mode="user", seed=s),
}


@pytest.mark.parametrize("name", list(SPLITS))
def test_parts_are_disjoint_cover_the_input_and_keep_times(name):
    data = toy()
    out = quiet(SPLITS[name], data, 0)
    I = data.num_items
    seen = set()
    for part, index in out.parts.items():
        k = keys(index, I)
        assert len(k) == index.size(1), f"{part} has repeated pairs"
        assert not (k & seen), f"{part} shares pairs with another part"
        seen |= k
    assert seen <= keys(data.train, I)
    if name in ("random", "popularity", "popularity_oodval", "temporal_user"):
        assert seen == keys(data.train, I)  # nothing is lost
    # timestamps and environments travel with their interactions
    lookup_t = dict(
        zip((data.train[0] * I + data.train[1]).tolist(), data.timestamps["train"].tolist())
    )
    lookup_e = dict(zip((data.train[0] * I + data.train[1]).tolist(), data.env["train"].tolist()))
    for part, index in out.parts.items():
        k = (index[0] * I + index[1]).tolist()
        assert out.timestamps[part].tolist() == [lookup_t[x] for x in k]
        assert out.env[part].tolist() == [lookup_e[x] for x in k]


@pytest.mark.parametrize("name", list(SPLITS) + ["exposure"])
def test_every_evaluation_user_has_training_data(name):
    data = exposure_toy() if name == "exposure" else toy()
    out = (
        quiet(split_exposure, data, seed=0) if name == "exposure" else quiet(SPLITS[name], data, 0)
    )
    for part in out.eval_parts:
        assert out.users_without_train(part).numel() == 0, part


@pytest.mark.parametrize("name", list(SPLITS) + ["exposure"])
def test_same_seed_same_parts_other_seed_other_parts(name):
    data = exposure_toy() if name == "exposure" else toy()
    run = (
        (lambda s: split_exposure(data, seed=s))
        if name == "exposure"
        else (lambda s: SPLITS[name](data, s))
    )
    a, b, c = quiet(run, 3), quiet(run, 3), quiet(run, 4)
    assert a.parts.keys() == b.parts.keys()
    for part in a.parts:
        assert torch.equal(a.parts[part], b.parts[part])
    if name not in ("temporal_user",):  # the per-user time cut has no randomness
        assert any(
            not torch.equal(a.parts[p], c.parts[p])
            for p in a.parts
            if p in c.parts and a.parts[p].shape == c.parts[p].shape
        ) or any(a.parts[p].shape != c.parts[p].shape for p in a.parts if p in c.parts)


# ---------------------------------------------------------------------- random
def test_random_split_ratios_are_per_user():
    data = toy(U=400)
    out = quiet(split_random, data, val_ratio=0.1, test_ratio=0.2, seed=0)
    n = sum(p.size(1) for p in out.parts.values())
    assert abs(out.parts["test"].size(1) / n - 0.2) < 0.02
    assert abs(out.parts["val"].size(1) / n - 0.1) < 0.02
    deg = data.user_degree()
    test_deg = out.user_degree("test")
    big = deg >= 20
    share = test_deg[big].double() / deg[big]
    assert share.min() >= 0.1 and share.max() <= 0.3  # stochastic rounding stays near n * 0.2


def test_users_with_too_little_data_stay_in_train_and_are_reported():
    data = toy()
    single = torch.nonzero(data.user_degree() == 1).view(-1)
    with pytest.warns(UserWarning, match="fewer than 2 interactions"):
        out = split_random(data, seed=0)
    assert any("fewer than 2 interactions" in n for n in out.notes)
    for part in out.eval_parts:
        assert not torch.isin(out.parts[part][0], single).any()
    assert torch.isin(single, out.train[0]).all()
    with pytest.warns(UserWarning, match="fewer than 10 interactions"):
        out = split_random(data, seed=0, min_user_interactions=10)
    few = data.user_degree() < 10
    assert (out.user_degree("test")[few] == 0).all()


def test_repeated_pairs_are_dropped_and_reported():
    data = toy(time=False, env=False)
    dup = InteractionData(
        data.num_users, data.num_items, {"train": data.train, "test": data.train[:, :7]}
    )
    with pytest.warns(UserWarning) as record:
        out = split_random(dup, seed=0)
    assert any("dropped 7 repeated" in str(w.message) for w in record)
    assert sum(p.size(1) for p in out.parts.values()) == data.train.size(1)


def test_bad_ratios_raise():
    with pytest.raises(ValueError, match="leave nothing"):
        split_random(toy(), val_ratio=0.5, test_ratio=0.5)
    with pytest.raises(ValueError, match="must be in"):
        split_random(toy(), test_ratio=-0.1)


# ------------------------------------------------------------------ popularity
def test_capped_quotas_match_a_greedy_loop():
    g = torch.Generator().manual_seed(0)
    for trial in range(20):
        supply = torch.randint(0, 30, (25,), generator=g)
        budget = int(torch.randint(0, int(supply.sum()) + 5, (1,), generator=g))
        quota = capped_quotas(supply, budget, generator=g)
        # the naive water filling: give one to the least-served item that still has supply
        naive = [0] * 25
        for _ in range(min(budget, int(supply.sum()))):
            open_items = [i for i in range(25) if naive[i] < supply[i]]
            i = min(open_items, key=lambda j: naive[j])
            naive[i] += 1
        assert sorted(quota.tolist()) == sorted(naive)
        assert (quota <= supply).all() and int(quota.sum()) == min(budget, int(supply.sum()))
        capped = supply > quota  # items cut by the cap differ by at most one
        if capped.any():
            assert int(quota[capped].max() - quota[capped].min()) <= 1
            assert int(quota[capped].min()) >= int(quota.max()) - 1


def test_popularity_ood_is_flat_and_iid_follows_train():
    data = toy(U=400, I=80, time=False, env=False)
    out = quiet(split_popularity, data, val_ratio=0.1, test_ratio=0.1, ood_ratio=0.1, seed=0)
    n = data.train.size(1)
    assert abs(out.parts["test_ood"].size(1) - round(0.1 * n)) <= 1
    g_train, g_iid, g_ood = (gini(out.item_popularity(p)) for p in ("train", "test", "test_ood"))
    assert g_ood < 0.5 * g_train
    assert abs(g_iid - g_train) < 0.15
    # no item loses more than half of its interactions to the OOD test
    assert (out.item_popularity("test_ood") <= data.item_popularity() // 2).all()


def test_longtail_ood_tests_only_items_outside_the_head():
    data = toy(U=400, I=90, time=False, env=False)
    out = quiet(split_popularity, data, seed=0, ood_items="tail")
    order = torch.sort(-data.item_popularity().double(), stable=True).indices
    head, tail = order[:30], order[30:]  # the top third of 90 items
    ood = out.item_popularity("test_ood")
    assert int(ood[head].sum()) == 0 and int(ood[tail].sum()) > 0
    # the IID parts still hold the head
    assert int(out.item_popularity("test")[head].sum()) > int(
        out.item_popularity("test")[tail].sum()
    )
    # "all" (the default) does test head items
    assert int(quiet(split_popularity, data, seed=0).item_popularity("test_ood")[head].sum()) > 0
    with pytest.raises(ValueError, match="ood_items"):
        split_popularity(data, ood_items="head")
    with pytest.raises(ValueError, match="head_fraction"):
        split_popularity(data, ood_items="tail", head_fraction=1.0)


def test_longtail_is_a_shift_of_the_cli_and_of_prepare_data():
    from pyg_negdiff.data.prepare import SHIFTS, split

    data = toy(U=400, I=90, time=False, env=False)
    assert "longtail" in SHIFTS
    a = quiet(split, data, "longtail", seed=3)
    b = quiet(split_popularity, data, seed=3, ood_items="tail")
    assert all(torch.equal(a.parts[k], b.parts[k]) for k in b.parts)


def test_popularity_validation_from_ood():
    data = toy(U=400, I=80, time=False, env=False)
    out = quiet(split_popularity, data, seed=0, val_from="ood")
    assert gini(out.item_popularity("val")) < 0.7 * gini(out.item_popularity("test"))
    with pytest.raises(ValueError, match="val_from"):
        split_popularity(data, val_from="test")


# -------------------------------------------------------------------- temporal
def test_temporal_global_orders_the_windows():
    out = quiet(split_temporal, toy(), val_ratio=0.1, test_ratio=0.2)
    t = out.timestamps
    assert t["train"].max() < t["val"].min() <= t["val"].max() < t["test_ood"].min()
    assert "test" not in out.parts


def test_temporal_global_ties_go_to_the_later_window():
    data = toy(env=False)
    coarse = {"train": (data.timestamps["train"] / 1e5).floor()}  # 10 distinct times
    out = quiet(
        split_temporal,
        InteractionData(data.num_users, data.num_items, data.parts, timestamps=coarse),
        val_ratio=0.1,
        test_ratio=0.2,
    )
    t = out.timestamps
    assert t["train"].max() < t["test_ood"].min()
    assert t["train"].max() < t["val"].min()


def test_temporal_cold_users_are_dropped_or_kept_and_reported():
    data = toy(env=False)
    with pytest.warns(UserWarning, match="no training one"):
        dropped = split_temporal(data, test_ratio=0.5, val_ratio=0.2)
    with pytest.warns(UserWarning, match="cold-start"):
        kept = split_temporal(data, test_ratio=0.5, val_ratio=0.2, cold_users="keep")
    assert dropped.users_without_train("test_ood").numel() == 0
    assert kept.users_without_train("test_ood").numel() > 0
    assert kept.parts["test_ood"].size(1) > dropped.parts["test_ood"].size(1)


def test_temporal_per_user_is_a_leave_last_out():
    data = toy()
    out = quiet(split_temporal, data, mode="user", val_ratio=0.1, test_ratio=0.2)
    I = data.num_items
    for u in range(data.num_users):
        times = {p: out.timestamps[p][out.parts[p][0] == u] for p in out.parts}
        if times["test_ood"].numel():
            assert times["train"].max() <= times["test_ood"].min()
        if times["val"].numel():
            assert times["train"].max() <= times["val"].min()
    assert keys(torch.cat(list(out.parts.values()), 1), I) == keys(data.train, I)
    deg = data.user_degree()
    assert (out.user_degree("train")[deg > 0] > 0).all()  # every user keeps its first interaction


def test_temporal_without_timestamps_raises_a_clear_error():
    data = toy(time=False)
    with pytest.raises(DataValidationError, match="needs a timestamp.*split_random"):
        split_temporal(data)
    with pytest.raises(DataValidationError, match="timestamp"):
        split_mixed(data)
    partial = InteractionData(
        data.num_users,
        data.num_items,
        {"train": data.train[:, :100], "test": data.train[:, 100:]},
        timestamps={"train": torch.arange(100.0)},
    )
    with pytest.raises(DataValidationError, match=r"\['test'\]"):
        split_temporal(partial)
    with pytest.raises(ValueError, match="mode"):
        split_temporal(toy(), mode="weekly")


# ----------------------------------------------------------------------- mixed
def test_mixed_is_later_and_flatter():
    data = toy(U=400, I=80, env=False)
    temporal = quiet(split_temporal, data)
    mixed = quiet(split_mixed, data, ood_keep=0.5, seed=0)
    assert mixed.timestamps["train"].max() < mixed.timestamps["test_ood"].min()
    assert torch.equal(mixed.parts["train"], temporal.parts["train"])
    assert keys(mixed.parts["test_ood"], 80) <= keys(temporal.parts["test_ood"], 80)
    assert (
        gini(mixed.item_popularity("test_ood")) < gini(temporal.item_popularity("test_ood")) - 0.1
    )
    warm = mixed.item_popularity("train") > 0
    assert warm[mixed.parts["test_ood"][1]].all()  # only items with training data


# -------------------------------------------------------------------- exposure
def test_exposure_keeps_the_random_part_as_ood_test():
    data = exposure_toy()
    I = data.num_items
    mnar, rand = keys(data.parts["train"], I), keys(data.parts["test"], I)
    both = mnar & rand
    assert both  # the toy has pairs that are both user-selected and randomly exposed
    # overlap="test": the random-exposure sample stays whole, minus users left without training data
    out = quiet(split_exposure, data, val_ratio=0.1, seed=0)
    assert "test" not in out.parts
    assert keys(out.parts["train"], I) | keys(out.parts["val"], I) == mnar - both
    users_left = {x // I for x in mnar - both}
    assert keys(out.parts["test_ood"], I) == {x for x in rand if x // I in users_left}
    # overlap="train": the shared pairs are trained on and leave the test; an IID test is carved
    other = quiet(split_exposure, data, seed=0, overlap="train", test_ratio=0.1)
    assert keys(other.parts["test_ood"], I) == rand - both
    assert keys(torch.cat([other.parts[p] for p in ("train", "val", "test")], 1), I) == mnar


def test_exposure_needs_a_random_part():
    data = toy(time=False, env=False)
    with pytest.raises(DataValidationError, match="random_part"):
        split_exposure(data)


def test_carve_validation_leaves_the_test_alone():
    data = exposure_toy()
    out = quiet(carve_validation, data, val_ratio=0.2, seed=0)
    assert torch.equal(out.parts["test"], data.parts["test"])
    I = data.num_items
    assert keys(out.train, I) | keys(out.parts["val"], I) == keys(data.train, I)
    assert not keys(out.train, I) & keys(out.parts["val"], I)
    with pytest.raises(ValueError, match="already has a 'val'"):
        carve_validation(out)


def test_doctests():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the examples' notes
        assert doctest.testmod(splits).failed == 0


# ------------------------------------------------------------------ real data
DATA_ROOT = Path(
    os.environ.get("PYG_NEGDIFF_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def load(name):
    """A built-in dataset through the library's loader, or skip when the files are absent."""
    if not (DATA_ROOT / name).is_dir():
        pytest.skip(f"{name} not found under {DATA_ROOT}")
    io = pytest.importorskip("pyg_negdiff.data.io")
    return quiet(io.load_builtin, name, root=DATA_ROOT)


def test_ml100k_temporal_split_never_tests_on_the_past():
    data = load("ml-100k")
    out = quiet(split_temporal, data)
    t = out.timestamps
    assert t["train"].max() < t["val"].min()
    assert t["train"].max() < t["test_ood"].min()
    assert t["val"].max() < t["test_ood"].min()
    user_mode = quiet(split_temporal, data, mode="user")
    assert user_mode.parts["test_ood"][0].unique().numel() > 0.9 * data.num_users


@pytest.mark.slow
def test_ml1m_popularity_ood_is_much_flatter():
    data = load("ml-1m")
    out = quiet(split_popularity, data, seed=0)
    report = shift_report(out, baseline_draws=1)
    train, iid, ood = (report.parts[p] for p in ("train", "test", "test_ood"))
    assert ood.gini < 0.5 * train.gini
    assert abs(iid.gini - train.gini) < 0.05
    assert ood.kl > 10 * iid.kl
    assert ood.group_share["tail"] > 4 * iid.group_share["tail"]


@pytest.mark.parametrize(
    "name, train, test, users, items",
    [("coat", 1905, 840, 290, None), ("yahoo-r3", 125077, 4671, None, 1000)],
)
def test_exposure_datasets_keep_their_published_sizes(name, train, test, users, items):
    data = load(name)
    assert data.parts["train"].size(1) == train and data.parts["test"].size(1) == test
    if users is not None:
        assert data.num_users == users
    if items is not None:
        assert data.num_items == items
    out = quiet(split_exposure, data, seed=0, overlap="train")
    both = len(keys(data.parts["train"], data.num_items) & keys(data.parts["test"], data.num_items))
    assert out.parts["train"].size(1) + out.parts["val"].size(1) == train
    dropped_cold = sum(
        int(n.split(" their ")[1].split()[0]) for n in out.notes if "no training one" in n
    )
    assert out.parts["test_ood"].size(1) == test - both - dropped_cold
