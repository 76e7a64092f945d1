import warnings

import pytest
import torch
from torch_geometric.data import HeteroData

from pyg_negdiff.data.hetero import from_hetero, to_hetero
from pyg_negdiff.data.interactions import DataValidationError, InteractionData
from pyg_negdiff.data.synthetic import make_synthetic


def assert_same(a: InteractionData, b: InteractionData) -> None:
    assert (a.num_users, a.num_items) == (b.num_users, b.num_items)
    assert list(a.parts) == list(b.parts)
    for part in a.parts:
        assert torch.equal(a.parts[part], b.parts[part]), part
    for mine, theirs in ((a.timestamps, b.timestamps), (a.env, b.env)):
        assert sorted(mine) == sorted(theirs)
        for part in mine:
            assert torch.equal(mine[part], theirs[part]), part
    if a.true_positives is None:
        assert b.true_positives is None
    else:
        assert torch.equal(a.true_positives, b.true_positives)


def test_layout_follows_pyg_recommender_datasets():
    data = make_synthetic(num_users=60, num_items=50, seed=1)
    hetero = to_hetero(data, item_type="book")
    assert set(hetero.node_types) == {"user", "book"}
    assert hetero["user"].num_nodes == 60 and hetero["book"].num_nodes == 50
    assert hetero.edge_types == [("user", "rates", "book"), ("book", "rated_by", "user")]
    store = hetero["user", "rates", "book"]
    assert torch.equal(store.edge_index, data.train)  # train: message passing edges
    assert torch.equal(store.edge_label_index, data.parts["test"])  # test: supervision edges
    assert torch.equal(store.val_edge_label_index, data.parts["val"])
    assert torch.equal(store.env, data.env["train"])
    assert torch.equal(hetero["book", "rated_by", "user"].edge_index, data.train.flip([0]))
    hetero.validate()  # PyG's own consistency check


def test_round_trip_synthetic_and_timestamps():
    data = make_synthetic(num_users=80, num_items=60, seed=2)
    assert_same(data, from_hetero(to_hetero(data)))
    g = torch.Generator().manual_seed(0)
    index = torch.stack([torch.arange(10), torch.randint(0, 7, (10,), generator=g)])
    timed = InteractionData(
        10,
        7,
        {"train": index, "test": index[:, :3].flip([1])},
        timestamps={
            "train": torch.rand(10, dtype=torch.float64, generator=g),
            "test": torch.arange(3.0, dtype=torch.float64),
        },
    )
    hetero = to_hetero(timed, item_type="movie", reverse_relation=None)
    assert hetero.edge_types == [("user", "rates", "movie")]
    assert torch.equal(hetero["user", "rates", "movie"].time, timed.timestamps["train"])
    assert_same(timed, from_hetero(hetero))


def movielens_like():
    """The layout `torch_geometric.datasets.MovieLens100K.process` writes (no download)."""
    hetero = HeteroData()
    hetero["user"].x = torch.randn(4, 3)
    hetero["movie"].x = torch.randn(6, 2)
    edge_index = torch.tensor([[0, 1, 2, 3, 3], [0, 1, 5, 2, 4]])
    store = hetero["user", "rates", "movie"]
    store.edge_index = edge_index
    store.rating = torch.tensor([5, 2, 4, 3, 4])
    store.time = torch.tensor([100, 200, 300, 400, 500])
    hetero["movie", "rated_by", "user"].edge_index = edge_index.flip([0])
    store.edge_label_index = torch.tensor([[0, 2], [3, 3]])
    store.edge_label = torch.tensor([4.0, 1.0])
    return hetero


def test_from_movielens_layout_with_rating_threshold():
    hetero = movielens_like()
    data = from_hetero(hetero)  # ratings are not 0/1: every edge kept
    assert (data.num_users, data.num_items) == (4, 6)  # from the feature matrices
    assert data.train.size(1) == 5 and data.parts["test"].size(1) == 2
    assert data.timestamps["train"].dtype == torch.float64
    with pytest.warns(UserWarning, match="kept 3 of 5 edges with rating >= 4"):
        implicit = from_hetero(hetero, min_rating=4, name="ml")
    assert implicit.train.tolist() == [[0, 2, 3], [0, 5, 4]]
    assert implicit.timestamps["train"].tolist() == [100.0, 300.0, 500.0]
    assert implicit.parts["test"].tolist() == [[0], [3]]


def test_binary_labels_drop_sampled_negatives():
    hetero = movielens_like()
    store = hetero["user", "rates", "movie"]
    del store.rating
    store.edge_label = torch.tensor([1.0, 0.0])  # RandomLinkSplit: 0 marks a negative
    with pytest.warns(UserWarning, match="dropped 1 edges labelled 0"):
        data = from_hetero(hetero)
    assert data.parts["test"].tolist() == [[0], [3]]


def test_reads_random_link_split_output():
    from torch_geometric.transforms import RandomLinkSplit

    data = make_synthetic(num_users=60, num_items=50, seed=3)
    hetero = HeteroData({"user": {"num_nodes": 60}, "item": {"num_nodes": 50}})
    hetero["user", "rates", "item"].edge_index = data.train
    hetero["item", "rated_by", "user"].edge_index = data.train.flip([0])
    split = RandomLinkSplit(
        num_val=0.1,
        num_test=0.2,
        edge_types=("user", "rates", "item"),
        rev_edge_types=("item", "rated_by", "user"),
    )
    torch.manual_seed(0)
    _, _, test = split(hetero)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = from_hetero(test)
    store = test["user", "rates", "item"]
    positives = store.edge_label_index[:, store.edge_label == 1]
    assert torch.equal(out.parts["test"], positives)
    assert torch.equal(out.train, store.edge_index)


def test_edge_type_detection():
    hetero = movielens_like()
    hetero["user", "follows", "user"].edge_index = torch.tensor([[0], [1]])
    hetero["user", "clicks", "movie"].edge_index = torch.tensor([[1], [2]])
    with pytest.raises(DataValidationError, match="pass edge_type="):
        from_hetero(hetero)
    data = from_hetero(hetero, edge_type=("user", "clicks", "movie"))
    assert data.train.tolist() == [[1], [2]] and data.num_items == 6
    with pytest.raises(DataValidationError, match="no edge type"):
        from_hetero(hetero, edge_type=("user", "buys", "movie"))


def test_ids_decide_sizes_without_num_nodes():
    hetero = HeteroData()
    hetero["user", "rates", "item"].edge_index = torch.tensor([[0, 4], [2, 1]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = from_hetero(hetero)
    assert (data.num_users, data.num_items) == (5, 3)
