import io
import math

import pytest
import torch

from pyg_negdiff.diffusion import GaussianDiffusion, MLPDenoiser, NoiseSchedule, extract, make_betas

MODES = [
    ("linear", 0.1),
    ("linear-var", 0.1),
    ("linear-var", 10.0),
    ("cosine", 1.0),
    ("cosine", 0.3),
]


@pytest.mark.parametrize("mode,scale", MODES)
def test_schedule_is_monotone_and_alpha_bar_in_unit_interval(mode, scale):
    s = NoiseSchedule(num_steps=20, mode=mode, scale=scale)
    betas, ab = s.betas[1:].double(), s.alphas_cumprod.double()
    assert bool((betas > 0).all()) and bool((betas < 1).all())
    assert ab[0] == 1.0 and bool((ab > 0).all()) and bool((ab <= 1).all())
    assert bool((ab[1:] < ab[:-1]).all())  # strictly more noise at every step
    assert bool((s.sqrt_one_minus_alphas_cumprod[1:] > s.sqrt_one_minus_alphas_cumprod[:-1]).all())
    if mode != "cosine":
        assert bool((betas[1:] >= betas[:-1]).all())


def test_schedule_golden_values():
    # CNSDiff's published defaults: 1 - alpha_bar_t = 0.1 * linspace(1e-4, 0.02, 20)[t - 1].
    s = NoiseSchedule()
    lin = [0.1 * (1e-4 + k * (0.02 - 1e-4) / 19) for k in range(20)]
    assert torch.allclose(
        1 - s.alphas_cumprod[1:].double(), torch.tensor(lin, dtype=torch.float64), atol=1e-7
    )
    assert s.alphas_cumprod[20].item() == pytest.approx(0.998, abs=1e-7)
    assert s.betas[1].item() == pytest.approx(1e-5, rel=1e-5)
    assert s.betas[2].item() == pytest.approx(1 - (1 - lin[1]) / (1 - lin[0]), rel=1e-5)
    assert math.sqrt(1 - s.alphas_cumprod[20].item()) == pytest.approx(
        0.0447, abs=1e-4
    )  # "std about 0.045"
    # Linear betas are exactly the scaled bounds.
    linear = make_betas("linear", 3, scale=0.5, beta_min=0.02, beta_max=0.04)
    assert linear.tolist() == pytest.approx([0.01, 0.015, 0.02])
    # Cosine: alpha_bar_t = f(t) / f(0).
    f = lambda t: math.cos((t / 20 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    c = NoiseSchedule(20, "cosine", scale=1.0)
    assert c.alphas_cumprod[10].item() == pytest.approx(f(10) / f(0), rel=1e-5)
    assert c.alphas_cumprod[10].item() == pytest.approx(0.49384, abs=1e-5)


def test_posterior_coefficients_are_consistent():
    s = NoiseSchedule(20, "cosine", scale=1.0)
    t = torch.arange(1, 21)
    # For a noiseless x_t = sqrt(ab_t) x_0 the posterior mean is sqrt(ab_{t-1}) x_0.
    lhs = s.posterior_mean_coef1[t] + s.posterior_mean_coef2[t] * s.sqrt_alphas_cumprod[t]
    assert torch.allclose(lhs, s.sqrt_alphas_cumprod[t - 1], atol=1e-5)
    expected_var = s.betas[t] * (1 - s.alphas_cumprod_prev[t]) / (1 - s.alphas_cumprod[t])
    assert torch.allclose(s.posterior_variance[t], expected_var, rtol=1e-4, atol=1e-10)
    assert s.posterior_variance[1] == 0  # the last step is deterministic


def test_schedule_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        NoiseSchedule(mode="quadratic")
    with pytest.raises(ValueError, match="below 1"):
        NoiseSchedule(mode="linear-var", scale=60.0)
    with pytest.raises(ValueError, match="num_steps"):
        NoiseSchedule(num_steps=0)


def test_extract_broadcasts():
    a = torch.arange(5.0)
    out = extract(a, torch.tensor([4, 1]), (2, 3, 7))
    assert out.shape == (2, 1, 1) and out.view(-1).tolist() == [4.0, 1.0]


def test_save_reload_round_trip_is_identical():
    torch.manual_seed(0)
    diffusion = GaussianDiffusion(NoiseSchedule(20, "cosine", scale=1.0))
    net = MLPDenoiser(8, hidden_channels=16, cond_dim=4)
    buffer = io.BytesIO()
    torch.save({"diffusion": diffusion.state_dict(), "net": net.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer)
    diffusion2 = GaussianDiffusion(NoiseSchedule(20, "cosine", scale=1.0))
    net2 = MLPDenoiser(8, hidden_channels=16, cond_dim=4)
    diffusion2.load_state_dict(state["diffusion"])
    net2.load_state_dict(state["net"])
    for name, value in diffusion.schedule.named_buffers():
        assert torch.equal(value, dict(diffusion2.schedule.named_buffers())[name])
    x0, cond = torch.randn(6, 8), torch.randn(6, 4)
    outs = []
    for d, n in ((diffusion, net), (diffusion2, net2)):
        g = torch.Generator().manual_seed(3)
        x_t = d.q_sample(x0, 12, generator=g)
        outs.append(d.reverse(n, x_t, 12, cond, sampling_noise=True, generator=g))
    assert torch.equal(outs[0], outs[1])


def test_q_sample_has_the_right_mean_and_variance():
    diffusion = GaussianDiffusion(NoiseSchedule(20, "cosine", scale=1.0))
    g = torch.Generator().manual_seed(0)
    n, t = 40000, torch.tensor([3, 10, 17])
    x0 = torch.tensor([[1.5, -2.0], [0.5, 3.0], [-1.0, 0.2]])
    samples = diffusion.q_sample(x0.repeat(n, 1), t.repeat(n), generator=g).view(n, 3, 2)
    mean, var = samples.mean(0), samples.var(0)
    sab = diffusion.schedule.sqrt_alphas_cumprod[t].unsqueeze(-1)
    true_var = (1 - diffusion.schedule.alphas_cumprod[t]).unsqueeze(-1).expand_as(var)
    # Four standard errors: the mean's is sqrt(var / n), the variance's about var * sqrt(2 / n).
    assert bool(((mean - sab * x0).abs() <= 4 * (true_var / n).sqrt()).all())
    assert bool(((var - true_var).abs() <= 4 * true_var * math.sqrt(2 / n)).all())


def test_q_sample_is_reproducible_and_checks_steps():
    d = GaussianDiffusion()
    x0 = torch.randn(4, 3)
    a = d.q_sample(x0, 5, generator=torch.Generator().manual_seed(1))
    b = d.q_sample(x0, 5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert torch.equal(d.q_sample(x0, 0), x0)
    with pytest.raises(ValueError, match="timesteps"):
        d.q_sample(x0, 21)


def test_epsilon_prediction_inverts_the_forward_process():
    d = GaussianDiffusion(NoiseSchedule(20, "cosine", scale=1.0), prediction="epsilon")
    x0, noise, t = torch.randn(5, 4), torch.randn(5, 4), torch.tensor([1, 4, 9, 15, 20])
    x_t = d.q_sample(x0, t, noise)
    oracle = lambda x, step: noise  # noqa: E731  (a perfect noise predictor)
    assert torch.allclose(d.predict_x0(oracle, x_t, t), x0, atol=1e-3)


def test_reverse_from_mixed_start_steps_matches_separate_chains():
    torch.manual_seed(0)
    d = GaussianDiffusion(NoiseSchedule(20, "linear-var", scale=10.0))
    net = MLPDenoiser(6, hidden_channels=16).eval()
    x_t = torch.randn(9, 6)
    t = torch.tensor([10, 0, 18, 14, 10, 18, 0, 14, 3])
    with torch.no_grad():
        out = d.reverse(net, x_t, t)
        for step in t.unique().tolist():
            rows = (t == step).nonzero().view(-1)
            assert torch.allclose(out[rows], d.reverse(net, x_t[rows], step), atol=1e-6)
    assert torch.equal(out[t == 0], x_t[t == 0])  # start step 0: nothing to undo


def test_reverse_sampling_noise_is_drawn_from_the_generator():
    d = GaussianDiffusion(NoiseSchedule(20, "cosine", scale=1.0))
    net = MLPDenoiser(4, hidden_channels=8).eval()
    x_t = torch.randn(3, 4)
    with torch.no_grad():
        plain = d.reverse(net, x_t, 8)
        a = d.reverse(net, x_t, 8, sampling_noise=True, generator=torch.Generator().manual_seed(5))
        b = d.reverse(net, x_t, 8, sampling_noise=True, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and not torch.allclose(a, plain)


def test_loss_weights():
    plain = GaussianDiffusion(NoiseSchedule(20, "cosine", scale=1.0))
    assert torch.equal(plain.loss_weights(), torch.ones(21))
    for prediction in ("x0", "epsilon"):
        d = GaussianDiffusion(
            NoiseSchedule(20, "cosine", scale=1.0), prediction=prediction, reweight=True
        )
        w = d.loss_weights()[1:]
        assert bool((w > 0).all()) and w.mean().item() == pytest.approx(1.0, rel=1e-5)
        assert w[0] == w[1]
    # The x0 bound's weights fall with t: early steps are the precise ones.
    w = GaussianDiffusion(NoiseSchedule(20, "cosine", scale=1.0), reweight=True).loss_weights()[2:]
    assert bool((w[1:] <= w[:-1]).all())
    x0 = torch.randn(4, 3)
    per_row = d.loss(MLPDenoiser(3, hidden_channels=8), x0, t=torch.tensor([1, 2, 3, 20]))
    assert per_row.shape == (4,)


def clustered(n, g, centers):
    k = torch.randint(0, centers.size(0), (n,), generator=g)
    x = centers[k] + 0.1 * torch.randn(n, centers.size(1), generator=g)
    return x / x.norm(dim=-1, keepdim=True) * math.sqrt(x.size(1))


# Predicting the noise is harder where there is little of it (any error on x_0 is
# divided by sqrt(1 - alpha_bar_t)), so the epsilon loss falls less in this budget.
@pytest.mark.parametrize("prediction,factor", [("x0", 10), ("epsilon", 3)])
def test_denoiser_learns_to_reconstruct_a_toy_distribution(prediction, factor):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(8, 16, generator=g)
    d = GaussianDiffusion(NoiseSchedule(20, "linear-var", scale=10.0), prediction=prediction)
    net = MLPDenoiser(16)
    evaluation = clustered(2048, g, centers)

    def held_out_loss():
        with torch.no_grad():
            return d.loss(net, evaluation, generator=torch.Generator().manual_seed(1)).mean().item()

    before = held_out_loss()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(300):
        loss = d.loss(net, clustered(256, g, centers), generator=g).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = held_out_loss()
    assert after < before / factor, (before, after)


def test_denoiser_checks_its_condition():
    net = MLPDenoiser(4, hidden_channels=8)
    with pytest.raises(ValueError, match="condition"):
        net(torch.randn(2, 4), torch.tensor([1, 2]), torch.randn(2, 4))
    # One step for all rows and mixed steps take different code paths: same function.
    x, t = torch.randn(3, 4), torch.tensor([5, 5, 5])
    mixed = torch.cat(
        [net(x[:1], torch.tensor([5])), net(torch.cat([x[1:], x[:1]]), torch.tensor([5, 5, 7]))[:2]]
    )
    assert torch.allclose(net(x, t), mixed, atol=1e-6)


def test_respaced_reverse():
    torch.manual_seed(0)
    d = GaussianDiffusion(NoiseSchedule(20, "linear-var", scale=10.0))
    net = MLPDenoiser(6, hidden_channels=16).eval()
    x_t, t = torch.randn(7, 6), torch.tensor([10, 0, 18, 14, 1, 20, 3])
    with torch.no_grad():
        # A jump of one step is the ordinary posterior step.
        x0 = torch.randn(7, 6)
        steps = t.clamp(min=1)
        for a, b in zip(d.q_posterior(x0, x_t, steps), d.q_posterior(x0, x_t, steps, steps - 1)):
            assert torch.allclose(a, b, atol=1e-5)
        # With at least t_0 jumps every row takes every step: the plain chain.
        assert torch.allclose(d.reverse(net, x_t, t, steps=20), d.reverse(net, x_t, t), atol=1e-5)
        # One jump is the one-shot estimate; start step 0 is left alone.
        one = d.reverse(net, x_t, t, steps=1)
        assert torch.allclose(one[t > 0], net(x_t[t > 0], t[t > 0]), atol=1e-6)
        assert torch.equal(one[t == 0], x_t[t == 0])
        two = d.reverse(
            net, x_t, t, steps=2, sampling_noise=True, generator=torch.Generator().manual_seed(0)
        )
        assert torch.isfinite(two).all() and torch.equal(two[t == 0], x_t[t == 0])
    with pytest.raises(ValueError, match="steps"):
        d.reverse(net, x_t, t, steps=0)
