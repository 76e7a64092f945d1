"""Data-parallel training: 2 gloo processes equal 1 process with the same global batch."""
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from pyg_negdiff.data.graph import bipartite_edge_index
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.distributed import broadcast_flag, rank_and_world, shard_bounds
from pyg_negdiff.nn import LightGCN
from pyg_negdiff.propagation import NeighborPropagation
from pyg_negdiff.sampling import build_sampler
from pyg_negdiff.train import Trainer

CASES = [("uniform", "full"), ("uniform", "neighbor"), ("cnsdiff", "full"), ("cnsdiff", "neighbor"),
         ("dns", "sampled")]
SAMPLER_KW = {"uniform": {}, "dns": {"num_candidates": 4},
              "cnsdiff": {"embedding_dim": 8, "num_steps": 4, "start_step": 1, "max_step": 4, "step_stride": 1,
                          "probe": True}}


def tiny_data(seed=0, U=40, I=30):
    g = torch.Generator().manual_seed(seed)
    like = torch.rand(U, I, generator=g) < 0.3
    index = like.nonzero().t()
    index = index[:, torch.randperm(index.size(1), generator=g)]
    n = index.size(1)
    return InteractionData(U, I, {"train": index[:, :int(0.8 * n)], "val": index[:, int(0.8 * n):]})


def make_trainer(sampler_name, mode, **kw):
    data = tiny_data()
    torch.manual_seed(0)
    model = LightGCN(data.num_users, data.num_items, embedding_dim=8, num_layers=2)
    sampler = build_sampler(sampler_name, data.train_pairs(), **SAMPLER_KW[sampler_name])
    prop = None
    if mode != "full":
        prop = NeighborPropagation(bipartite_edge_index(data.train, data.num_users), data.num_users,
                                   data.num_items, [-1, -1] if mode == "neighbor" else [3, 2])
    return Trainer(model, sampler, data, lr=1e-2, batch_size=48, epochs=2, eval_every=1, patience=None,
                   seed=0, progress=False, propagation=prop, **kw)


def trained_state(sampler_name, mode):
    trainer = make_trainer(sampler_name, mode)
    for epoch in range(2):
        trainer.train_epoch(epoch)
    return {"model": {k: v.clone() for k, v in trainer.model.state_dict().items()},
            "sampler": {k: v.clone() for k, v in trainer.sampler.state_dict().items() if torch.is_tensor(v)}}


def worker(rank, world_size, init_file, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        states = {f"{s}-{m}": trained_state(s, m) for s, m in CASES}
        result = make_trainer("uniform", "neighbor").fit()
        states["fit"] = {"test": result.test, "history": len(result.history), "val": result.best_val,
                         "flag": broadcast_flag(rank == 0), "world": rank_and_world()}
        torch.save(states, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    mp.spawn(worker, args=(2, str(tmp / "init"), str(tmp)), nprocs=2, join=True)
    return [torch.load(tmp / f"rank{r}.pt", weights_only=False) for r in range(2)]


@pytest.mark.parametrize("sampler_name,mode", CASES[:4])
def test_two_processes_equal_one_process(two_ranks, sampler_name, mode):
    single = trained_state(sampler_name, mode)
    for rank in two_ranks:
        got = rank[f"{sampler_name}-{mode}"]
        for part in ("model", "sampler"):  # the denoiser (CNSDiff's own Adam) included
            assert got[part].keys() == single[part].keys()
            for key in single[part]:
                torch.testing.assert_close(got[part][key], single[part][key], atol=1e-5, rtol=1e-4)


def test_sampled_fanout_keeps_ranks_in_sync(two_ranks):
    a, b = (rank["dns-sampled"]["model"]["embedding.weight"] for rank in two_ranks)
    assert torch.equal(a, b)  # same averaged gradient on every rank
    single = trained_state("dns", "sampled")["model"]["embedding.weight"]
    assert not torch.allclose(a, single)  # per-rank neighbour seeds: a different (reproducible) run


def test_only_rank_zero_evaluates(two_ranks):
    main, other = two_ranks[0]["fit"], two_ranks[1]["fit"]
    assert main["world"] == (0, 2) and other["world"] == (1, 2)
    assert main["flag"] and other["flag"]  # rank 0's value reached rank 1
    assert main["test"] == {} and main["val"]  # tiny data: no test part, but validation ran
    assert other["val"] == {} and other["history"] == main["history"] == 2
    single = make_trainer("uniform", "neighbor").fit()
    assert main["val"] == pytest.approx(single.best_val, abs=1e-6)


def test_shards_cover_the_batch():
    assert shard_bounds(5, 2) == [0, 3, 5] and shard_bounds(1, 3) == [0, 1, 1, 1]
    assert shard_bounds(0, 2) == [0, 0, 0]
