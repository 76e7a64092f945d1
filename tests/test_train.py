import pytest
import torch

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.nn import MF, LightGCN
from pyg_negdiff.sampling.base import NegativeSample, NegativeSampler
from pyg_negdiff.sampling.uniform import UniformSampler
from pyg_negdiff.train import NonFiniteLossError, Trainer


def clustered_data(seed=0, U=120, I=90, clusters=4):
    """Users like the items of their own cluster: a signal any backbone can learn."""
    g = torch.Generator().manual_seed(seed)
    uc, ic = torch.randint(0, clusters, (U,), generator=g), torch.randint(
        0, clusters, (I,), generator=g
    )
    like = (uc[:, None] == ic[None, :]) & (torch.rand(U, I, generator=g) < 0.35)
    index = like.nonzero().t()
    index = index[:, torch.randperm(index.size(1), generator=g)]
    n = index.size(1)
    a, b = int(0.7 * n), int(0.85 * n)
    return InteractionData(
        U, I, {"train": index[:, :a], "val": index[:, a:b], "test": index[:, b:]}
    )


def make_trainer(data, model=None, **kw):
    model = model or LightGCN(data.num_users, data.num_items, embedding_dim=16, num_layers=2)
    kw.setdefault("epochs", 4)
    return Trainer(
        model,
        UniformSampler(data.train_pairs()),
        data,
        lr=1e-2,
        batch_size=256,
        progress=False,
        **kw,
    )


def test_training_learns_and_reports_test_once():
    data = clustered_data()
    torch.manual_seed(0)
    before = make_trainer(data, epochs=1)
    untrained = before.evaluator.evaluate(before.embeddings(), "test")["recall@20"]
    torch.manual_seed(0)
    result = make_trainer(data, epochs=12).fit()
    assert result.test["test"]["recall@20"] > untrained + 0.1
    assert set(result.test) == {"test"}  # validation is never reported as a test
    assert result.best_val["ndcg@20"] == max(h.val["ndcg@20"] for h in result.history)


def test_same_seed_same_result():
    data = clustered_data()
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        runs.append(make_trainer(data, seed=3, epochs=2).fit())
    assert [h.loss for h in runs[0].history] == [h.loss for h in runs[1].history]
    assert runs[0].test == runs[1].test


def test_best_checkpoint_is_restored_after_early_stopping(tmp_path):
    data = clustered_data()
    torch.manual_seed(0)
    trainer = make_trainer(data, epochs=30, patience=2, checkpoint_path=tmp_path / "best.pt")
    result = trainer.fit()
    assert result.stopped_early
    # The restored weights give the best validation score again.
    again = trainer.evaluator.evaluate(trainer.embeddings(), "val")["ndcg@20"]
    assert again == pytest.approx(result.best_val["ndcg@20"])
    assert trainer.load_checkpoint(tmp_path / "best.pt") == result.best_epoch


class ExplodingSampler(NegativeSampler):
    """Uniform negatives until a given batch, then a NaN auxiliary loss."""

    def __init__(self, train_pairs, at_epoch):
        super().__init__(train_pairs)
        self.at_epoch = at_epoch

    def forward(self, users, pos_items, state):
        items = self.uniform_candidates(users, 1, state.generator).squeeze(-1)
        aux = torch.tensor(float("nan")) if state.epoch >= self.at_epoch else None
        return NegativeSample(emb=state.emb.item[items], items=items, aux_loss=aux)


def test_nan_loss_stops_with_clear_message_and_keeps_last_good_checkpoint(tmp_path):
    data = clustered_data()
    model = MF(data.num_users, data.num_items, embedding_dim=8)
    trainer = Trainer(
        model,
        ExplodingSampler(data.train_pairs(), at_epoch=2),
        data,
        lr=1e-2,
        batch_size=256,
        epochs=5,
        progress=False,
        checkpoint_path=tmp_path / "ck.pt",
    )
    with pytest.raises(NonFiniteLossError, match="epoch 2.*last good checkpoint"):
        trainer.fit()
    weights = model.embedding.weight
    assert torch.isfinite(weights).all()
    saved = torch.load(tmp_path / "ck.pt", weights_only=False)
    assert saved["epoch"] in (0, 1)
    assert torch.equal(saved["model"]["embedding.weight"], weights.detach())


def test_callbacks_see_every_validation():
    data = clustered_data()
    seen = []
    make_trainer(data, epochs=3, callbacks=[lambda e, m: seen.append((e, m["ndcg@20"]))]).fit()
    assert [e for e, _ in seen] == [0, 1, 2]


def test_without_validation_keeps_last_epoch():
    data = clustered_data()
    data = InteractionData(
        data.num_users, data.num_items, {"train": data.train, "test": data.parts["test"]}
    )
    result = make_trainer(data, epochs=2).fit()
    assert result.best_epoch == 1 and "test" in result.test


def test_bad_configuration_is_refused():
    data = clustered_data()
    with pytest.raises(ValueError, match="monitor"):
        make_trainer(data, monitor="ndcg@7")
    # Environments alone are fine (an environment-conditioned sampler reads them); a penalty needs them.
    with pytest.raises(ValueError, match="a 'penalty' needs 'environments'"):
        make_trainer(data, penalty=lambda loss, env, margin=None: loss.mean())
