"""Data-parallel training: 2 gloo processes equal 1 process with the same global batch;
rank 0's exceptions reach the other ranks; a distributed run resumes where it stopped."""

import faulthandler
import time

import optuna
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from pyg_negdiff.data.graph import bipartite_edge_index
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.distributed import EpochDecision, broadcast_decision, rank_and_world, shard_bounds
from pyg_negdiff.nn import LightGCN
from pyg_negdiff.propagation import NeighborPropagation
from pyg_negdiff.sampling import build_sampler
from pyg_negdiff.train import Trainer, read_checkpoint

CASES = [
    ("uniform", "full"),
    ("uniform", "neighbor"),
    ("cnsdiff", "full"),
    ("cnsdiff", "neighbor"),
    ("dns", "sampled"),
]
SAMPLER_KW = {
    "uniform": {},
    "dns": {"num_candidates": 4},
    "cnsdiff": {
        "embedding_dim": 8,
        "num_steps": 4,
        "start_step": 1,
        "max_step": 4,
        "step_stride": 1,
        "probe": True,
    },
}


def tiny_data(seed=0, U=40, I=30):
    g = torch.Generator().manual_seed(seed)
    like = torch.rand(U, I, generator=g) < 0.3
    index = like.nonzero().t()
    index = index[:, torch.randperm(index.size(1), generator=g)]
    n = index.size(1)
    return InteractionData(
        U, I, {"train": index[:, : int(0.8 * n)], "val": index[:, int(0.8 * n) :]}
    )


def make_trainer(sampler_name, mode, epochs=2, **kw):
    data = tiny_data()
    torch.manual_seed(0)
    model = LightGCN(data.num_users, data.num_items, embedding_dim=8, num_layers=2)
    sampler = build_sampler(sampler_name, data.train_pairs(), **SAMPLER_KW[sampler_name])
    prop = None
    if mode != "full":
        prop = NeighborPropagation(
            bipartite_edge_index(data.train, data.num_users),
            data.num_users,
            data.num_items,
            [-1, -1] if mode == "neighbor" else [3, 2],
        )
    return Trainer(
        model,
        sampler,
        data,
        lr=1e-2,
        batch_size=48,
        epochs=epochs,
        eval_every=1,
        patience=None,
        seed=0,
        progress=False,
        propagation=prop,
        **kw,
    )


def trained_state(sampler_name, mode):
    trainer = make_trainer(sampler_name, mode)
    for epoch in range(2):
        trainer.train_epoch(epoch)
    return {
        "model": {k: v.clone() for k, v in trainer.model.state_dict().items()},
        "sampler": {
            k: v.clone() for k, v in trainer.sampler.state_dict().items() if torch.is_tensor(v)
        },
    }


def worker(rank, world_size, init_file, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size
    )
    try:
        states = {f"{s}-{m}": trained_state(s, m) for s, m in CASES}
        result = make_trainer("uniform", "neighbor").fit()
        states["fit"] = {
            "test": result.test,
            "history": len(result.history),
            "val": result.best_val,
            "decision": broadcast_decision(EpochDecision(rank + 1)),
            "world": rank_and_world(),
        }
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
    assert (
        main["decision"] == other["decision"] == EpochDecision.STOP
    )  # rank 0's value reached rank 1
    assert main["test"] == {} and main["val"]  # tiny data: no test part, but validation ran
    assert other["val"] == {} and other["history"] == main["history"] == 2
    single = make_trainer("uniform", "neighbor").fit()
    assert main["val"] == pytest.approx(single.best_val, abs=1e-6)


def test_shards_cover_the_batch():
    assert shard_bounds(5, 2) == [0, 3, 5] and shard_bounds(1, 3) == [0, 1, 1, 1]
    assert shard_bounds(0, 2) == [0, 0, 0]


# ------------------------------------------------ rank 0's exceptions, resuming under DDP
#: Seconds the two ranks get (they need about 20 on a loaded 2-core machine); a hang fails, not blocks.
TIMEOUT_S = 180


def prune_at_first_evaluation(epoch, val):
    raise optuna.TrialPruned(f"pruned at epoch {epoch}")


class Interrupt:
    """Stops the run like Ctrl-C after a given epoch (called on rank 0 only)."""

    def __init__(self, after):
        self.after = after

    def __call__(self, epoch, val):
        if epoch == self.after:
            raise KeyboardInterrupt


def params(trainer):
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def abort_and_resume(rank, out_dir):
    """What each rank sees: a callback raising on rank 0, then a run interrupted and resumed."""
    out = {}
    try:  # a callback raising on rank 0, as an Optuna pruning callback does
        make_trainer("uniform", "sampled", callbacks=[prune_at_first_evaluation]).fit()
    except BaseException as exc:  # noqa: BLE001 - recorded for the test
        out["abort"] = (type(exc).__name__, str(exc))
    total = torch.tensor([rank + 1.0])
    dist.all_reduce(total)  # the ranks are still in step: the next collective matches
    out["after_abort"] = total.item()
    # Small fan-outs: the per-rank sampling streams change what is trained.
    full = make_trainer("dns", "sampled", epochs=4, checkpoint_path=f"{out_dir}/full.pt")
    out["full_history"] = [h.loss for h in full.fit().history]
    out["full"] = params(full)
    cut = make_trainer(
        "dns",
        "sampled",
        epochs=4,
        checkpoint_path=f"{out_dir}/cut.pt",
        callbacks=[Interrupt(after=1)],
    )
    try:
        cut.fit()
    except BaseException as exc:  # noqa: BLE001 - recorded for the test
        out["cut"] = type(exc).__name__
    resumed = make_trainer("dns", "sampled", epochs=4, checkpoint_path=f"{out_dir}/cut.pt")
    out["resumed_history"] = [h.loss for h in resumed.fit(resume=True).history]
    out["resumed"] = params(resumed)
    return out


def abort_and_resume_worker(rank, world_size, init_file, out_dir):
    faulthandler.dump_traceback_later(TIMEOUT_S - 10)  # a hang shows where each rank waits
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size
    )
    try:
        # The trainers (their DistributedDataParallel) are freed on return, before the group is destroyed.
        torch.save(abort_and_resume(rank, out_dir), f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks_abort_and_resume(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp-resume")
    context = mp.spawn(
        abort_and_resume_worker, args=(2, str(tmp / "init"), str(tmp)), nprocs=2, join=False
    )
    deadline = time.monotonic() + TIMEOUT_S
    while not context.join(timeout=1):
        if time.monotonic() > deadline:  # a rank left waiting in a collective: fail, do not hang
            for process in context.processes:
                process.kill()
            pytest.fail(f"a rank did not finish within {TIMEOUT_S} s")
    return tmp, [torch.load(tmp / f"rank{r}.pt", weights_only=False) for r in range(2)]


def test_rank_zero_exception_reaches_every_rank(two_ranks_abort_and_resume):
    _, (main, other) = two_ranks_abort_and_resume
    assert main["abort"] == (
        "TrialPruned",
        "pruned at epoch 0",
    )  # rank 0: the callback's own exception
    name, message = other["abort"]
    assert (
        name == "RankZeroAborted"
        and "rank 0 stopped the run" in message
        and "after epoch 0" in message
    )
    assert main["after_abort"] == other["after_abort"] == 3.0


def test_distributed_run_resumes_where_it_stopped(two_ranks_abort_and_resume):
    tmp, ranks = two_ranks_abort_and_resume
    saved = read_checkpoint(tmp / "full.pt")["resume"]
    assert saved["world_size"] == 2 and saved["loop"]["epoch"] == 3
    own = saved["ranks"]["sampling"]
    assert len(own) == 2 and not torch.equal(own[0], own[1])  # each rank's own stream is saved
    assert [r["cut"] for r in ranks] == ["KeyboardInterrupt", "RankZeroAborted"]
    for rank in ranks:
        assert rank["resumed_history"] == pytest.approx(rank["full_history"], rel=1e-6)
        assert rank["resumed"].keys() == rank["full"].keys()
        for key, value in rank["full"].items():
            assert torch.allclose(rank["resumed"][key], value, atol=1e-6), key
    # The fan-out does sample: the two ranks' uninterrupted runs differ from one process's.
    single = make_trainer("dns", "sampled", epochs=4)
    single.fit()
    assert not torch.allclose(single.model.embedding.weight, ranks[0]["full"]["embedding.weight"])


def test_resume_refuses_another_world_size(two_ranks_abort_and_resume):
    tmp, _ = two_ranks_abort_and_resume
    trainer = make_trainer("dns", "sampled", epochs=4, checkpoint_path=tmp / "cut.pt")
    with pytest.raises(ValueError, match="written by 2 process.*this run has 1.*nproc-per-node"):
        trainer.fit(resume=True)
