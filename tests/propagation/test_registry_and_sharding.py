import pytest
import torch

from pyg_negdiff.data.graph import bipartite_edge_index
from pyg_negdiff.propagation import (
    PROPAGATIONS,
    FullPropagation,
    NeighborPropagation,
    Propagation,
    ShardedPropagation,
    build_propagation,
)


def graph():
    return bipartite_edge_index(torch.tensor([[0, 0, 1], [0, 2, 1]]), num_users=2), 2, 3


def test_every_registered_strategy_is_built_by_name():
    assert PROPAGATIONS == {"full": FullPropagation, "neighbor": NeighborPropagation}
    edge_index, U, I = graph()
    assert isinstance(build_propagation("full", edge_index, U, I), FullPropagation)
    prop = build_propagation(
        "neighbor", edge_index, U, I, num_neighbors=[2], engine="torch", sparse_gradients=False
    )
    assert isinstance(prop, NeighborPropagation) and not prop.sparse_gradients
    with pytest.raises(
        ValueError, match="unknown propagation 'dense'; choose 'full' or 'neighbor'"
    ):
        build_propagation("dense", edge_index, U, I)
    with pytest.raises(ValueError, match="'neighbor' only"):
        build_propagation("full", edge_index, U, I, num_neighbors=[2])
    with pytest.raises(ValueError, match="needs num_neighbors"):
        build_propagation("neighbor", edge_index, U, I)


def test_a_registered_strategy_is_one_class_and_one_entry(monkeypatch):
    class Twice(FullPropagation):
        pass

    monkeypatch.setitem(PROPAGATIONS, "twice", Twice)
    edge_index, U, I = graph()
    assert type(build_propagation("twice", edge_index, U, I)) is Twice


def test_sharding_reads_the_strategy_not_its_candidate_needs():
    edge_index, U, I = graph()
    full, neighbor = FullPropagation(edge_index, U, I), NeighborPropagation(
        edge_index, U, I, [-1], engine="torch"
    )
    assert (full.shardable, full.needs_candidates) == (False, False)
    assert (neighbor.shardable, neighbor.needs_candidates) == (True, True)
    sharded = ShardedPropagation(neighbor, rank=0, world_size=1)
    assert isinstance(sharded, Propagation)
    assert (sharded.num_users, sharded.num_items, sharded.num_nodes) == (U, I, U + I)
    assert sharded.shardable and sharded.needs_candidates
    assert not ShardedPropagation(full, rank=0, world_size=2).shardable


def test_the_old_import_paths_still_work():
    from pyg_negdiff.distributed import ShardedPropagation as old, shard_bounds

    assert old is ShardedPropagation and shard_bounds(5, 2) == [0, 3, 5]
