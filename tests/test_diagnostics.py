import doctest
import json
import math
import sys
import warnings

import pytest
import torch

from pyg_negdiff.data import diagnostics
from pyg_negdiff.data.diagnostics import (
    GROUP_NAMES,
    gini,
    interaction_groups,
    item_groups,
    kl_divergence,
    plot_popularity,
    shift_report,
)
from pyg_negdiff.data.interactions import InteractionData


def skewed(seed=0, U=200, I=50, n=3000, time=True):
    """Zipf-like training part, a uniform 'test_ood', and an IID 'test'."""
    g = torch.Generator().manual_seed(seed)
    weight = 1.0 / torch.arange(1, I + 1).double()
    train = torch.stack(
        [
            torch.randint(0, U, (n,), generator=g),
            torch.multinomial(weight, n, replacement=True, generator=g),
        ]
    )
    test = torch.stack(
        [
            torch.randint(0, U, (n // 4,), generator=g),
            torch.multinomial(weight, n // 4, replacement=True, generator=g),
        ]
    )
    ood = torch.stack(
        [torch.randint(0, U, (n // 4,), generator=g), torch.randint(0, I, (n // 4,), generator=g)]
    )
    ts = {}
    if time:
        ts = {
            "train": torch.linspace(0, 100, n),
            "test": torch.linspace(0, 100, n // 4),
            "test_ood": torch.linspace(200, 300, n // 4),
        }
    return InteractionData(
        U, I, {"train": train, "test": test, "test_ood": ood}, timestamps=ts, name="skewed"
    )


def test_gini_matches_the_mean_absolute_difference():
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        x = torch.randint(0, 50, (17,), generator=g)
        naive = sum(abs(a - b) for a in x.tolist() for b in x.tolist()) / (
            2 * x.numel() * int(x.sum())
        )
        assert gini(x) == pytest.approx(naive)
    assert gini(torch.zeros(5)) == 0.0
    assert gini(torch.tensor([0, 0, 0, 9])) == pytest.approx(0.75)


def test_kl_matches_a_loop_and_smoothing_keeps_it_finite():
    p = torch.tensor([3, 0, 1, 6])
    q = torch.tensor([1, 2, 0, 7])
    alpha = 0.5
    qs = [(v + alpha) / (int(q.sum()) + alpha * 4) for v in q.tolist()]
    naive = sum((a / 10) * math.log((a / 10) / b) for a, b in zip(p.tolist(), qs) if a > 0)
    assert kl_divergence(p, q, smoothing=alpha) == pytest.approx(naive)
    assert kl_divergence(p, q, smoothing=0.0) == math.inf
    assert kl_divergence(q, q, smoothing=0.0) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="items"):
        kl_divergence(p, q[:3])


def test_item_groups_by_items_and_by_interactions():
    data = skewed()
    pop = data.item_popularity()
    groups = item_groups(data)
    counts = torch.bincount(groups, minlength=3).tolist()
    assert counts == [10, 15, 25]  # 20% / 30% / 50% of 50 items
    for a, b in ((0, 1), (1, 2)):
        assert pop[groups == a].min() >= pop[groups == b].max()
    # by mass, with a naive loop over items in popularity order
    by_mass = item_groups(data, head=1 / 3, mid=1 / 3, by="interactions")
    order = sorted(range(50), key=lambda i: (-int(pop[i]), i))
    total, before = int(pop.sum()), 0
    for i in order:
        expected = 0 if before / total < 1 / 3 else 1 if before / total < 2 / 3 else 2
        assert int(by_mass[i]) == (2 if pop[i] == 0 else expected)
        before += int(pop[i])
    with pytest.raises(ValueError, match="by"):
        item_groups(data, by="users")


def test_unseen_items_are_tail_and_interaction_groups_follow_items():
    data = InteractionData(
        3,
        10,
        {
            "train": torch.tensor([[0, 1, 2], [0, 0, 1]]),
            "test": torch.tensor([[0, 1, 2], [9, 0, 1]]),
        },
    )
    groups = item_groups(data, head=0.5, mid=0.3)  # 5 head slots, but only 2 items were seen
    assert groups.tolist() == [0, 0] + [2] * 8
    assert interaction_groups(data, "test", head=0.5, mid=0.3).tolist() == [2, 0, 0]


def test_shift_report_numbers():
    data = skewed()
    report = shift_report(data)
    assert list(report.parts) == ["train", "test", "test_ood"]
    train, iid, ood = (report.parts[p] for p in ("train", "test", "test_ood"))
    assert train.kl is None and train.kl_iid is None
    assert ood.kl == pytest.approx(
        kl_divergence(data.item_popularity("test_ood"), data.item_popularity())
    )
    assert ood.gini == pytest.approx(gini(data.item_popularity("test_ood")))
    assert ood.gini < 0.5 * train.gini and ood.kl > 5 * iid.kl
    # an IID part is close to its IID baseline, the shifted one is far from it
    assert iid.kl < 2 * iid.kl_iid  # (the baseline ignores the noise of train itself)
    assert ood.kl > 3 * ood.kl_iid
    groups = item_groups(data)
    for name, part in (("test", iid), ("test_ood", ood)):
        share = torch.bincount(groups[data.parts[name][1]], minlength=3).double() / data.parts[
            name
        ].size(1)
        assert [part.group_share[g] for g in GROUP_NAMES] == pytest.approx(share.tolist())
        assert sum(part.group_share.values()) == pytest.approx(1.0)
    assert ood.group_share["tail"] > 2 * iid.group_share["tail"]
    assert ood.time_range == (200.0, 300.0)
    assert train.interactions == 3000 and train.users == data.train[0].unique().numel()


def test_shift_report_counts_cold_users_and_items():
    data = InteractionData(
        4,
        5,
        {
            "train": torch.tensor([[0, 1, 1], [0, 0, 1]]),
            "test": torch.tensor([[0, 2, 3, 3], [4, 0, 1, 4]]),
        },
    )
    part = shift_report(data).parts["test"]
    assert part.cold_users == 2  # users 2 and 3
    assert part.cold_item_share == pytest.approx(0.5)  # item 4, twice
    assert part.time_range is None


def test_shift_report_str_and_dict():
    data = skewed()
    report = shift_report(data)
    text = str(report)
    for word in ("train", "test_ood", "Gini", "KL", "head", "tail", "time range", "skewed"):
        assert word in text
    lines = text.splitlines()
    assert sum(l.startswith(("train", "test ", "test_ood")) for l in lines) == 3
    back = json.loads(json.dumps(report.to_dict()))
    assert back["parts"]["test_ood"]["time_range"] == [200.0, 300.0]
    assert back["reference"] == "train"
    no_time = str(shift_report(skewed(time=False)))
    assert "time range" not in no_time
    with pytest.raises(KeyError, match="no part"):
        shift_report(data, reference="val")


def test_plot_popularity_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = plot_popularity(skewed(), tmp_path / "sub" / "pop.png")
    assert path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_popularity_without_matplotlib_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pyg-negdiff\[plot\]"):
        plot_popularity(skewed(), tmp_path / "pop.png")


def test_doctests():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert doctest.testmod(diagnostics).failed == 0
