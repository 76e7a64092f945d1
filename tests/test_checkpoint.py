"""pyg_negdiff.checkpoint: the layout round trip, refusals, and the state of environments and penalties."""

import pytest
import torch

from pyg_negdiff.causal import EnvironmentInference, VarianceRiskPenalty
from pyg_negdiff.checkpoint import (
    CHECKPOINT_FORMAT,
    check_resumable,
    initial_loop,
    read_checkpoint,
    read_resumable,
    restore_resume_state,
    resume_payload,
    snapshot,
    write_checkpoint,
)
from pyg_negdiff.data import make_synthetic


def _objects():
    model, sampler = torch.nn.Linear(3, 2), torch.nn.Linear(2, 2)
    optimizer = torch.optim.Adam([*model.parameters(), *sampler.parameters()], lr=0.1)
    return model, sampler, optimizer


def test_write_then_read_round_trip(tmp_path):
    model, sampler, optimizer = _objects()
    generator = torch.Generator().manual_seed(3)
    resume = resume_payload(
        model,
        sampler,
        optimizer,
        initial_loop(),
        generator=generator,
        config={"lr": 0.1, "device": "cpu"},
    )
    write_checkpoint(tmp_path / "c.pt", snapshot(-1, model, sampler, optimizer), resume)
    assert not (tmp_path / "c.pt.tmp").exists()  # written atomically
    state = read_checkpoint(tmp_path / "c.pt")
    assert state["format"] == CHECKPOINT_FORMAT and state["epoch"] == -1
    assert torch.equal(state["model"]["weight"], model.weight.detach())
    best, saved = read_resumable(tmp_path / "c.pt", {"lr": 0.1, "device": "cuda"}, world_size=1)
    assert best["epoch"] == -1 and saved["loop"] == initial_loop()  # the device may differ
    with pytest.raises(ValueError, match="other settings .*lr: 0.1 then, 0.2 now"):
        read_resumable(tmp_path / "c.pt", {"lr": 0.2}, world_size=1)
    with pytest.raises(ValueError, match="written by 1 process"):
        check_resumable(saved, tmp_path / "c.pt", {"lr": 0.1}, world_size=2)
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume"):
        read_resumable(tmp_path / "none.pt", {}, world_size=1)


def test_other_layouts_and_other_files_are_refused(tmp_path):
    torch.save({"format": CHECKPOINT_FORMAT - 1}, tmp_path / "old.pt")
    with pytest.raises(
        ValueError, match=f"not a pyg_negdiff checkpoint of layout {CHECKPOINT_FORMAT}"
    ):
        read_checkpoint(tmp_path / "old.pt")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="loads safely"):
        read_checkpoint(tmp_path / "text.pt")


def test_environments_and_penalty_come_back_through_their_state_dicts():
    data = make_synthetic(num_users=60, num_items=40, seed=0)
    env = EnvironmentInference("popularity", num_environments=2)
    env.fit(data)
    penalty = VarianceRiskPenalty(weight=1.0, warmup_steps=5)
    penalty.num_calls = 4
    model, sampler, optimizer = _objects()
    saved = resume_payload(
        model,
        sampler,
        optimizer,
        initial_loop(),
        generator=torch.Generator(),
        config={},
        environments=env,
        penalty=penalty,
    )
    assert saved["penalty"] == {"_extra_state": {"num_calls": 4}}

    other_env = EnvironmentInference("popularity", num_environments=2)
    other_env.fit(data)
    other_env.num_updates = 7
    other_penalty = VarianceRiskPenalty(weight=1.0, warmup_steps=5)
    restore_resume_state(
        saved, generator=torch.Generator(), environments=other_env, penalty=other_penalty
    )
    assert other_penalty.num_calls == 4 and other_env.num_updates == env.num_updates
    assert torch.equal(other_env.assignment, env.assignment)

    legacy = {**saved, "penalty_calls": 2}  # the layout before penalties had a state dict
    del legacy["penalty"]
    restore_resume_state(legacy, generator=torch.Generator(), penalty=other_penalty)
    assert other_penalty.num_calls == 2


def test_an_unfitted_inference_and_a_plain_callable_penalty_are_not_saved():
    model, sampler, optimizer = _objects()
    saved = resume_payload(
        model,
        sampler,
        optimizer,
        initial_loop(),
        generator=torch.Generator(),
        config={},
        environments=EnvironmentInference("popularity"),
        penalty=lambda loss, env, margin=None: loss.mean(),
    )
    assert "environments" not in saved and "penalty" not in saved
