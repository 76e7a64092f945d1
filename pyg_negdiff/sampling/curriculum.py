r"""Draws of CNSDiff's hardness curriculum: the share $\lambda$ of the synthesized
negative is Beta-distributed, with parameters that move with the training progress."""

from __future__ import annotations

import torch
from torch import Tensor


def sample_beta(
    a: float,
    b: float,
    num: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    r"""``[num]`` draws of $\mathrm{Beta}(a, b)$ as $X / (X + Y)$, $X \sim \Gamma(a)$, $Y \sim \Gamma(b)$.

    Unlike `torch.distributions.Beta`, it draws from ``generator``.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = sample_beta(9.0, 1.0, 10000, g)
        >>> bool(x.min() >= 0 and x.max() <= 1), round(x.mean().item(), 1)
        (True, 0.9)
    """
    gen_device = generator.device if generator is not None else device
    x = torch._standard_gamma(torch.full((num,), float(a), device=gen_device), generator=generator)
    y = torch._standard_gamma(torch.full((num,), float(b), device=gen_device), generator=generator)
    out = x / (x + y).clamp_min(torch.finfo(x.dtype).tiny)
    return out.to(device) if device is not None else out


__all__ = ["sample_beta"]
