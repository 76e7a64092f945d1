r"""A learnable vector per environment, to condition the diffusion denoiser on it.

It lives beside the denoiser, which it feeds, and is re-exported by
`pyg_negdiff.causal`, whose `EnvironmentInference` produces its input.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["EnvironmentEmbedding"]


class EnvironmentEmbedding(torch.nn.Module):
    r"""Embeds hard or soft environment assignments: $c = W^\top q$.

    A hard label $e$ gives the row $w_e$ of the weight $W \in \mathbb{R}^{K \times D}$;
    a soft assignment $q \in \Delta^{K-1}$ gives the mixture
    $\sum_e q_e\, w_e$, so both kinds of `EnvironmentInference` output condition
    alike. Pass the result as the condition of a denoiser built with
    ``cond_dim=embedding_dim`` (e.g. ``MLPDenoiser``), to model
    $p(z_T \mid \mathrm{do}(z_0), E)$ instead of $p(z_T \mid z_0)$.

    Args:
        num_environments (int): $K$.
        embedding_dim (int): $D$.

    Shapes:
        - **input:** ``[B]`` ``long`` labels or ``[B, K]`` float weights
        - **output:** ``[B, D]``

    Examples:
        >>> emb = EnvironmentEmbedding(3, 4)
        >>> hard = emb(torch.tensor([2, 0]))
        >>> soft = emb(torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))
        >>> hard.shape, bool(torch.allclose(hard, soft))
        (torch.Size([2, 4]), True)
    """

    def __init__(self, num_environments: int, embedding_dim: int) -> None:
        super().__init__()
        self.num_environments = num_environments
        self.embedding_dim = embedding_dim
        self.weight = torch.nn.Parameter(torch.empty(num_environments, embedding_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.normal_(self.weight, std=0.1)

    def forward(self, env: Tensor) -> Tensor:
        """The environments' embedding rows, or their mixture for soft weights.

        Args:
            env (torch.Tensor): ``[B]`` labels in ``[0, K)`` or ``[B, K]`` weights.

        Returns:
            torch.Tensor: ``[B, environment_dim]``.
        """
        if env.dim() == 1:
            if env.numel():
                lo, hi = torch.stack(torch.aminmax(env)).tolist()  # one device sync
                if not 0 <= lo <= hi < self.num_environments:
                    raise ValueError(
                        f"environment labels must lie in [0, {self.num_environments}), "
                        f"got [{lo}, {hi}]"
                    )
            return self.weight[env.long()]
        if env.dim() == 2 and env.size(-1) == self.num_environments:
            return env.to(self.weight.dtype) @ self.weight
        raise ValueError(
            f"expected [B] labels or [B, {self.num_environments}] weights, "
            f"got {tuple(env.shape)}"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_environments}, {self.embedding_dim})"
