r"""The Gaussian diffusion process over embedding rows: forward noising, reverse
denoising from any start step, and the training loss.

Everything works on the ``[B, D]`` rows it is given (a batch's item
embeddings), so memory is $O(B \cdot D)$ per step and never depends on the
number of users or items.
"""

from __future__ import annotations

from typing import Callable, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from pyg_negdiff.diffusion.schedule import NoiseSchedule, extract

Prediction = Literal["x0", "epsilon"]
#: A denoiser: ``(x_t [B, D], t [B], cond [B, C] or None) -> [B, D]``.
Denoiser = Callable[..., Tensor]


def randn(
    shape: torch.Size | tuple[int, ...], like: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Standard normal noise of ``shape`` on ``like``'s device and dtype, drawn from ``generator``."""
    device = generator.device if generator is not None else like.device
    return torch.randn(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


class GaussianDiffusion(torch.nn.Module):
    r"""Forward and reverse Gaussian diffusion (Ho et al., "Denoising Diffusion
    Probabilistic Models", NeurIPS 2020) on rows of embeddings.

    **Forward process.** $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon$,
    $\epsilon \sim \mathcal{N}(0, I)$, for $t \in \{1, \ldots, T\}$ (`q_sample`).

    **Reverse process.** A denoiser $f_\theta(x_t, t, c)$ predicts either
    $\hat x_0$ (``prediction="x0"``, DiffRec's and CNSDiff's choice) or the
    noise $\hat\epsilon$, from which
    $\hat x_0 = x_t / \sqrt{\bar\alpha_t} - \sqrt{1/\bar\alpha_t - 1}\,\hat\epsilon$.
    One step samples the posterior with $\hat x_0$ in place of $x_0$,

    $$
    x_{t-1} = c_1(t)\,\hat x_0 + c_2(t)\, x_t + \tilde\beta_t^{1/2} z,
    \qquad z \sim \mathcal{N}(0, I),
    $$

    with the posterior variance $\tilde\beta_t$ (zero at $t = 1$, see
    `NoiseSchedule`), or without the noise term (``sampling_noise=False``, the
    deterministic chain DiffRec and CNSDiff use). `reverse` runs the chain
    from a start step $t_0$ (one per row) down to $0$, so a row noised to
    $t_0$ is denoised from $t_0$, not from $T$: the start step sets how far
    the result can move from $x_0$. The chain may be respaced to fewer,
    longer jumps (``steps``).

    **Loss.** With $t \sim \mathcal{U}\{1, \ldots, T\}$ the loss per row is
    $w_t \lVert y - f_\theta(x_t, t, c) \rVert^2 / D$, where $y$ is $x_0$
    or $\epsilon$. Without ``reweight``, $w_t = 1$. With it, $w_t$ is the
    weight the variational bound gives the step, normalized to mean $1$ over $t$:
    $w_t \propto \mathrm{SNR}(t-1) - \mathrm{SNR}(t)$ for $\hat x_0$ and
    $(\mathrm{SNR}(t-1) - \mathrm{SNR}(t)) / \mathrm{SNR}(t)$ for $\hat\epsilon$,
    with $\mathrm{SNR}(t) = \bar\alpha_t / (1 - \bar\alpha_t)$; the
    bound's $t = 1$ term is a decoder likelihood, infinite here, and takes
    the weight of $t = 2$.

    The module owns the schedule (buffers only) and no network: the denoiser
    is passed to `loss` and `reverse`, so the same process serves any network.

    Args:
        schedule (NoiseSchedule, optional): The noise schedule. (default: ``NoiseSchedule()``)
        prediction (str): ``"x0"`` or ``"epsilon"``. (default: ``"x0"``)
        reweight (bool): Weight the loss per timestep as above. (default: ``False``)

    Examples:
        >>> from pyg_negdiff.diffusion import MLPDenoiser, NoiseSchedule
        >>> diffusion = GaussianDiffusion(NoiseSchedule(num_steps=20))
        >>> net = MLPDenoiser(8, hidden_channels=16)
        >>> x0 = torch.randn(4, 8)
        >>> diffusion.loss(net, x0).shape
        torch.Size([4])
        >>> diffusion.reverse(net, diffusion.q_sample(x0, 10), 10).shape
        torch.Size([4, 8])
    """

    def __init__(
        self,
        schedule: NoiseSchedule | None = None,
        *,
        prediction: Prediction = "x0",
        reweight: bool = False,
    ) -> None:
        super().__init__()
        if prediction not in ("x0", "epsilon"):
            raise ValueError(f"prediction must be 'x0' or 'epsilon', got {prediction!r}")
        self.schedule = schedule if schedule is not None else NoiseSchedule()
        self.prediction = prediction
        self.reweight = reweight

    @property
    def num_steps(self) -> int:
        return self.schedule.num_steps

    def _steps(self, t: Tensor | int, x: Tensor) -> Tensor:
        """``t`` as a ``[B]`` long tensor on ``x``'s device, checked to lie in ``[0, T]``."""
        t = torch.as_tensor(t, dtype=torch.long, device=x.device)
        if t.dim() == 0:
            t = t.expand(x.size(0))
        if t.numel() and (int(t.min()) < 0 or int(t.max()) > self.num_steps):
            raise ValueError(
                f"timesteps must lie in [0, {self.num_steps}], got "
                f"[{int(t.min())}, {int(t.max())}]"
            )
        return t

    # ------------------------------------------------------------ forward
    def q_sample(
        self,
        x0: Tensor,
        t: Tensor | int,
        noise: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        r"""Samples $x_t \sim q(x_t \mid x_0)$ for rows ``x0`` ``[B, D]`` at steps ``t`` (``[B]`` or int).

        Args:
            x0 (torch.Tensor): ``[B, D]`` clean rows.
            t (torch.Tensor or int): ``[B]`` steps, or one step for all rows.
            noise (torch.Tensor, optional): ``[B, D]`` the noise $\epsilon$ to use.
            generator (torch.Generator, optional): Draws $\epsilon$ when not given.
        """
        t = self._steps(t, x0)
        if noise is None:
            noise = randn(x0.shape, x0, generator)
        s = self.schedule
        return (
            extract(s.sqrt_alphas_cumprod, t, x0.shape) * x0
            + extract(s.sqrt_one_minus_alphas_cumprod, t, x0.shape) * noise
        )

    def q_posterior(
        self, x0: Tensor, x_t: Tensor, t: Tensor, s: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        r"""Mean and standard deviation of $q(x_s \mid x_t, x_0)$, $s < t$ ($s = t - 1$ by default).

        For a jump of several steps (a respaced chain) the one-step formulas
        hold with $\bar\alpha_{t \mid s} = \bar\alpha_t / \bar\alpha_s$ in place of $1 - \beta_t$:

        $$
        \mu = \frac{\sqrt{\bar\alpha_s}\,(1 - \bar\alpha_{t|s})}{1 - \bar\alpha_t} x_0
             + \frac{\sqrt{\bar\alpha_{t|s}}\,(1 - \bar\alpha_s)}{1 - \bar\alpha_t} x_t ,\qquad
        \sigma^2 = \frac{(1 - \bar\alpha_{t|s})(1 - \bar\alpha_s)}{1 - \bar\alpha_t} .
        $$

        Args:
            x0 (torch.Tensor): ``[B, D]`` clean rows (or their estimate).
            x_t (torch.Tensor): ``[B, D]`` rows at step ``t``.
            t (torch.Tensor): ``[B]`` steps.
            s (torch.Tensor, optional): ``[B]`` earlier steps. (default: ``t - 1``)
        """
        sched = self.schedule
        if s is None:
            mean = (
                extract(sched.posterior_mean_coef1, t, x_t.shape) * x0
                + extract(sched.posterior_mean_coef2, t, x_t.shape) * x_t
            )
            return mean, extract(sched.posterior_variance, t, x_t.shape).sqrt()
        # 1 - alpha_bar from its float64-derived buffer: exact where alpha_bar is close to 1.
        var_t = extract(sched.sqrt_one_minus_alphas_cumprod, t, x_t.shape).pow(2)
        var_s = extract(sched.sqrt_one_minus_alphas_cumprod, s, x_t.shape).pow(2)
        ab_s = extract(sched.alphas_cumprod, s, x_t.shape)
        beta = (var_t - var_s) / ab_s  # 1 - alpha_bar_t / alpha_bar_s
        mean = ab_s.sqrt() * beta / var_t * x0 + (1 - beta).sqrt() * var_s / var_t * x_t
        return mean, (beta * var_s / var_t).sqrt()

    # ------------------------------------------------------------ reverse
    def predict_x0(
        self, denoiser: Denoiser, x_t: Tensor, t: Tensor, cond: Tensor | None = None
    ) -> Tensor:
        r"""The denoiser's estimate $\hat x_0$ of the clean rows behind ``x_t``.

        Args:
            denoiser (Denoiser): The network, called as ``denoiser(x_t, t[, cond])``.
            x_t (torch.Tensor): ``[B, D]`` noised rows.
            t (torch.Tensor): ``[B]`` steps.
            cond (torch.Tensor, optional): ``[B, C]`` condition.
        """
        out = denoiser(x_t, t, cond) if cond is not None else denoiser(x_t, t)
        if self.prediction == "x0":
            return out
        s = self.schedule
        return (
            extract(s.sqrt_recip_alphas_cumprod, t, x_t.shape) * x_t
            - extract(s.sqrt_recipm1_alphas_cumprod, t, x_t.shape) * out
        )

    def p_sample(
        self,
        denoiser: Denoiser,
        x_t: Tensor,
        t: Tensor,
        cond: Tensor | None = None,
        *,
        s: Tensor | None = None,
        sampling_noise: bool = False,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        r"""One reverse step $x_t \to x_s$ for rows at steps ``t`` ``[B]`` (all $\ge 1$),
        to ``s`` ``[B]`` ($s < t$; default $t - 1$). No noise is added when $s = 0$.

        Args:
            denoiser (Denoiser): The network.
            x_t (torch.Tensor): ``[B, D]`` rows at step ``t``.
            t (torch.Tensor): ``[B]`` steps.
            cond (torch.Tensor, optional): ``[B, C]`` condition.
            s (torch.Tensor, optional): ``[B]`` target steps. (default: ``t - 1``)
            sampling_noise (bool): Add the posterior noise $\sigma z$; without it
                the step returns the posterior mean. (default: ``False``)
            generator (torch.Generator, optional): Draws $z$.
        """
        x0_hat = self.predict_x0(denoiser, x_t, t, cond)
        mean, std = self.q_posterior(x0_hat, x_t, t, s)
        if not sampling_noise:
            return mean
        return mean + std * randn(x_t.shape, x_t, generator)

    def reverse(
        self,
        denoiser: Denoiser,
        x_t: Tensor,
        t_start: Tensor | int,
        cond: Tensor | None = None,
        *,
        steps: int | None = None,
        sampling_noise: bool = False,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        r"""Runs the reverse chain from step ``t_start`` down to $0$.

        By default row $b$ takes every step $t_0^{(b)}, t_0^{(b)} - 1, \ldots, 1$;
        steps where only some rows are still active denoise only those rows, so
        the cost is $\sum_b t_0^{(b)}$ denoiser rows. With ``steps`` $= K$ the
        chain is respaced: row $b$ jumps along
        $\tau_k = \lfloor t_0^{(b)} k / K \rfloor$, $k = K, \ldots, 0$, with the
        posterior of each jump (`q_posterior`), for $K$ denoiser calls per row
        ($K = 1$: the one-shot estimate $\hat x_0(x_{t_0}, t_0)$). Rows with
        $t_0 = 0$ come back unchanged.

        Args:
            denoiser (callable): $f_\theta(x_t, t[, c])$.
            x_t (torch.Tensor): ``[B, D]`` noised rows.
            t_start (torch.Tensor or int): ``[B]`` start steps in $[0, T]$, or one for all rows.
            cond (torch.Tensor, optional): ``[B, C]`` conditions.
            steps (int, optional): Respace the chain to this many jumps.
            sampling_noise (bool): Add the posterior noise at every step but the last.
            generator (torch.Generator, optional): Source of that noise.

        Returns:
            torch.Tensor: ``[B, D]`` denoised rows $\hat x_0$.
        """
        t_start = self._steps(t_start, x_t)
        if t_start.numel() == 0:
            return x_t.clone()
        if steps is not None:
            return self._reverse_respaced(
                denoiser, x_t, t_start, cond, steps, sampling_noise, generator
            )
        # Rows sorted by start step, latest first: the rows still denoising at
        # any step are a prefix, so each step works on a slice, not a gather.
        order = torch.argsort(t_start, descending=True, stable=True)
        x = x_t[order]
        c = cond[order] if cond is not None else None
        # active[k] = number of rows whose chain includes step k.
        active = (
            torch.bincount(t_start, minlength=self.num_steps + 1).flip(0).cumsum(0).flip(0).tolist()
        )
        for step in range(int(t_start.max()), 0, -1):
            n = active[step]
            t = torch.full((n,), step, dtype=torch.long, device=x.device)
            out = self.p_sample(
                denoiser,
                x[:n],
                t,
                c[:n] if c is not None else None,
                sampling_noise=sampling_noise,
                generator=generator,
            )
            x = out if n == x.size(0) else torch.cat([out, x[n:]])
        return x[torch.argsort(order)]

    def _reverse_respaced(
        self,
        denoiser: Denoiser,
        x_t: Tensor,
        t_start: Tensor,
        cond: Tensor | None,
        steps: int,
        sampling_noise: bool,
        generator: torch.Generator | None,
    ) -> Tensor:
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        k = torch.arange(steps, -1, -1, device=x_t.device)
        path = torch.div(
            t_start.unsqueeze(-1) * k, steps, rounding_mode="floor"
        )  # [B, K + 1], t_0 ... 0
        x = x_t
        for j in range(steps):
            t, s = path[:, j], path[:, j + 1]
            moving = t > s  # rows with t_0 < K stand still on some jumps
            # Rows standing still get a valid (t, s) pair too; their result is discarded.
            t = t.clamp(min=1)
            out = self.p_sample(
                denoiser,
                x,
                t,
                cond,
                s=torch.minimum(s, t - 1),
                sampling_noise=sampling_noise,
                generator=generator,
            )
            x = torch.where(moving.unsqueeze(-1), out, x)
        return x

    # --------------------------------------------------------------- loss
    def loss_weights(self) -> Tensor:
        """The ``[T + 1]`` per-step loss weights (entry 0 unused), all ones without ``reweight``."""
        s = self.schedule
        weights = torch.ones_like(s.alphas_cumprod)
        if not self.reweight or self.num_steps < 2:
            return weights
        steps = torch.arange(2, self.num_steps + 1, device=weights.device)
        w = s.snr(steps - 1).double() - s.snr(steps).double()
        if self.prediction == "epsilon":
            w = w / s.snr(steps).double()
        w = torch.cat([w[:1], w])
        weights[1:] = (w / w.mean()).to(weights.dtype)
        return weights

    def loss(
        self,
        denoiser: Denoiser,
        x0: Tensor,
        cond: Tensor | None = None,
        *,
        t: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        r"""The diffusion loss of every row, ``[B]``.

        Args:
            denoiser (callable): $f_\theta(x_t, t[, c])$.
            x0 (torch.Tensor): ``[B, D]`` clean rows (pass a detached copy to train
                the denoiser alone).
            cond (torch.Tensor, optional): ``[B, C]`` conditions.
            t (torch.Tensor, optional): ``[B]`` steps; drawn uniformly from
                $\{1, \ldots, T\}$ if not given.
            generator (torch.Generator, optional): Source of $t$ and of the noise.
        """
        if t is None:
            device = generator.device if generator is not None else x0.device
            t = torch.randint(
                1, self.num_steps + 1, (x0.size(0),), generator=generator, device=device
            )
        t = self._steps(t, x0)
        noise = randn(x0.shape, x0, generator)
        x_t = self.q_sample(x0, t, noise)
        out = denoiser(x_t, t, cond) if cond is not None else denoiser(x_t, t)
        target = x0 if self.prediction == "x0" else noise
        mse = F.mse_loss(out, target, reduction="none").flatten(1).mean(-1)
        if self.reweight:
            mse = mse * self.loss_weights()[t]
        return mse

    def extra_repr(self) -> str:
        return f"prediction={self.prediction!r}, reweight={self.reweight}"
