r"""Risk penalties across environments: V-REx (variance of risks) and IRMv1 (gradient norm).

Both take the per-interaction training losses of a batch and the batch's
environment assignment, hard (``[B]`` ``long``) or soft (``[B, K]`` rows of
weights), and return one scalar to minimize. The per-environment risk is the
(weighted) mean loss of the environment's interactions,

$$
R_e = \frac{\sum_{i \in \mathcal{B}} w_{ie}\, \ell_i}{\sum_{i \in \mathcal{B}} w_{ie}},
$$

with $w_{ie} = \mathbb{1}[e_i = e]$ for hard labels. Environments with no
weight in the batch are skipped: they have no risk to compare.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.utils import scatter

Reduction = Literal["environments", "interactions"]

__all__ = [
    "PENALTIES",
    "environment_risks",
    "EnvironmentPenalty",
    "VarianceRiskPenalty",
    "IRMPenalty",
    "MarginVariancePenalty",
    "BalancedRisk",
    "margin_from_bpr",
]


def _check(values: Tensor, env: Tensor, name: str = "loss") -> None:
    if values.dim() != 1:
        raise ValueError(
            f"'{name}' must be a [B] tensor of per-interaction values, got {tuple(values.shape)}"
        )
    if env.size(0) != values.size(0) or env.dim() not in (1, 2):
        raise ValueError(
            f"'env' must have shape [B] or [B, K] with B={values.size(0)}, "
            f"got {tuple(env.shape)}"
        )


def environment_risks(
    loss: Tensor,
    env: Tensor,
    num_environments: int | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Mean loss $R_e$ and total weight $W_e$ of every environment.

    Hard labels use `torch_geometric.utils.scatter` on the loss's device; soft
    assignments ``[B, K]`` give weighted means
    $R_e = \sum_i w_{ie}\ell_i / W_e$ with $W_e = \sum_i w_{ie}$. An environment
    with $W_e = 0$ gets $R_e = 0$; callers drop it through ``weight > 0``.

    Args:
        loss (torch.Tensor): ``[B]`` per-interaction losses.
        env (torch.Tensor): ``[B]`` ``long`` labels or ``[B, K]`` non-negative weights.
        num_environments (int, optional): $K$ for hard labels (default: ``env.max() + 1``).

    Returns:
        tuple[torch.Tensor, torch.Tensor]: ``risks`` ``[K]`` and ``weight`` ``[K]``.

    Examples:
        >>> loss = torch.tensor([1.0, 3.0, 2.0])
        >>> environment_risks(loss, torch.tensor([0, 0, 2]), 3)
        (tensor([2., 0., 2.]), tensor([2., 0., 1.]))
    """
    _check(loss, env)
    env = env.to(loss.device)
    if env.dim() == 1:
        env = env.long()
        size = (
            num_environments
            if num_environments is not None
            else int(env.max()) + 1 if env.numel() else 0
        )
        risks = scatter(loss, env, dim=0, dim_size=size, reduce="mean")
        weight = scatter(torch.ones_like(loss), env, dim=0, dim_size=size, reduce="sum")
        return risks, weight
    w = env.to(loss.dtype)
    weight = w.sum(0)
    risks = (w * loss.unsqueeze(-1)).sum(0) / weight.clamp_min(torch.finfo(loss.dtype).tiny)
    return risks, weight


def margin_from_bpr(loss: Tensor) -> Tensor:
    r"""Recovers the margin $m = s_{ui} - s_{uj}$ from a BPR loss $\ell = \operatorname{softplus}(-m)$.

    $m = -\log(e^{\ell} - 1)$, computed as $-\ell - \log(1 - e^{-\ell})$ for
    stability; exact for one negative per positive (with several negatives the
    loss is a mean of softplus terms and this is the margin of an equivalent
    single negative). Losses are clamped at $10^{-12}$ from below.

    Args:
        loss (torch.Tensor): Per-interaction BPR losses, any shape (e.g. ``[B]``).

    Returns:
        torch.Tensor: The margins, same shape as ``loss``.

    Examples:
        >>> m = torch.tensor([-2.0, 0.0, 3.0])
        >>> margin_from_bpr(F.softplus(-m)).round(decimals=4)
        tensor([-2.,  0.,  3.])
    """
    loss = loss.clamp_min(1e-12)
    return -loss - torch.log(-torch.expm1(-loss))


def _margins(loss: Tensor, env: Tensor, margin: Tensor | None) -> Tensor:
    """The margins a penalty was given (checked, in the loss's dtype), else recovered from the loss."""
    if margin is None:
        return margin_from_bpr(loss)
    _check(margin, env, "margin")
    return margin.to(loss.dtype)


class EnvironmentPenalty(torch.nn.Module, ABC):
    r"""Base class of the environment penalties: maps per-interaction losses to one risk.

    Called as ``penalty(loss, env, margin=None)``; returns

    $$
    \mathcal{L} = \frac{1}{|\mathcal{E}_B|}\sum_{e \in \mathcal{E}_B} R_e + \lambda\,\Omega,
    $$

    where $\mathcal{E}_B$ are the environments present in the batch and
    $\Omega$ the subclass's term. The first term weighs every environment
    equally, which up-weights the interactions of small environments; with
    ``reduction="interactions"`` it is the plain mean loss
    $\frac{1}{|\mathcal{B}|}\sum_i \ell_i$ instead, so that only $\Omega$ departs
    from ordinary training.

    With ``warmup_steps`` the weight is $0$ for the first calls (one call per
    training batch) and $\lambda$ afterwards, the penalty annealing of the IRM
    and V-REx reference code: a strong penalty from the first step can stall
    learning in a trivial solution with equal, uninformative risks. The call
    count is kept in ``num_calls`` (and in ``state_dict()``, for checkpoints);
    `reset` sets it back to zero.

    Args:
        weight (float): $\lambda$, the penalty weight ($\lambda = 0$ gives the
            environment-balanced risk $\frac{1}{|\mathcal{E}_B|}\sum_e R_e$).
        reduction (str): ``"environments"`` (default) or ``"interactions"``, the first term.
        warmup_steps (int): Calls before the penalty switches on. (default: ``0``)
        min_weight (float): Environments whose total weight in the batch is at
            most this are skipped. (default: ``0.0``, only empty ones)
        num_environments (int, optional): $K$, to spare a device sync on
            ``env.max()`` for hard labels.
    """

    def __init__(
        self,
        weight: float = 1.0,
        *,
        reduction: Reduction = "environments",
        warmup_steps: int = 0,
        min_weight: float = 0.0,
        num_environments: int | None = None,
    ) -> None:
        super().__init__()
        if weight < 0:
            raise ValueError(f"the penalty weight must be >= 0, got {weight}")
        if reduction not in ("environments", "interactions"):
            raise ValueError(
                f"reduction must be 'environments' or 'interactions', got {reduction!r}"
            )
        self.weight = float(weight)
        self.reduction = reduction
        self.warmup_steps = int(warmup_steps)
        self.min_weight = float(min_weight)
        self.num_environments = num_environments
        self.num_calls = 0

    def reset(self) -> None:
        """Restarts the warm-up."""
        self.num_calls = 0

    # The warm-up count is state a resumed run must restore: it travels in `state_dict()`.
    def get_extra_state(self) -> dict[str, int]:
        """The warm-up count, stored under ``_extra_state`` in `state_dict`."""
        return {"num_calls": int(self.num_calls)}

    def set_extra_state(self, state: dict[str, int]) -> None:
        """Restores the warm-up count (`load_state_dict`).

        Args:
            state (dict): What `get_extra_state` returned.
        """
        self.num_calls = int(state["num_calls"])

    @property
    def current_weight(self) -> float:
        r"""$\lambda$ at the next call: ``0`` during the warm-up."""
        return self.weight if self.num_calls >= self.warmup_steps else 0.0

    def forward(self, loss: Tensor, env: Tensor, margin: Tensor | None = None) -> Tensor:
        r"""The penalized risk: the base risk plus $\lambda\,\Omega$ (only the base during warm-up).

        Args:
            loss (torch.Tensor): ``[B]`` per-interaction losses (e.g. `pyg_negdiff.loss.bpr_loss`).
            env (torch.Tensor): ``[B]`` ``long`` or ``[B, K]`` soft environment assignment.
            margin (torch.Tensor, optional): ``[B]`` score margins $s_{ui} - s_{uj}$
                (used by `IRMPenalty`; ignored by `VarianceRiskPenalty`).

        Returns:
            torch.Tensor: A scalar to minimize.
        """
        _check(loss, env)
        weight = self.current_weight
        if self.training and torch.is_grad_enabled():
            self.num_calls += 1
        if loss.numel() == 0:
            return loss.sum()
        risks, mass = environment_risks(loss, env, self.num_environments)
        present = mass > self.min_weight
        if not bool(present.any()):  # nothing heavy enough: fall back to the plain mean
            return loss.mean()
        base = risks[present].mean() if self.reduction == "environments" else loss.mean()
        if weight == 0.0:
            return base
        return base + weight * self.regularizer(loss, env, risks, present, margin)

    @abstractmethod
    def regularizer(
        self, loss: Tensor, env: Tensor, risks: Tensor, present: Tensor, margin: Tensor | None
    ) -> Tensor:
        r"""The term $\Omega$ multiplied by the weight.

        Args:
            loss (torch.Tensor): ``[B]`` per-interaction losses.
            env (torch.Tensor): ``[B]`` labels or ``[B, K]`` soft assignment.
            risks (torch.Tensor): ``[K]`` environment risks $R_e$.
            present (torch.Tensor): ``[K]`` ``bool``: environments heavy enough to count.
            margin (torch.Tensor, optional): ``[B]`` score margins (IRM).

        Returns:
            torch.Tensor: A scalar.
        """

    def extra_repr(self) -> str:
        out = f"weight={self.weight}"
        if self.reduction != "environments":
            out += f", reduction={self.reduction!r}"
        if self.warmup_steps:
            out += f", warmup_steps={self.warmup_steps}"
        return out + (f", min_weight={self.min_weight}" if self.min_weight else "")


class VarianceRiskPenalty(EnvironmentPenalty):
    r"""V-REx: the variance of the environment risks (Krueger et al., ICML 2021).

    $$
    \mathcal{L} = \frac{1}{|\mathcal{E}|}\sum_{e \in \mathcal{E}} R_e
      + \lambda\,\operatorname{Var}_{e \in \mathcal{E}}(R_e),
    \qquad \operatorname{Var}_e(R_e) = \frac{1}{|\mathcal{E}|}\sum_{e}\Big(R_e - \frac{1}{|\mathcal{E}|}\sum_{e'} R_{e'}\Big)^2,
    $$

    over the environments $\mathcal{E}$ present in the batch. The variance is
    the *population* variance, so one environment gives exactly the plain mean
    loss (an unbiased variance would be undefined there). Minimizing it pushes
    the model towards equal risk in every environment, i.e. towards the part of
    the signal that does not depend on the environment.

    The variance can also be lowered by making the *best* environments worse,
    and on popularity environments that is what a strong penalty does: it
    raises the head's risk. With ``one_sided=True`` only environments above the
    mean count, against a mean held constant ($\mathrm{sg}$: no gradient),

    $$
    \Omega_{+} = \frac{1}{|\mathcal{E}|}\sum_{e}\max\big(0,\ R_e - \mathrm{sg}(\bar R)\big)^2,
    \qquad \bar R = \frac{1}{|\mathcal{E}|}\sum_{e} R_e,
    $$

    so the penalty's gradient only ever lowers the risk of the environments
    the model serves worst. It is still zero at equal risks and for one
    environment.

    Args:
        weight (float): $\lambda$. (default: ``1.0``)
        one_sided (bool): Penalize only the environments above the mean risk
            ($\Omega_{+}$). (default: ``False``)
        reduction (str): ``"environments"`` or ``"interactions"`` (see
            `EnvironmentPenalty`). (default: ``"environments"``)
        warmup_steps (int): Calls before the penalty switches on. (default: ``0``)
        min_weight (float): Environments with at most this total weight in
            the batch are skipped. (default: ``0.0``)
        num_environments (int, optional): $K$ for hard labels (saves a device sync).

    Examples:
        >>> penalty = VarianceRiskPenalty(weight=2.0)
        >>> loss = torch.tensor([1.0, 3.0, 2.0, 6.0])
        >>> penalty(loss, torch.tensor([0, 0, 1, 1]))  # R = (2, 4): mean 3, var 1
        tensor(5.)
        >>> penalty(loss, torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]))
        tensor(5.)
        >>> VarianceRiskPenalty(weight=2.0, one_sided=True)(loss, torch.tensor([0, 0, 1, 1]))  # (4 - 3)^2 / 2
        tensor(4.)
    """

    def __init__(
        self,
        weight: float = 1.0,
        *,
        one_sided: bool = False,
        reduction: Reduction = "environments",
        warmup_steps: int = 0,
        min_weight: float = 0.0,
        num_environments: int | None = None,
    ) -> None:
        super().__init__(
            weight,
            reduction=reduction,
            warmup_steps=warmup_steps,
            min_weight=min_weight,
            num_environments=num_environments,
        )
        self.one_sided = bool(one_sided)

    def regularizer(
        self, loss: Tensor, env: Tensor, risks: Tensor, present: Tensor, margin: Tensor | None
    ) -> Tensor:
        r = risks[present]
        if self.one_sided:
            return (r - r.mean().detach()).clamp_min(0.0).pow(2).mean()
        return (r - r.mean()).pow(2).mean()

    def extra_repr(self) -> str:
        return super().extra_repr() + (", one_sided=True" if self.one_sided else "")


class IRMPenalty(EnvironmentPenalty):
    r"""IRMv1: the squared gradient of every environment risk with respect to a dummy scale
    (Arjovsky et al., 2019), written for BPR.

    IRMv1 multiplies the model output by a scalar $w$ and penalizes
    $\lVert \nabla_{w \mid w=1} R_e(w) \rVert^2$: at an invariant predictor,
    rescaling cannot lower the risk of any environment. For BPR the output that
    is rescaled is the score margin $m_i = s_{ui} - s_{uj}$, so
    $\ell_i(w) = \operatorname{softplus}(-w\, m_i)$ and the gradient has the
    closed form

    $$
    g_e = \frac{\partial R_e}{\partial w}\Big|_{w=1}
        = -\frac{\sum_i w_{ie}\, m_i\, \sigma(-m_i)}{\sum_i w_{ie}},
    \qquad
    \mathcal{L} = \frac{1}{|\mathcal{E}|}\sum_{e} R_e + \lambda\,\frac{1}{|\mathcal{E}|}\sum_{e} g_e^2 .
    $$

    (IRM sums over environments; the mean keeps $\lambda$ comparable across
    $|\mathcal{E}|$.) Pass the margins as ``margin``; without them they are
    recovered from the loss with `margin_from_bpr`, which is exact for BPR with
    one negative per positive.

    Args:
        weight (float): $\lambda$. (default: ``1.0``)
        reduction (str): ``"environments"`` or ``"interactions"`` (see
            `EnvironmentPenalty`). (default: ``"environments"``)
        warmup_steps (int): Calls before the penalty switches on. (default: ``0``)
        min_weight (float): Environments with at most this total weight in
            the batch are skipped. (default: ``0.0``)
        num_environments (int, optional): $K$ for hard labels (saves a device sync).

    Examples:
        >>> m = torch.tensor([2.0, -1.0, 0.5])
        >>> penalty = IRMPenalty(weight=1.0)
        >>> out = penalty(F.softplus(-m), torch.tensor([0, 1, 1]), margin=m)
        >>> round(float(out), 4)
        0.5755
    """

    def regularizer(
        self, loss: Tensor, env: Tensor, risks: Tensor, present: Tensor, margin: Tensor | None
    ) -> Tensor:
        margin = _margins(loss, env, margin)
        grad = -margin * torch.sigmoid(-margin)  # d softplus(-w m) / dw at w = 1
        g, _ = environment_risks(grad, env, risks.numel() if env.dim() == 1 else None)
        return g[present].pow(2).mean()


class MarginVariancePenalty(EnvironmentPenalty):
    r"""V-REx on the BPR margin: the variance across environments of the mean score margin.

    V-REx (`VarianceRiskPenalty`) equalizes the environment *risks*
    $R_e = \operatorname{mean}_e \operatorname{softplus}(-m_i)$; the softplus flattens as the
    margin $m_i = s_{ui} - s_{uj}$ grows, so environments the model already ranks well stop
    counting. A ranking is invariant across environments when the margin is, so this penalty
    equalizes the environment means of the margin itself (issue 22, hypothesis 3b):

    $$
    M_e = \frac{\sum_i w_{ie}\, m_i}{\sum_i w_{ie}}, \qquad
    \mathcal{L} = \frac{1}{|\mathcal{E}|}\sum_{e} R_e
      + \lambda\,\frac{1}{|\mathcal{E}|}\sum_{e}\big(M_e - \bar M\big)^2,
    \qquad \bar M = \frac{1}{|\mathcal{E}|}\sum_{e} M_e,
    $$

    over the environments present in the batch (the population variance: one environment
    gives the plain risk). With popularity environments it asks head and tail positives to be
    separated from their negatives by the same amount; with the users' activity
    (``environments="activity"``), heavy and light users. Pass the margins as ``margin`` (the
    trainer does); without them they are recovered with `margin_from_bpr`.

    Args:
        weight (float): $\lambda$. (default: ``1.0``)
        reduction (str): ``"environments"`` or ``"interactions"`` (see
            `EnvironmentPenalty`). (default: ``"environments"``)
        warmup_steps (int): Calls before the penalty switches on. (default: ``0``)
        min_weight (float): Environments with at most this total weight in
            the batch are skipped. (default: ``0.0``)
        num_environments (int, optional): $K$ for hard labels (saves a device sync).

    Examples:
        >>> m = torch.tensor([2.0, 4.0, 1.0, 1.0])
        >>> penalty = MarginVariancePenalty(weight=1.0)
        >>> risk = penalty(F.softplus(-m), torch.tensor([0, 0, 1, 1]), margin=m)  # M = (3, 1)
        >>> round(float(risk - (F.softplus(-m[:2]).mean() + F.softplus(-m[2:]).mean()) / 2), 4)
        1.0
    """

    def regularizer(
        self, loss: Tensor, env: Tensor, risks: Tensor, present: Tensor, margin: Tensor | None
    ) -> Tensor:
        margin = _margins(loss, env, margin)
        means, _ = environment_risks(margin, env, risks.numel() if env.dim() == 1 else None)
        m = means[present]
        return (m - m.mean()).pow(2).mean()


class BalancedRisk(EnvironmentPenalty):
    r"""The environment-balanced risk alone: no invariance term (the control of the penalties).

    Every penalty's first term (``reduction="environments"``) weighs each environment
    equally,

    $$
    \mathcal{L} = \frac{1}{|\mathcal{E}_B|}\sum_{e \in \mathcal{E}_B} R_e ,
    $$

    so an interaction of a small environment counts more than in the plain mean (group-
    balanced ERM). This class keeps that term and adds nothing ($\Omega = 0$), which
    separates what the re-weighting does from what a penalty's $\Omega$ does (issue 22:
    V-REx on the margin over the users' activity moved the temporal split at weight 0.1 as at
    weight 1 and 10). Its weight only switches it on (``penalty_weight > 0``).

    Args:
        weight (float): Unused beyond $\lambda > 0$ switching the run's penalty on.
        reduction (str): ``"environments"`` (the point of this class) or ``"interactions"``
            (then it is the plain mean loss).
        warmup_steps (int): Calls before the balanced risk replaces the plain mean.
        min_weight (float): Environments with at most this total weight are skipped.
        num_environments (int, optional): $K$ for hard labels (saves a device sync).

    Examples:
        >>> loss = torch.tensor([1.0, 1.0, 1.0, 4.0])
        >>> BalancedRisk()(loss, torch.tensor([0, 0, 0, 1]))  # (1 + 4) / 2, not 7 / 4
        tensor(2.5000)
    """

    def regularizer(
        self, loss: Tensor, env: Tensor, risks: Tensor, present: Tensor, margin: Tensor | None
    ) -> Tensor:
        return loss.new_zeros(())


#: Penalty name to class (V-REx, IRMv1, V-REx on the margin, and the balanced risk alone as
#: their control): a new penalty is one subclass of `EnvironmentPenalty` and one entry here.
PENALTIES: dict[str, type[EnvironmentPenalty]] = {
    "vrex": VarianceRiskPenalty,
    "irm": IRMPenalty,
    "margin-vrex": MarginVariancePenalty,
    "balanced": BalancedRisk,
}
