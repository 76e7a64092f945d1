r"""The denoising network: maps a noised row, its timestep and an optional condition to a vector.

It knows nothing about betas: whether its output is read as $\hat x_0$ or as
$\hat\epsilon$ is decided by `GaussianDiffusion`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    r"""Sinusoidal embedding of timesteps, ``[B] -> [B, dim]``.

    $$
    \phi(t)_{k} = \cos(t\,\omega_k),\quad \phi(t)_{k + \lfloor d/2 \rfloor} = \sin(t\,\omega_k),
    \qquad \omega_k = P^{-k / \lfloor d/2 \rfloor},
    $$

    with $P$ the ``max_period``; an odd ``dim`` is padded with one zero.

    Args:
        t (torch.Tensor): ``[B]`` timesteps (any numeric dtype; read as ``float``).
        dim (int): Embedding size $d$.
        max_period (float): Period $P$ of the slowest frequency.

    Returns:
        torch.Tensor: ``[B, dim]`` ``float32`` embeddings on the device of ``t``.

    Examples:
        >>> timestep_embedding(torch.tensor([0, 3]), 4).shape
        torch.Size([2, 4])
    """
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half
    )
    args = t.float().unsqueeze(-1) * freqs
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class MLPDenoiser(torch.nn.Module):
    r"""An MLP denoiser on $[x_t \Vert \phi(t) \Vert c]$, as in DiffRec and CNSDiff.

    $$
    h_1 = \sigma\big(W_x x_t + W_t\,\phi(t) + W_c\,c + b_1\big),\qquad
    h_{k+1} = \sigma(W_k h_k + b_k),\qquad
    f_\theta(x_t, t, c) = W_{\text{out}} h_K + b_{\text{out}},
    $$

    where $\phi$ is `timestep_embedding` and $c$ an optional condition (the
    user's embedding in ADAR). The first layer is one linear map of the
    concatenation, split into blocks so that the time term is computed once
    per distinct timestep of the batch.

    Args:
        embedding_dim (int): Size $D$ of the rows to denoise (input and output).
        hidden_channels (int): Width of the hidden layers. (default: ``64``)
        num_layers (int): Number of hidden layers $K$. (default: ``1``)
        time_dim (int): Size of the sinusoidal time embedding. (default: ``32``)
        cond_dim (int, optional): Size of the condition $c$; ``None`` for an
            unconditional denoiser. (default: ``None``)
        dropout (float): Dropout on the input row during training. (default: ``0.0``)

    Shapes:
        - **input:** $x_t$ ``[B, D]``, $t$ ``[B]``, optional $c$ ``[B, C]``
        - **output:** ``[B, D]``

    Examples:
        >>> net = MLPDenoiser(8, hidden_channels=16, cond_dim=4)
        >>> net(torch.randn(5, 8), torch.tensor([1, 2, 3, 4, 5]), torch.randn(5, 4)).shape
        torch.Size([5, 8])
    """

    def __init__(
        self,
        embedding_dim: int,
        hidden_channels: int = 64,
        num_layers: int = 1,
        *,
        time_dim: int = 32,
        cond_dim: int | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.embedding_dim = embedding_dim
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.time_dim = time_dim
        self.cond_dim = cond_dim
        self.dropout = dropout
        self.in_x = torch.nn.Linear(embedding_dim, hidden_channels)
        self.in_t = torch.nn.Linear(time_dim, hidden_channels, bias=False)
        self.in_c = torch.nn.Linear(cond_dim, hidden_channels, bias=False) if cond_dim else None
        self.hidden = torch.nn.ModuleList(
            torch.nn.Linear(hidden_channels, hidden_channels) for _ in range(num_layers - 1)
        )
        self.out = torch.nn.Linear(hidden_channels, embedding_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in self.modules():
            if isinstance(module, torch.nn.Linear):
                torch.nn.init.xavier_normal_(module.weight)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)

    def forward(self, x: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        r"""The prediction for noised rows ``x`` at steps ``t``.

        Args:
            x (torch.Tensor): ``[B, D]`` noised rows.
            t (torch.Tensor): ``[B]`` diffusion steps.
            cond (torch.Tensor, optional): ``[B, cond_dim]`` condition; required
                exactly when the denoiser was built with ``cond_dim``.

        Returns:
            torch.Tensor: ``[B, D]``: $\hat x_0$ or $\hat\epsilon$, as trained.
        """
        if (cond is None) != (self.in_c is None):
            raise ValueError(
                "a condition is required exactly when the denoiser was built with cond_dim"
            )
        x = F.dropout(x, self.dropout, self.training)
        steps, inverse = torch.unique(t, return_inverse=True)
        time = self.in_t(timestep_embedding(steps, self.time_dim))
        if steps.numel() == 1:  # one step for all rows (a reverse chain): fold it into the bias
            h = F.linear(x, self.in_x.weight, self.in_x.bias + time[0])
        else:
            h = self.in_x(x) + time[inverse]
        if self.in_c is not None:
            h = h + self.in_c(cond)
        h = F.silu(h)
        for layer in self.hidden:
            h = F.silu(layer(h))
        return self.out(h)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.embedding_dim}, hidden_channels={self.hidden_channels}, "
            f"num_layers={self.num_layers}, cond_dim={self.cond_dim})"
        )
