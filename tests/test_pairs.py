import pytest
import torch

from pyg_negdiff.data.pairs import PairSet


def random_pairs(num_users=40, num_items=25, num=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.stack(
        [
            torch.randint(0, num_users, (num,), generator=g),
            torch.randint(0, num_items, (num,), generator=g),
        ]
    )


def test_contains_matches_python_set():
    index = random_pairs()
    s = PairSet(index, 40, 25)
    truth = set(map(tuple, index.t().tolist()))
    users = torch.arange(40).repeat_interleave(25)
    items = torch.arange(25).repeat(40)
    got = s.contains(users, items)
    expected = torch.tensor([(u, i) in truth for u, i in zip(users.tolist(), items.tolist())])
    assert torch.equal(got, expected)
    assert len(s) == len(truth)


def test_rows_lists_each_users_items():
    index = random_pairs()
    s = PairSet(index, 40, 25)
    users = torch.tensor([7, 0, 39, 7])
    row, col = s.rows(users)
    truth = set(map(tuple, index.t().tolist()))
    for r, u in enumerate(users.tolist()):
        expected = sorted(i for (uu, i) in truth if uu == u)
        assert col[row == r].tolist() == expected


def test_sample_complement_never_returns_a_positive_and_is_uniform():
    index = random_pairs(num=600)
    s = PairSet(index, 40, 25)
    g = torch.Generator().manual_seed(1)
    users = torch.arange(40).repeat_interleave(100)
    neg = s.sample_complement(users, 5, generator=g)
    assert neg.shape == (4000, 5)
    assert not s.contains(users.unsqueeze(-1).expand_as(neg), neg).any()
    # Uniform over user 0's non-positives: every free item is hit, with similar counts.
    draws = s.sample_complement(torch.zeros(20000, dtype=torch.long), 1, generator=g).flatten()
    counts = torch.bincount(draws, minlength=25)
    free = ~s.contains(torch.zeros(25, dtype=torch.long), torch.arange(25))
    assert (counts[~free] == 0).all()
    expected = 20000 / int(free.sum())
    assert ((counts[free] - expected).abs() < 0.15 * expected).all()


def test_sample_complement_is_seeded():
    s = PairSet(random_pairs(), 40, 25)
    users = torch.arange(40)
    a = s.sample_complement(users, 3, generator=torch.Generator().manual_seed(5))
    b = s.sample_complement(users, 3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_user_with_every_item_gets_clear_error():
    index = torch.stack([torch.zeros(5, dtype=torch.long), torch.arange(5)])
    s = PairSet(index, 2, 5)
    with pytest.raises(ValueError, match="every item"):
        s.sample_complement(torch.tensor([1, 0]), 1)
