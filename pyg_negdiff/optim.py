r"""The trainer's optimizer: Adam, with lazy (row-wise) Adam for sparse embedding gradients.

With full propagation every parameter gets a dense gradient and one
`torch.optim.Adam` steps them all. Neighbour-subgraph training gathers the
embedding rows of a step's subgraph with sparse gradients (see
`pyg_negdiff.propagation.NeighborPropagation`), so that a step allocates and
updates only the rows it touched, not a table of the whole graph's size;
`torch.optim.SparseAdam` steps those (as PyG's own ``Node2Vec`` example
does) and Adam the rest. SparseAdam is Adam restricted to the touched rows
$\mathcal{R}_t$ of step $t$:

$$
m_r \leftarrow \beta_1 m_r + (1-\beta_1) g_r, \quad
v_r \leftarrow \beta_2 v_r + (1-\beta_2) g_r^2, \quad
\theta_r \leftarrow \theta_r - \eta\, \frac{m_r / (1-\beta_1^t)}{\sqrt{v_r / (1-\beta_2^t)} + \epsilon}
\qquad (r \in \mathcal{R}_t),
$$

rows outside $\mathcal{R}_t$ keep their moments and values (dense Adam
would decay their moments and still move them).
"""

from __future__ import annotations

from typing import Any, Iterable

import torch
from torch.nn import Parameter


class Optimizers:
    """Several optimizers stepped as one (the trainer's ``optimizer``).

    Args:
        *optimizers (torch.optim.Optimizer): Optimizers over disjoint parameters.

    Examples:
        >>> a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
        >>> opt = Optimizers(torch.optim.SGD([a], lr=0.5), torch.optim.SGD([b], lr=1.0))
        >>> (a.sum() + b.sum()).backward()
        >>> opt.step()
        >>> a.tolist(), b.tolist()
        ([0.5, 0.5], [0.0, 0.0])
    """

    def __init__(self, *optimizers: torch.optim.Optimizer) -> None:
        self.optimizers = list(optimizers)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """Every optimizer's parameter groups, in order."""
        return [group for opt in self.optimizers for group in opt.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears every optimizer's gradients.

        Args:
            set_to_none (bool): Set gradients to ``None`` instead of zero.
        """
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        """Steps every optimizer."""
        for opt in self.optimizers:
            opt.step()

    def state_dict(self) -> dict[str, Any]:
        """Every optimizer's state.

        Returns:
            dict: ``{"optimizers": [state_dict, ...]}``.
        """
        return {"optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what `state_dict` returned.

        Args:
            state (dict): ``{"optimizers": [...]}``, one entry per optimizer.
        """
        states = state.get("optimizers") if isinstance(state, dict) else None
        if states is None or len(states) != len(self.optimizers):
            raise ValueError(
                f"optimizer state holds {len(states) if states is not None else 'no'} "
                f"optimizers' states, expected {len(self.optimizers)}"
            )
        for opt, sub in zip(self.optimizers, states):
            opt.load_state_dict(sub)


def build_optimizer(
    params: Iterable[Parameter], lr: float, sparse: Iterable[Parameter] = ()
) -> torch.optim.Optimizer | Optimizers:
    """Adam over ``params``, and SparseAdam over the ``sparse`` ones among them.

    Args:
        params (Iterable[Parameter]): Every parameter to optimize.
        lr (float): Learning rate $\\eta$ of both.
        sparse (Iterable[Parameter]): Those that receive sparse gradients.

    Returns:
        torch.optim.Optimizer or Optimizers: ``Adam`` alone without sparse
        parameters, ``SparseAdam`` alone without dense ones, else both.

    Examples:
        >>> emb = torch.nn.Embedding(10, 4, sparse=True)
        >>> lin = torch.nn.Linear(4, 1)
        >>> opt = build_optimizer([*emb.parameters(), *lin.parameters()], 0.01, sparse=[emb.weight])
        >>> [type(o).__name__ for o in opt.optimizers]
        ['SparseAdam', 'Adam']
    """
    sparse_ids = {id(p) for p in sparse}
    params = list(params)
    sparse_params = [p for p in params if id(p) in sparse_ids]
    dense = [p for p in params if id(p) not in sparse_ids]
    if not sparse_params:
        return torch.optim.Adam(dense, lr=lr)
    if not dense:
        return torch.optim.SparseAdam(sparse_params, lr=lr)
    return Optimizers(torch.optim.SparseAdam(sparse_params, lr=lr), torch.optim.Adam(dense, lr=lr))


__all__ = ["Optimizers", "build_optimizer"]
