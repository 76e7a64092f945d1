import pytest
import torch
import torch.nn.functional as F

from pyg_negdiff.causal import (
    PENALTIES,
    BalancedRisk,
    IRMPenalty,
    MarginVariancePenalty,
    VarianceRiskPenalty,
    environment_risks,
    margin_from_bpr,
)


def naive_vrex(loss, env, weight):
    """Per-environment Python loop: the reference the vectorized penalty must match."""
    risks = []
    for e in sorted(set(env.tolist())):
        members = [loss[i] for i in range(len(env)) if int(env[i]) == e]
        risks.append(sum(members) / len(members))
    mean = sum(risks) / len(risks)
    var = sum((r - mean) ** 2 for r in risks) / len(risks)
    return mean + weight * var


def naive_irm(margin, env, weight):
    """IRMv1 through autograd on a dummy scale, one environment at a time."""
    risks, grads = [], []
    for e in sorted(set(env.tolist())):
        m = margin[env == e]
        scale = torch.ones((), dtype=m.dtype, requires_grad=True)
        risk = F.softplus(-scale * m).mean()
        (g,) = torch.autograd.grad(risk, scale)
        risks.append(risk.detach())
        grads.append(g)
    return torch.stack(risks).mean() + weight * torch.stack(grads).pow(2).mean()


def batch(seed=0, size=40, envs=4, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    margin = torch.randn(size, generator=g, dtype=dtype) * 2
    env = torch.randint(0, envs, (size,), generator=g)
    return margin, env


def test_zero_penalty_when_every_environment_has_equal_risk():
    loss = torch.tensor([1.0, 3.0, 2.0, 2.0, 0.5, 3.5])
    env = torch.tensor([0, 0, 1, 1, 2, 2])  # every R_e = 2
    penalty = VarianceRiskPenalty(weight=100.0)
    assert penalty(loss, env).item() == pytest.approx(2.0)
    assert penalty.regularizer(loss, env, *_present(loss, env), None).item() == pytest.approx(0.0)


def _present(loss, env):
    risks, weight = environment_risks(loss, env)
    return risks, weight > 0


def test_single_environment_is_the_plain_mean():
    loss = torch.rand(17, dtype=torch.float64)
    for env in (torch.zeros(17, dtype=torch.long), torch.full((17,), 3), torch.ones(17, 1)):
        assert torch.allclose(VarianceRiskPenalty(weight=7.0)(loss, env), loss.mean())


def test_matches_a_naive_loop_and_weights_environments_equally():
    margin, env = batch()
    loss = F.softplus(-margin)
    for weight in (0.0, 0.5, 3.0):
        expected = naive_vrex(loss.tolist(), env, weight)
        assert VarianceRiskPenalty(weight)(loss, env).item() == pytest.approx(expected, rel=1e-12)
    # mean over environments, not over interactions: unbalanced sizes differ from loss.mean()
    loss = torch.tensor([1.0, 1.0, 1.0, 4.0])
    assert VarianceRiskPenalty(0.0)(loss, torch.tensor([0, 0, 0, 1])).item() == pytest.approx(2.5)


def test_empty_environments_are_skipped():
    margin, env = batch(envs=3)
    loss = F.softplus(-margin)
    sparse = env * 3  # labels 0, 3, 6 of 7 possible
    full = VarianceRiskPenalty(2.0)(loss, env)
    assert torch.allclose(VarianceRiskPenalty(2.0, num_environments=7)(loss, sparse), full)
    soft = F.one_hot(sparse, 7).double()
    assert torch.allclose(VarianceRiskPenalty(2.0)(loss, soft), full)


def test_soft_one_hot_equals_hard():
    margin, env = batch()
    loss = F.softplus(-margin)
    soft = F.one_hot(env, 4).double()
    for penalty in (VarianceRiskPenalty(1.5), IRMPenalty(1.5)):
        assert torch.allclose(penalty(loss, soft, margin=margin), penalty(loss, env, margin=margin))


def test_soft_weights_are_weighted_means():
    loss = torch.tensor([1.0, 2.0, 4.0])
    q = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    risks, weight = environment_risks(loss, q)
    assert risks.tolist() == pytest.approx([(1 + 1) / 1.5, (1 + 4) / 1.5])
    assert weight.tolist() == [1.5, 1.5]
    uniform = torch.full((3, 2), 0.5)  # identical environments: no variance, plain mean
    assert VarianceRiskPenalty(9.0)(loss, uniform).item() == pytest.approx(loss.mean().item())


def test_min_weight_skips_light_environments():
    loss = torch.tensor([1.0, 2.0, 9.0])
    env = torch.tensor([0, 0, 1])
    assert VarianceRiskPenalty(1.0, min_weight=1.0)(loss, env).item() == pytest.approx(1.5)


def test_vrex_gradient_matches_finite_differences():
    margin, env = batch(size=12, envs=3)
    q = torch.softmax(
        torch.randn(12, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1)), -1
    )
    penalty = VarianceRiskPenalty(weight=2.5)
    loss = F.softplus(-margin).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: penalty(x, env), (loss,))
    assert torch.autograd.gradcheck(lambda x, w: penalty(x, w), (loss, q.requires_grad_(True)))
    # and through the scores, as in training
    assert torch.autograd.gradcheck(
        lambda m: penalty(F.softplus(-m), env), (margin.requires_grad_(True),)
    )


def test_irm_matches_autograd_dummy_scale_and_finite_differences():
    margin, env = batch(size=30, envs=3)
    penalty = IRMPenalty(weight=4.0)
    expected = naive_irm(margin, env, 4.0)
    assert torch.allclose(penalty(F.softplus(-margin), env, margin=margin), expected)
    # without margins they are recovered from the loss (exact for one negative)
    assert torch.allclose(penalty(F.softplus(-margin), env), expected)
    m = margin.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: penalty(F.softplus(-x), env, margin=x), (m,))
    assert torch.autograd.gradcheck(lambda x: penalty(F.softplus(-x), env), (m,))


def test_margin_from_bpr_inverts_softplus():
    m = torch.linspace(-20, 20, 81, dtype=torch.float64)
    assert torch.allclose(margin_from_bpr(F.softplus(-m)), m, atol=1e-8)
    assert torch.isfinite(margin_from_bpr(torch.zeros(2))).all()


def test_float32_and_shape_checks():
    loss = torch.rand(8)
    out = VarianceRiskPenalty(1.0)(loss, torch.randint(0, 2, (8,)))
    assert out.dtype == torch.float32 and out.dim() == 0
    with pytest.raises(ValueError):
        VarianceRiskPenalty(1.0)(loss, torch.zeros(7, dtype=torch.long))
    with pytest.raises(ValueError):
        VarianceRiskPenalty(-1.0)
    assert VarianceRiskPenalty(1.0)(torch.empty(0), torch.empty(0, dtype=torch.long)).item() == 0.0


def test_penalty_lowers_the_spread_it_measures():
    """A few gradient steps on the penalized risk narrow the gap between environments."""
    g = torch.Generator().manual_seed(0)
    env = torch.arange(200) % 2
    margin = (torch.randn(200, generator=g) + torch.where(env == 0, 2.0, -1.0)).requires_grad_(True)
    spreads = {}
    for weight in (0.0, 5.0):
        m = margin.detach().clone().requires_grad_(True)
        opt = torch.optim.SGD([m], lr=5.0)
        for _ in range(20):
            opt.zero_grad()
            VarianceRiskPenalty(weight)(F.softplus(-m), env).backward()
            opt.step()
        risks, _ = environment_risks(F.softplus(-m.detach()), env)
        spreads[weight] = float(risks.max() - risks.min())
    assert spreads[5.0] < spreads[0.0]


def test_interactions_reduction_keeps_the_plain_mean_as_base():
    loss = torch.tensor([1.0, 1.0, 1.0, 4.0])
    env = torch.tensor([0, 0, 0, 1])
    out = VarianceRiskPenalty(2.0, reduction="interactions")(loss, env)
    assert out.item() == pytest.approx(loss.mean().item() + 2.0 * 2.25)  # R = (1, 4): var 2.25
    with pytest.raises(ValueError, match="reduction"):
        VarianceRiskPenalty(1.0, reduction="sum")


def test_warmup_switches_the_penalty_on_after_some_training_calls():
    loss = torch.tensor([1.0, 3.0]).requires_grad_(True)
    env = torch.tensor([0, 1])
    penalty = VarianceRiskPenalty(10.0, warmup_steps=2)
    values = [penalty(loss, env).item() for _ in range(3)]
    assert values == pytest.approx([2.0, 2.0, 12.0])
    with torch.no_grad():  # evaluation calls do not count
        penalty.reset()
        assert penalty(loss, env).item() == pytest.approx(2.0) and penalty.num_calls == 0


def test_one_sided_vrex_counts_and_pushes_only_the_worse_environments():
    loss = torch.tensor([1.0, 3.0, 2.0, 6.0, 0.5, 0.5], dtype=torch.float64)
    env = torch.tensor([0, 0, 1, 1, 2, 2])  # R = (2, 4, 0.5), mean 13/6: only env 1 is above it
    mean = 13 / 6
    penalty = VarianceRiskPenalty(weight=3.0, one_sided=True)
    assert penalty(loss, env).item() == pytest.approx(mean + 3.0 * (4 - mean) ** 2 / 3)
    # equal risks and a single environment: the plain mean, as for two-sided V-REx
    equal = torch.tensor([1.0, 3.0, 2.0, 2.0, 0.5, 3.5])
    assert penalty(equal, env).item() == pytest.approx(2.0)
    assert torch.allclose(penalty(loss, torch.zeros(6, dtype=torch.long)), loss.mean())

    x = loss.clone().requires_grad_(True)
    (g_pen,) = torch.autograd.grad(penalty(x, env), x)
    (g_base,) = torch.autograd.grad(VarianceRiskPenalty(weight=0.0)(x, env), x)
    extra = g_pen - g_base
    assert torch.allclose(extra[env != 1], torch.zeros(4, dtype=torch.float64))  # never raised
    assert (extra[env == 1] > 0).all()  # pushed down
    # two-sided V-REx, by contrast, pushes the best environment's risk up
    (g_two,) = torch.autograd.grad(VarianceRiskPenalty(weight=3.0)(x, env), x)
    assert ((g_two - g_base)[env == 2] < 0).all()
    assert "one_sided=True" in repr(penalty)


def naive_margin_vrex(margin, env, weight):
    """Mean risk plus the population variance of the per-environment mean margins, as loops."""
    risks, means = [], []
    for e in sorted(set(env.tolist())):
        m = margin[env == e]
        risks.append(F.softplus(-m).mean())
        means.append(m.mean())
    means = torch.stack(means)
    return torch.stack(risks).mean() + weight * (means - means.mean()).pow(2).mean()


def test_margin_vrex_matches_a_naive_loop_with_and_without_the_margins():
    margin, env = batch()
    penalty = MarginVariancePenalty(weight=0.7)
    expected = naive_margin_vrex(margin, env, 0.7)
    assert torch.allclose(penalty(F.softplus(-margin), env, margin=margin), expected)
    assert torch.allclose(penalty(F.softplus(-margin), env), expected)  # recovered margins
    soft = F.one_hot(env, 4).double()
    assert torch.allclose(penalty(F.softplus(-margin), soft, margin=margin), expected)


def test_margin_vrex_is_zero_at_equal_mean_margins_and_pulls_them_together():
    env = torch.tensor([0, 0, 1, 1])
    equal = torch.tensor([1.0, 3.0, 2.0, 2.0], dtype=torch.float64)  # means 2 and 2
    penalty = MarginVariancePenalty(weight=5.0)
    base = F.softplus(-equal).view(2, 2).mean(1).mean()
    assert torch.allclose(penalty(F.softplus(-equal), env, margin=equal), base)
    m = torch.tensor([3.0, 3.0, 0.0, 0.0], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(
        MarginVariancePenalty(weight=100.0).regularizer(
            F.softplus(-m), env, torch.zeros(2), torch.tensor([True, True]), m
        ),
        m,
    )
    assert bool((grad[:2] > 0).all()) and bool((grad[2:] < 0).all())  # descent closes the gap


def test_run_config_builds_the_named_penalty():
    from pyg_negdiff.data.synthetic import make_synthetic
    from pyg_negdiff.experiment import ConfigError, RunConfig, build_environments

    data = make_synthetic(num_users=80, num_items=60, seed=0)
    for name, cls in PENALTIES.items():
        _, penalty = build_environments(
            RunConfig(penalty_weight=0.5, penalty=name, num_environments=2), data
        )
        assert type(penalty) is cls and penalty.weight == 0.5
    with pytest.raises(ConfigError, match="unknown penalty"):
        RunConfig(penalty="nope").validate()


def test_balanced_risk_is_the_mean_of_environment_means_at_any_weight():
    margin, env = batch(seed=3)
    loss = F.softplus(-margin)
    expected = naive_vrex(loss, env, 0.0)  # the loop's base: each environment weighs the same
    for weight in (0.1, 1.0, 10.0):
        assert torch.allclose(BalancedRisk(weight=weight)(loss, env), expected)
    assert not torch.allclose(expected, loss.mean())  # unequal environment sizes: not the mean
    plain = BalancedRisk(reduction="interactions")(loss, env)
    assert torch.allclose(plain, loss.mean())


def test_balanced_risk_up_weights_the_interactions_of_small_environments():
    loss = torch.ones(5, dtype=torch.float64, requires_grad=True)
    env = torch.tensor([0, 0, 0, 0, 1])
    (grad,) = torch.autograd.grad(BalancedRisk()(loss, env), loss)
    assert torch.allclose(grad, torch.tensor([0.125] * 4 + [0.5], dtype=torch.float64))
