r"""Noise schedules of the Gaussian diffusion: betas and every term derived from them.

The schedule knows nothing about graphs or networks. It is computed once in
``float64`` and stored as ``float32`` buffers, so ``.to(device)`` and
``state_dict`` carry it with the module that owns it.
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

import torch
from torch import Tensor

ScheduleMode = Literal["linear", "linear-var", "cosine"]


def make_betas(
    mode: ScheduleMode,
    num_steps: int,
    *,
    scale: float = 0.1,
    beta_min: float = 1e-4,
    beta_max: float = 0.02,
    max_beta: float = 0.999,
) -> Tensor:
    r"""The ``[T]`` noise variances $\beta_1, \ldots, \beta_T$ of a schedule, in ``float64``.

    With $s$ the noise ``scale`` and $[\beta_{\min}, \beta_{\max}]$ the bounds:

    - ``"linear"``: the betas are linear, $\beta_t = s\,\mathrm{lin}_t$ with
      $\mathrm{lin}_t = \beta_{\min} + \frac{t-1}{T-1}(\beta_{\max} - \beta_{\min})$.
    - ``"linear-var"``: the total variance is linear, $1 - \bar\alpha_t = s\,\mathrm{lin}_t$,
      and $\beta_t = 1 - \bar\alpha_t / \bar\alpha_{t-1}$ (DiffRec's and CNSDiff's default).
    - ``"cosine"``: Nichol and Dhariwal's
      $\bar\alpha_t = f(t) / f(0)$, $f(t) = \cos^2\!\big(\frac{t/T + 0.008}{1.008}\frac{\pi}{2}\big)$,
      with $\beta_t = s\,(1 - \bar\alpha_t / \bar\alpha_{t-1})$. The bounds do not apply.

    Every $\beta_t$ is finally clipped to at most ``max_beta``.

    Args:
        mode (str): ``"linear"``, ``"linear-var"`` or ``"cosine"``.
        num_steps (int): Number of diffusion steps $T$.
        scale (float): Noise scale $s$. (default: ``0.1``)
        beta_min (float): Lower bound $\beta_{\min}$. (default: ``1e-4``)
        beta_max (float): Upper bound $\beta_{\max}$. (default: ``0.02``)
        max_beta (float): Clip of every $\beta_t$. (default: ``0.999``)

    Examples:
        >>> make_betas("linear", 3, scale=1.0, beta_min=0.1, beta_max=0.3).tolist()
        [0.1, 0.2, 0.3]
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if not 0 < beta_min <= beta_max < 1:
        raise ValueError(f"need 0 < beta_min <= beta_max < 1, got [{beta_min}, {beta_max}]")
    if mode in ("linear", "linear-var"):
        lin = torch.linspace(scale * beta_min, scale * beta_max, num_steps, dtype=torch.float64)
        if bool((lin >= 1).any()):
            raise ValueError(f"scale * beta_max = {scale * beta_max} must stay below 1")
        if mode == "linear":
            betas = lin
        else:
            alpha_bar = torch.cat([lin.new_ones(1), 1 - lin])
            betas = 1 - alpha_bar[1:] / alpha_bar[:-1]
    elif mode == "cosine":
        steps = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps
        f = torch.cos((steps + 0.008) / 1.008 * math.pi / 2).pow(2)
        betas = scale * (1 - f[1:] / f[:-1]).clamp(max=max_beta)
    else:
        raise ValueError(
            f"unknown schedule mode {mode!r}; expected 'linear', 'linear-var' or 'cosine'"
        )
    return betas.clamp(max=max_beta)


def extract(a: Tensor, t: Tensor, shape: Sequence[int] | torch.Size) -> Tensor:
    r"""Gathers ``a[t]`` and reshapes it to broadcast against a tensor of ``shape``.

    Args:
        a (torch.Tensor): A ``[T + 1]`` schedule buffer.
        t (torch.Tensor): ``[B]`` timesteps (``long``).
        shape (tuple): Shape ``[B, ...]`` of the tensor to scale.

    Returns:
        torch.Tensor: ``[B, 1, ..., 1]`` with ``len(shape)`` dimensions.
    """
    out = a.gather(0, t.reshape(-1).to(a.device))
    return out.view(t.numel(), *([1] * (len(shape) - 1)))


class NoiseSchedule(torch.nn.Module):
    r"""A discrete Gaussian noise schedule and its precomputed terms.

    The forward process adds noise in $T$ steps,
    $q(x_t \mid x_{t-1}) = \mathcal{N}(\sqrt{1 - \beta_t}\, x_{t-1}, \beta_t I)$, so that

    $$
    q(x_t \mid x_0) = \mathcal{N}\big(\sqrt{\bar\alpha_t}\, x_0,\ (1 - \bar\alpha_t) I\big),
    \qquad \bar\alpha_t = \prod_{s=1}^{t} (1 - \beta_s),
    $$

    and the posterior of one reverse step is
    $q(x_{t-1} \mid x_t, x_0) = \mathcal{N}(c_1(t)\, x_0 + c_2(t)\, x_t,\ \tilde\beta_t I)$ with

    $$
    c_1(t) = \frac{\beta_t \sqrt{\bar\alpha_{t-1}}}{1 - \bar\alpha_t},\quad
    c_2(t) = \frac{(1 - \bar\alpha_{t-1})\sqrt{1 - \beta_t}}{1 - \bar\alpha_t},\quad
    \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}\beta_t .
    $$

    Timesteps are counted from $1$ to $T$; every buffer has $T + 1$ entries
    and entry $0$ is the clean state ($\bar\alpha_0 = 1$, $\beta_0 = 0$), so
    ``buffer[t]`` is the value at step ``t``. The defaults are those of
    CNSDiff's published code: 20 steps of ``"linear-var"`` at scale ``0.1`` in
    $[10^{-4}, 0.02]$, where $1 - \bar\alpha_T = 0.002$ (noise standard
    deviation at most $0.045$).

    Args:
        num_steps (int): Number of steps $T$. (default: ``20``)
        mode (str): ``"linear"``, ``"linear-var"`` or ``"cosine"`` (see `make_betas`).
            (default: ``"linear-var"``)
        scale (float): Noise scale $s$. (default: ``0.1``)
        beta_min (float): Lower bound of the linear modes. (default: ``1e-4``)
        beta_max (float): Upper bound of the linear modes. (default: ``0.02``)

    Examples:
        >>> s = NoiseSchedule(num_steps=20)
        >>> round(float(s.alphas_cumprod[20]), 6)
        0.998
        >>> s.alphas_cumprod.shape
        torch.Size([21])
    """

    betas: Tensor
    alphas_cumprod: Tensor
    alphas_cumprod_prev: Tensor
    sqrt_alphas_cumprod: Tensor
    sqrt_one_minus_alphas_cumprod: Tensor
    sqrt_recip_alphas_cumprod: Tensor
    sqrt_recipm1_alphas_cumprod: Tensor
    posterior_variance: Tensor
    posterior_mean_coef1: Tensor
    posterior_mean_coef2: Tensor

    def __init__(
        self,
        num_steps: int = 20,
        mode: ScheduleMode = "linear-var",
        scale: float = 0.1,
        beta_min: float = 1e-4,
        beta_max: float = 0.02,
    ) -> None:
        super().__init__()
        self.num_steps = num_steps
        self.mode = mode
        self.scale = scale
        self.beta_min = beta_min
        self.beta_max = beta_max
        betas = make_betas(mode, num_steps, scale=scale, beta_min=beta_min, beta_max=beta_max)
        for name, value in self._derive(betas).items():
            self.register_buffer(name, value.to(torch.float32))

    @staticmethod
    def _derive(betas: Tensor) -> dict[str, Tensor]:
        """All terms of the schedule, in float64, each ``[T + 1]`` with entry 0 the clean state."""
        betas = torch.cat([betas.new_zeros(1), betas])
        alphas = 1 - betas
        ab = torch.cumprod(alphas, 0)
        ab_prev = torch.cat([ab.new_ones(1), ab[:-1]])
        # Entry 0 divides 0 by 0: it is never used by a reverse step, define it as x_0 itself.
        denom = (1 - ab).clone()
        denom[0] = 1.0
        post_var = betas * (1 - ab_prev) / denom
        coef1 = betas * ab_prev.sqrt() / denom
        coef2 = (1 - ab_prev) * alphas.sqrt() / denom
        coef1[0], coef2[0] = 1.0, 0.0
        return {
            "betas": betas,
            "alphas_cumprod": ab,
            "alphas_cumprod_prev": ab_prev,
            "sqrt_alphas_cumprod": ab.sqrt(),
            "sqrt_one_minus_alphas_cumprod": (1 - ab).sqrt(),
            "sqrt_recip_alphas_cumprod": ab.rsqrt(),
            "sqrt_recipm1_alphas_cumprod": (1 / ab - 1).sqrt(),
            "posterior_variance": post_var,
            "posterior_mean_coef1": coef1,
            "posterior_mean_coef2": coef2,
        }

    def snr(self, t: Tensor) -> Tensor:
        r"""Signal-to-noise ratio $\bar\alpha_t / (1 - \bar\alpha_t)$ (infinite at $t = 0$).

        Args:
            t (torch.Tensor): Steps, any shape.
        """
        # 1 - alpha_bar from its own float64-derived buffer: exact even where alpha_bar ~ 1.
        return self.alphas_cumprod[t] / self.sqrt_one_minus_alphas_cumprod[t].pow(2)

    def extra_repr(self) -> str:
        return (
            f"num_steps={self.num_steps}, mode={self.mode!r}, scale={self.scale}, "
            f"beta_min={self.beta_min}, beta_max={self.beta_max}"
        )
