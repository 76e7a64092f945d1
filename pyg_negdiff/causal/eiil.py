r"""`EIILEnvironments`: the soft split that maximizes a reference model's invariance penalty."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.utils import scatter

from pyg_negdiff.causal.reference import Level, _ReferenceStrategy, _softmax
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.nn.base import Embeddings

__all__ = ["EIILEnvironments"]

Objective = Literal["vrex", "irm"]


class EIILEnvironments(_ReferenceStrategy):
    r"""Environment Inference for Invariant Learning (Creager et al., ICML 2021), for BPR.

    Given a reference model, EIIL looks for the split of the training data that
    the reference model is *least* invariant on: the soft assignment
    $q_i = \operatorname{softmax}(z_i) \in \Delta^{K-1}$ of every interaction
    maximizes an invariance penalty of the reference model,

    $$
    \max_{z}\ \Omega(q) - \beta\,\mathrm{KL}\big(\bar q \,\Vert\, \mathcal{U}_K\big),
    \qquad \pi_e = \frac{1}{E}\sum_i q_{ie}, \qquad
    \bar x_e = \frac{\sum_i q_{ie} x_i}{\sum_i q_{ie}},
    $$

    where $\Omega$ is

    - ``"vrex"`` (default): the size-weighted variance of the environment risks,
      $\Omega = \sum_e \pi_e (\bar x_e - \bar x)^2$ with $x_i$ the reference BPR
      loss standardized to zero mean and unit variance. It works for any $K$.
      The plain variance $\frac{1}{K}\sum_e(\bar x_e - \bar x)^2$ would be
      maximized by an environment holding a handful of extreme interactions; the
      weights $\pi_e$ rule that out, and the maximum is a $k$-means split of the
      losses (between-group variance).
    - ``"irm"``: the IRMv1 penalty of the reference model in EIIL's form,
      $\Omega = \sum_e (\pi_e\,\bar g_e)^2 = \sum_e \big(\frac{1}{E}\sum_i q_{ie} g_i\big)^2$,
      with $g_i = -m_i\sigma(-m_i)$ the derivative of the BPR loss with respect
      to a scale on the margin (see `IRMPenalty`), scaled to unit RMS. Splitting
      a group whose $g_i$ share a sign lowers this sum, so at most two
      environments come out non-empty, whatever $K$: the interactions the
      reference model ranks well against those it ranks badly.

    $\bar q$ is the share $\pi$ of interactions per environment, or of items
    (users) when the assignment is tied. The KL term (weight $\beta$) pushes
    towards balanced environments.

    With ``tie="item"`` (or ``"user"``) the logits are one row per item
    (user), shared by its interactions: the assignment for confounders that act
    on items, such as popularity and exposure, and much less noisy than
    per-interaction losses. Otherwise the ascent runs on ``num_bins``
    equal-count quantile bins of the signal $x_i$, since interactions with equal
    signal are interchangeable in $\Omega$ (exact when a bin shares one
    assignment; ``num_bins=None`` keeps one row per interaction). Either way it
    is ``steps`` full-batch Adam steps on at most a few thousand rows: about a
    second for a million interactions on a CPU, plus one scoring pass.

    $z$ starts from seeded Gaussian noise (a uniform start is a saddle point),
    or, when re-inferring during training with ``warm_start`` (InvPref-style
    alternation), from the previous solution. Environments are numbered by
    increasing reference risk. The reference model should still lean on the
    confounders, as EIIL's ERM reference does: a model trained to convergence
    fits its training interactions evenly and leaves little to split on (see
    ``docs/concepts/environments.md`` for the figures).

    Without a reference model (``fit(data)`` with no embeddings) the
    assignment is uniform, $q_{ie} = 1/K$, under which every environment risk is
    the batch mean and the V-REx penalty reduces to plain BPR: an ERM warm-up
    until the first update.

    Evaluation parts cannot be labeled: the assignment is a free variable per
    training interaction (or item), with no rule for new ones. Use a proxy or
    the ground truth there (`interaction_environments`).

    Args:
        num_environments (int): $K$. (default: ``2``)
        objective (str): $\Omega$, ``"vrex"`` or ``"irm"``.
        steps (int): Adam steps of the ascent.
        lr (float): Adam learning rate on the logits $z$.
        balance (float): $\beta$.
        num_negatives (int): Uniform negatives per interaction in the reference
            loss; one makes a noisy loss.
        warm_start (bool): Start each update from the previous logits.
        hard (bool): Return ``[E]`` argmax labels instead of ``[E, K]`` weights.
        tie (str): ``"interaction"``, ``"item"`` or ``"user"``: what shares one assignment.
        num_bins (int, optional): Quantile bins of the signal for untied assignments.
        batch_size (int): Interactions scored at once for the reference losses.

    Examples:
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> from pyg_negdiff.nn.base import Embeddings
        >>> g = torch.Generator().manual_seed(0)
        >>> data = InteractionData(20, 30, {"train": torch.stack(
        ...     [torch.arange(20).repeat(3), torch.randint(0, 30, (60,), generator=g)])})
        >>> emb = Embeddings(torch.randn(20, 1, 8, generator=g), torch.randn(30, 1, 8, generator=g))
        >>> q = EIILEnvironments(2).fit(data, emb, generator=g)
        >>> q.shape, bool(torch.allclose(q.sum(-1), torch.ones(60)))
        (torch.Size([60, 2]), True)
    """

    name = "eiil"

    def __init__(
        self,
        num_environments: int = 2,
        *,
        objective: Objective = "vrex",
        steps: int = 100,
        lr: float = 0.3,
        balance: float = 1.0,
        num_negatives: int = 16,
        warm_start: bool = True,
        hard: bool = False,
        tie: Level = "interaction",
        num_bins: int | None = 4096,
        batch_size: int = 65536,
    ) -> None:
        super().__init__(num_environments, num_negatives=num_negatives, batch_size=batch_size)
        if objective not in ("vrex", "irm"):
            raise ValueError(f"objective must be 'vrex' or 'irm', got {objective!r}")
        self.objective = objective
        self.steps, self.lr, self.balance = steps, lr, balance
        self.warm_start, self.hard = warm_start, hard
        self.num_bins = num_bins
        if tie not in ("interaction", "item", "user"):
            raise ValueError(f"tie must be 'interaction', 'item' or 'user', got {tie!r}")
        self.tie = tie
        self.logits: Tensor | None = None

    def fit(
        self,
        data: InteractionData,
        emb: Embeddings | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        self._fit_data(data)
        self.logits = None
        if emb is None:
            q = torch.full((data.train.size(1), self.num_environments), 1.0 / self.num_environments)
            return q.argmax(-1) if self.hard else q
        return self.update(emb, generator=generator)

    def update(self, emb: Embeddings, *, generator: torch.Generator | None = None) -> Tensor:
        self.emb = emb.detach()
        margin = self._margins("train", self.emb, generator)
        q = self.infer(margin, generator=generator)
        return q.argmax(-1) if self.hard else q

    def _signal(self, margin: Tensor) -> Tensor:
        """The per-interaction quantity whose environment means $\\Omega$ compares."""
        if self.objective == "vrex":
            x = F.softplus(-margin).mean(-1)
            return (x - x.mean()) / x.std(unbiased=False).clamp_min(1e-8)
        x = (-margin * torch.sigmoid(-margin)).mean(-1)
        return x / x.pow(2).mean().sqrt().clamp_min(1e-8)

    @torch.enable_grad()
    def infer(self, margin: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        r"""Runs the ascent on reference margins ``[E, M]`` and returns $q$ ``[E, K]``.

        Args:
            margin (torch.Tensor): ``[E, M]`` reference score margins, $M$
                negatives per training interaction.
            generator (torch.Generator, optional): The random source of the start.
        """
        margin = margin.detach().float()
        x = self._signal(margin)
        num, k = x.numel(), self.num_environments
        if k == 1:
            return torch.ones(num, 1, device=x.device)
        if self.tie != "interaction":
            # One assignment per item (user), shared by its interactions.
            data = self._require_fit()
            row, size = (1, data.num_items) if self.tie == "item" else (0, data.num_users)
            group = data.train[row].to(x.device)
        # Interactions with equal signal are interchangeable in the objective: ascend on
        # equal-count quantile bins of the signal (exact when a bin shares one assignment).
        elif self.num_bins is not None and num > self.num_bins:
            rank = torch.empty(num, dtype=torch.long, device=x.device)
            rank[torch.argsort(x)] = torch.arange(num, device=x.device)
            group = rank * self.num_bins // num
            size = self.num_bins
        else:
            group, size = torch.arange(num, device=x.device), num
        count = torch.bincount(group, minlength=size).float()
        x_sum = scatter(x, group, dim=0, dim_size=size, reduce="sum")
        if self.warm_start and self.logits is not None and self.logits.shape == (num, k):
            z0 = scatter(self.logits.to(x.device), group, dim=0, dim_size=size, reduce="mean")
        else:
            z0 = torch.randn(size, k, generator=generator).to(x.device)
        z = z0.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=self.lr)
        log_k = torch.log(torch.tensor(float(k), device=x.device))
        for _ in range(self.steps):
            q = _softmax(z)
            weight = count @ q
            means = (x_sum @ q) / weight.clamp_min(1e-12)
            share = weight / num
            if self.objective == "vrex":
                omega = (share * (means - (share * means).sum()).pow(2)).sum()
            else:
                omega = (share * means).pow(2).sum()
            # Balance the interactions per environment, or the items (users) when tied.
            mass = share if self.tie == "interaction" else q.mean(0)
            kl = (mass * (mass.clamp_min(1e-12).log() + log_k)).sum()
            loss = -omega + self.balance * kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        z = z.detach()[group]
        # Number environments by increasing reference risk, so labels are comparable
        # between updates and runs.
        q = torch.softmax(z, -1)
        risk = (q * F.softplus(-margin).mean(-1, keepdim=True)).sum(0) / q.sum(0).clamp_min(1e-12)
        order = torch.argsort(risk)
        self.logits = z[:, order]
        return torch.softmax(self.logits, -1)

    def assign(self, data: InteractionData, part: str) -> Tensor:
        raise ValueError(
            "EIIL environments exist for training interactions only; label evaluation "
            "parts with a proxy ('popularity', 'activity', 'time') or 'oracle'"
        )

    def __repr__(self) -> str:
        return (
            f"EIILEnvironments(num_environments={self.num_environments}, objective={self.objective!r}, "
            f"steps={self.steps}, balance={self.balance})"
        )
