"""An interrupted and resumed run ends where an uninterrupted one does; checkpoints load safely."""

import pytest
import torch

from pyg_negdiff.data.synthetic import make_synthetic
from pyg_negdiff.experiment import RunConfig, make_trainer, run
from pyg_negdiff.train import read_checkpoint


@pytest.fixture(scope="module")
def data():
    return make_synthetic(num_users=120, num_items=90, seed=1)


CONFIGS = {
    # The generative sampler's denoiser has its own Adam (in the sampler's state), and the penalty
    # a warm-up counter: both must survive the interruption, as must the environment assignment.
    "cnsdiff+penalty": RunConfig(
        model="lightgcn",
        embedding_dim=8,
        num_layers=1,
        sampler="cnsdiff",
        lr=1e-2,
        batch_size=256,
        epochs=5,
        penalty_weight=0.5,
        num_environments=2,
        seed=3,
        penalty_kwargs={"warmup_steps": 3},
        eval_every=1,
    ),
    "dns+eiil": RunConfig(
        model="mf",
        embedding_dim=8,
        sampler="dns",
        lr=1e-2,
        batch_size=256,
        epochs=5,
        penalty_weight=0.5,
        environments="eiil",
        num_environments=2,
        seed=4,
        environment_kwargs={"update_every": 2, "warmup": 1},
        eval_every=2,
    ),
}


class Interrupt:
    """A callback that stops the run like Ctrl-C after a given epoch's validation."""

    def __init__(self, after: int) -> None:
        self.after = after

    def __call__(self, epoch, val):
        if epoch == self.after:
            raise KeyboardInterrupt


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, data, name):
    config = CONFIGS[name]
    full = run(config, data, progress=False)
    ckpt = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        run(config, data, progress=False, checkpoint_path=ckpt, callbacks=[Interrupt(after=1)])
    saved = read_checkpoint(ckpt)
    assert saved["resume"]["loop"]["epoch"] == 1
    resumed = run(config, data, progress=False, checkpoint_path=ckpt, resume=True)
    # The loss curve continues: the first epochs come from the checkpoint, the rest are trained again.
    assert [h.epoch for h in resumed.history] == list(range(config.epochs))
    assert [h.loss for h in resumed.history] == pytest.approx(
        [h.loss for h in full.history], rel=1e-5
    )
    assert resumed.best_epoch == full.best_epoch
    for part, metrics in full.test.items():
        assert resumed.test[part] == pytest.approx(metrics, rel=1e-5, abs=1e-7)


def test_resume_refuses_other_settings(tmp_path, data):
    config = CONFIGS["cnsdiff+penalty"]
    ckpt = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        run(config, data, progress=False, checkpoint_path=ckpt, callbacks=[Interrupt(after=0)])
    other = RunConfig(**{**config.to_dict(), "embedding_dim": 16})
    with pytest.raises(ValueError, match="other settings.*embedding_dim"):
        run(other, data, progress=False, checkpoint_path=ckpt, resume=True)


def test_checkpoint_loads_with_weights_only_and_refuses_pickled_code(tmp_path, data):
    config = RunConfig(model="mf", embedding_dim=8, sampler="cnsdiff", epochs=2, batch_size=256)
    ckpt = tmp_path / "run.pt"
    result = run(config, data, progress=False, checkpoint_path=ckpt)
    state = torch.load(
        ckpt, weights_only=True
    )  # state dicts only, the denoiser's optimizer included
    assert state["sampler"]["_extra_state"]["optimizer"]["state"]
    trainer = make_trainer(config, data, progress=False)
    assert trainer.load_checkpoint(ckpt) == result.best_epoch

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    evil = tmp_path / "evil.pt"
    torch.save({"format": 2, "model": Payload()}, evil)
    with pytest.raises(ValueError, match="not a pyg_negdiff checkpoint that loads safely"):
        trainer.load_checkpoint(evil)
