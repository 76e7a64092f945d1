import pytest
import torch

from pyg_negdiff.data.graph import bipartite_edge_index
from pyg_negdiff.propagation import NeighborPropagation
from pyg_negdiff.propagation.engines import resolve_engine, sample_neighbors, sample_subgraph


def star():
    """Node 0 receives from 1..6; node 1 from 0."""
    col = torch.tensor([1, 2, 3, 4, 5, 6, 0])
    rowptr = torch.tensor([0, 6, 7, 7, 7, 7, 7, 7])
    return col, rowptr


def test_a_capped_fanout_keeps_distinct_neighbours_each_with_probability_k_over_d():
    col, rowptr = star()
    g = torch.Generator().manual_seed(0)
    counts = torch.zeros(7)
    for _ in range(3000):
        src, dst = sample_neighbors(col, rowptr, torch.tensor([0]), 2, g)
        assert src.unique().numel() == 2 and dst.tolist() == [0, 0]
        counts[src] += 1
    assert torch.allclose(counts[1:] / 3000, torch.full((6,), 2 / 6), atol=0.03)


def test_all_neighbours_without_a_cap():
    col, rowptr = star()
    src, dst = sample_neighbors(col, rowptr, torch.tensor([0, 1]), -1)
    assert sorted(src.tolist()) == [0, 1, 2, 3, 4, 5, 6] and dst.tolist() == [0] * 6 + [1]


def test_the_subgraph_puts_seeds_first_and_leaves_the_scratch_map_clean():
    col, rowptr = star()
    local = torch.full((7,), -1, dtype=torch.long)
    node, edge_index = sample_subgraph(col, rowptr, local, [-1, -1], torch.tensor([1]))
    assert node[0] == 1 and sorted(node.tolist()) == list(range(7))
    assert bool((local == -1).all())
    # Every edge points into a node reached one hop earlier.
    assert set(node[edge_index[1]].tolist()) == {0, 1}


def test_the_torch_engine_is_what_neighbor_propagation_samples_with():
    edge_index = bipartite_edge_index(torch.tensor([[0, 0, 1, 2, 2], [0, 2, 1, 1, 2]]), num_users=3)
    prop = NeighborPropagation(edge_index, 3, 3, num_neighbors=[1, 1], engine="torch")
    seeds = torch.tensor([0, 4])
    node, local_edges, _ = prop.sample(seeds, torch.Generator().manual_seed(5))
    expected = sample_subgraph(
        prop.col,
        prop.rowptr,
        prop._local,
        prop.num_neighbors,
        seeds,
        torch.Generator().manual_seed(5),
    )
    assert torch.equal(node, expected[0]) and torch.equal(local_edges, expected[1])


def test_engine_names():
    assert resolve_engine("torch") == "torch"
    with pytest.raises(ValueError, match="unknown neighbour-sampling engine"):
        resolve_engine("fast")
