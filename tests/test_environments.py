import math

import pytest
import torch

from pyg_negdiff.causal import (
    ActivityEnvironments,
    ClusterEnvironments,
    EIILEnvironments,
    EnvironmentEmbedding,
    EnvironmentInference,
    OracleEnvironments,
    PopularityEnvironments,
    TimeEnvironments,
    VarianceRiskPenalty,
    interaction_environments,
    count_quantile_groups,
    harden,
    kmeans,
    mass_quantile_groups,
    normalized_mutual_info,
)
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.nn.base import Embeddings


def zipf_data(seed=0, users=60, items=50, per_user=8):
    g = torch.Generator().manual_seed(seed)
    weights = 1.0 / torch.arange(1, items + 1).double()
    train = torch.multinomial(weights.expand(users, -1), per_user, generator=g)
    val = torch.multinomial(weights.expand(users, -1), 2, generator=g)
    index = lambda x: torch.stack(
        [torch.arange(users).repeat_interleave(x.size(1)), x.reshape(-1)]
    )  # noqa: E731
    return InteractionData(
        users,
        items,
        {"train": index(train), "val": index(val)},
        timestamps={
            "train": torch.rand(users * per_user, generator=g),
            "val": 1.0 + torch.rand(users * 2, generator=g),
        },
    )


def planted(seed=0, users=80, items=60, per_user=3, dim=32):
    """Two user groups: the reference model ranks group 0's items high (low loss), group 1's low."""
    g = torch.Generator().manual_seed(seed)
    item = torch.randn(items, dim, generator=g)
    items_of = torch.stack([torch.randperm(items, generator=g)[:per_user] for _ in range(users)])
    group = torch.arange(users) % 2
    user = torch.where(group[:, None] == 0, 1.0, -1.0) * item[items_of].mean(1)
    index = torch.stack([torch.arange(users).repeat_interleave(per_user), items_of.reshape(-1)])
    truth = group[index[0]]
    data = InteractionData(users, items, {"train": index}, env={"train": truth})
    return data, Embeddings(user.unsqueeze(1), item.unsqueeze(1)), truth


# --------------------------------------------------------------------------- NMI
def test_nmi_hand_computed():
    a = torch.tensor([0, 0, 0, 1, 1, 1])
    b = torch.tensor([0, 0, 1, 1, 2, 2])
    # joint mass 1/3, 1/6, 1/6, 1/3: I = (2/3) log 2, H(a) = log 2, H(b) = log 3
    expected = (2 / 3 * math.log(2)) / (0.5 * (math.log(2) + math.log(3)))
    assert normalized_mutual_info(a, b) == pytest.approx(expected, rel=1e-12)
    assert normalized_mutual_info(b, a) == pytest.approx(expected, rel=1e-12)
    assert normalized_mutual_info(a, 5 - b * 2) == pytest.approx(expected)  # names do not matter
    assert normalized_mutual_info(a, torch.tensor([7, 7, 7, 2, 2, 2])) == 1.0
    assert normalized_mutual_info(
        torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1])
    ) == pytest.approx(0.0)
    assert normalized_mutual_info(a, torch.zeros(6, dtype=torch.long)) == 0.0
    soft = torch.tensor([[0.9, 0.1]] * 3 + [[0.2, 0.8]] * 3)
    assert normalized_mutual_info(a, soft) == 1.0


# ------------------------------------------------------------------------ proxies
def test_count_quantile_groups_are_equal_size_tiers():
    counts = (1000.0 / torch.arange(1, 201)).long()[
        torch.randperm(200, generator=torch.Generator().manual_seed(0))
    ]
    groups = count_quantile_groups(counts, 4)
    assert torch.bincount(groups).tolist() == [50, 50, 50, 50]
    order = torch.argsort(-counts, stable=True)
    assert torch.all(groups[order][1:] >= groups[order][:-1])


def test_mass_quantile_groups_balance_interactions():
    counts = (1000.0 / torch.arange(1, 201)).long()
    groups = mass_quantile_groups(counts, 4)
    mass = torch.bincount(groups, weights=counts.double(), minlength=4) / counts.sum()
    assert torch.all((mass - 0.25).abs() < 0.05)
    assert torch.all(groups[1:] >= groups[:-1])  # heavier entities never in a later group
    assert groups[counts == 0].eq(3).all()


def test_popularity_and_activity_proxies():
    data = zipf_data()
    pop = data.item_popularity()
    env = EnvironmentInference("popularity", num_environments=3)
    labels = env.fit(data)
    assert labels.shape == (data.train.size(1),) and labels.dtype == torch.long
    item_pop = pop[data.train[1]].double()
    means = [item_pop[labels == e].mean() for e in range(3)]
    assert means[0] > means[1] > means[2]  # env 0 = head
    assert not env.maybe_update(5, None)  # proxies never update
    val = interaction_environments(data, "val", env)
    assert torch.equal(val, env.strategy.groups[data.parts["val"][1]])
    assert torch.equal(interaction_environments(data, "val", "popularity", 3), val)

    mass = PopularityEnvironments(3, by="interactions").fit(data)
    shares = torch.bincount(mass, minlength=3) / mass.numel()
    assert torch.all(
        (shares - 1 / 3).abs() < 0.15
    )  # balanced interactions (up to ties of one item)
    with pytest.raises(ValueError, match="'by'"):
        PopularityEnvironments(3, by="users")

    act = ActivityEnvironments(2)
    labels = act.fit(data)
    deg = data.user_degree()[data.train[0]]
    assert deg[labels == 0].min() >= deg[labels == 1].max()


def test_time_windows():
    data = zipf_data()
    strategy = TimeEnvironments(4)
    labels = strategy.fit(data)
    assert torch.bincount(labels).tolist() == [120, 120, 120, 120]
    t = data.timestamps["train"]
    assert all(t[labels == e].max() < t[labels == e + 1].min() for e in range(3))
    assert strategy.assign(data, "val").eq(3).all()  # after training: last window
    with pytest.raises(ValueError, match="timestamps"):
        TimeEnvironments(2).fit(InteractionData(2, 2, {"train": torch.tensor([[0, 1], [1, 0]])}))


def test_oracle_reads_ground_truth():
    data, _, truth = planted()
    assert torch.equal(EnvironmentInference("oracle", 2).fit(data), truth)
    with pytest.raises(ValueError, match="outside"):
        OracleEnvironments(1).fit(data)
    with pytest.raises(ValueError, match="ground-truth"):
        OracleEnvironments(2).fit(zipf_data())


# ------------------------------------------------------------------------ learned
def test_kmeans_separates_blobs_deterministically():
    g = torch.Generator().manual_seed(0)
    centers = torch.tensor([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    truth = torch.arange(300) % 3
    x = centers[truth] + 0.5 * torch.randn(300, 2, generator=g)
    labels, centroids = kmeans(x, 3, generator=torch.Generator().manual_seed(1))
    assert normalized_mutual_info(truth, labels) == 1.0
    again, _ = kmeans(x, 3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(labels, again)


def test_eiil_recovers_planted_groups():
    data, emb, truth = planted()
    q = EIILEnvironments(2).fit(data, emb, generator=torch.Generator().manual_seed(0))
    assert q.shape == (data.train.size(1), 2)
    assert torch.allclose(q.sum(-1), torch.ones(q.size(0)))
    assert normalized_mutual_info(truth, q) > 0.5
    # environments are numbered by increasing risk: the well-fitted group is env 0
    assert (q.argmax(-1)[truth == 0] == 0).float().mean() > 0.8
    q_irm = EIILEnvironments(2, objective="irm", hard=True).fit(
        data, emb, generator=torch.Generator().manual_seed(0)
    )
    assert q_irm.dtype == torch.long and normalized_mutual_info(truth, q_irm) > 0.5


def test_item_tied_assignments_are_shared_by_an_items_interactions():
    data, emb, _ = planted()
    for env in (
        EnvironmentInference("eiil", 2, tie="item", objective="irm", balance=0.0, steps=50),
        EnvironmentInference("cluster", 2, level="item"),
    ):
        labels = harden(env.fit(data, emb))
        items = data.train[1]
        per_item_min = torch.full((data.num_items,), 9).scatter_reduce(0, items, labels, "amin")
        per_item_max = torch.full((data.num_items,), -1).scatter_reduce(0, items, labels, "amax")
        seen = torch.bincount(items, minlength=data.num_items) > 0
        assert torch.equal(per_item_min[seen], per_item_max[seen])


def test_cluster_recovers_planted_groups_and_labels_other_parts():
    data, emb, truth = planted()
    strategy = ClusterEnvironments(2, features=["loss"], level="interaction", num_negatives=4)
    labels = strategy.fit(data, emb, generator=torch.Generator().manual_seed(0))
    assert normalized_mutual_info(truth, labels) > 0.5
    plain = ClusterEnvironments(2, features=["popularity", "activity"])
    labels = plain.fit(zipf_data())
    assert torch.equal(plain.assign(plain.data, "train"), labels)


@pytest.mark.parametrize("strategy", ["eiil", "cluster"])
def test_learned_assignments_are_deterministic_under_a_seed(strategy):
    data, emb, _ = planted()
    runs = []
    for seed in (3, 3, 4):
        env = (
            EnvironmentInference(strategy, num_environments=2, seed=seed, steps=50)
            if strategy == "eiil"
            else EnvironmentInference(strategy, num_environments=2, seed=seed)
        )
        runs.append(env.fit(data, emb))
    assert torch.equal(runs[0], runs[1])
    if strategy == "eiil":
        assert not torch.equal(runs[0], runs[2])


def test_update_schedule_and_warm_up():
    data, emb, _ = planted()
    env = EnvironmentInference("eiil", num_environments=2, update_every=3, steps=20, seed=0)
    q = env.fit(data)  # no reference model yet: uniform, i.e. plain BPR
    assert torch.allclose(q, torch.full_like(q, 0.5))
    loss = torch.rand(10)
    assert torch.allclose(
        VarianceRiskPenalty(5.0)(loss, env.batch_environments(torch.arange(10))), loss.mean()
    )
    updated = [epoch for epoch in range(10) if env.maybe_update(epoch, emb)]
    assert updated == [1, 4, 7]  # first after one epoch (warmup=1), then every 3
    assert env.num_updates == 4 and len(env.update_seconds) == 4
    assert not torch.allclose(env.assignment, q)
    with pytest.raises(ValueError, match="training interactions only"):
        interaction_environments(data, "train", env.strategy)
    assert torch.equal(env.environments("train"), env.assignment.argmax(-1))


def test_batch_environments_follow_index():
    data, emb, _ = planted()
    for env in (EnvironmentInference("popularity", 2), EnvironmentInference("eiil", 2, steps=20)):
        full = env.fit(data, emb)
        index = torch.tensor([5, 0, 5, 17])
        out = env.batch_environments(index)
        assert torch.equal(out, full[index]) and out.device == index.device
    with pytest.raises(RuntimeError, match="fit"):
        EnvironmentInference("popularity").batch_environments(index)
    with pytest.raises(ValueError, match="unknown environment strategy"):
        EnvironmentInference("nope")


def test_environment_embedding_soft_and_hard():
    torch.manual_seed(0)
    layer = EnvironmentEmbedding(3, 5)
    labels = torch.tensor([0, 2, 1, 2])
    assert torch.allclose(layer(labels), layer(torch.nn.functional.one_hot(labels, 3).float()))
    mix = layer(torch.tensor([[0.5, 0.5, 0.0]]))
    assert torch.allclose(mix, 0.5 * (layer.weight[0] + layer.weight[1]))
    mix.sum().backward()
    assert layer.weight.grad[2].abs().sum() == 0 and layer.weight.grad[0].abs().sum() > 0


@pytest.mark.parametrize("strategy,penalty", [("popularity", "vrex"), ("eiil", "irm")])
def test_trainer_runs_with_environments_and_penalty(strategy, penalty):
    from pyg_negdiff.causal import IRMPenalty
    from pyg_negdiff.nn import MF
    from pyg_negdiff.sampling.uniform import UniformSampler
    from pyg_negdiff.train import Trainer

    data = zipf_data()
    options = {"steps": 20} if strategy == "eiil" else {}
    env = EnvironmentInference(strategy, num_environments=2, update_every=1, seed=0, **options)
    env.fit(data)
    loss_fn = VarianceRiskPenalty(1.0) if penalty == "vrex" else IRMPenalty(1.0)
    torch.manual_seed(0)
    trainer = Trainer(
        MF(data.num_users, data.num_items, 8),
        UniformSampler(data.train_pairs()),
        data,
        lr=1e-2,
        batch_size=128,
        epochs=2,
        environments=env,
        penalty=loss_fn,
        progress=False,
    )
    result = trainer.fit()
    assert all(math.isfinite(h.loss) for h in result.history)
    assert env.num_updates == (2 if env.learned else 1)  # fit, then the update at epoch 1
