r"""Environments learned from a reference model: EIIL and feature clustering.

Both read a reference model's per-interaction BPR risk on the training
interactions, computed in batches without gradients, with uniform negatives
from `PairSet.sample_complement`:

$$
\ell_i = \frac{1}{M}\sum_{m=1}^{M} \operatorname{softplus}\big(s_{u j_m} - s_{u i}\big),
\qquad j_m \sim \mathcal{U}\big(\mathcal{I} \setminus \mathcal{I}_u^{+}\big).
$$

Memory is $O(E \cdot K)$ for $E$ training interactions and $K$ environments;
nothing of size users x items is built.
"""
from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.utils import scatter

from pyg_negdiff.causal.base import EnvironmentStrategy
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.nn.base import Embeddings

__all__ = [
    "reference_margins",
    "interaction_features",
    "kmeans",
    "EIILEnvironments",
    "ClusterEnvironments",
]

Objective = Literal["vrex", "irm"]
Feature = Literal["loss", "popularity", "activity"]
Level = Literal["interaction", "item", "user"]


@torch.no_grad()
def reference_margins(index: Tensor, emb: Embeddings, pairs: PairSet, num_negatives: int = 1, *,
                      generator: torch.Generator | None = None, batch_size: int = 65536) -> Tensor:
    r"""Score margins $m_{i,k} = s_{u i} - s_{u j_k}$ of interactions against uniform negatives.

    Args:
        index (torch.Tensor): ``[2, E]`` (user, item) interactions.
        emb (Embeddings): The reference model's embeddings.
        pairs (PairSet): Positives that negatives avoid (the training pairs).
        num_negatives (int): Negatives $M$ per interaction.
        generator (torch.Generator, optional): Source of randomness (negatives).
        batch_size (int): Interactions scored at once.

    Returns:
        torch.Tensor: ``[E, M]`` margins on the embeddings' device; the BPR loss of
        interaction $i$ is ``softplus(-margin).mean(-1)``.
    """
    device = emb.user.device
    out = []
    for start in range(0, index.size(1), batch_size):
        users, items = index[0, start:start + batch_size], index[1, start:start + batch_size]
        neg = pairs.sample_complement(users, num_negatives, generator=generator)
        users, items, neg = users.to(device), items.to(device), neg.to(device)
        pos = emb.score(users, items)
        out.append(pos.unsqueeze(-1) - emb.score(users, neg))
    return torch.cat(out, 0) if out else torch.empty(0, num_negatives, device=device)


def interaction_features(data: InteractionData, part: str, features: Sequence[Feature],
                         loss: Tensor | None = None) -> Tensor:
    r"""Per-interaction features ``[E_part, F]``: reference loss, log item popularity, log user activity.

    ``"popularity"`` is $\log(1 + n_i)$ and ``"activity"`` $\log(1 + d_u)$
    with training counts; ``"loss"`` is ``loss`` as given.

    Args:
        data (InteractionData): The data; the counts are those of ``data.train``.
        part (str): The part whose interactions are described.
        features (Sequence[str]): The $F$ columns, in order, each ``"loss"``,
            ``"popularity"`` or ``"activity"``.
        loss (torch.Tensor, optional): ``[E_part]`` reference losses (e.g. from
            `reference_margins`); needed for ``"loss"``.

    Returns:
        torch.Tensor: ``[E_part, F]`` ``float32`` features, on the device of ``loss``
        (CPU without it).

    Examples:
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> data = InteractionData(2, 3, {"train": torch.tensor([[0, 0, 1], [0, 1, 0]])})
        >>> interaction_features(data, "train", ["popularity"]).squeeze(-1).exp().round().tolist()
        [3.0, 2.0, 3.0]
    """
    index = data.parts[part]
    columns = []
    for name in features:
        if name == "loss":
            if loss is None:
                raise ValueError("the 'loss' feature needs reference losses")
            columns.append(loss.reshape(-1).float())
        elif name == "popularity":
            columns.append(torch.log1p(data.item_popularity("train")[index[1]].float()))
        elif name == "activity":
            columns.append(torch.log1p(data.user_degree("train")[index[0]].float()))
        else:
            raise ValueError(f"unknown feature {name!r}; choose from 'loss', 'popularity', 'activity'")
    device = loss.device if loss is not None else torch.device("cpu")
    return torch.stack([c.to(device) for c in columns], dim=-1)


def kmeans(x: Tensor, num_clusters: int, *, num_iters: int = 50, num_init: int = 3,
           generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    r"""Lloyd's $k$-means with $k$-means++ seeding, vectorized, best of ``num_init`` runs.

    Minimizes $\sum_n \lVert x_n - c_{z_n} \rVert^2$. A cluster that empties
    keeps its previous centroid.

    Args:
        x (torch.Tensor): ``[N, F]`` points.
        num_clusters (int): $K$.
        num_iters (int): Maximum Lloyd iterations per run.
        num_init (int): Independent seedings; the lowest inertia wins.
        generator (torch.Generator, optional): Source of randomness (a CPU generator).

    Returns:
        tuple[torch.Tensor, torch.Tensor]: ``labels`` ``[N]`` and ``centroids`` ``[K, F]``.

    Examples:
        >>> x = torch.tensor([[0.0], [0.1], [5.0], [5.2]])
        >>> labels, centroids = kmeans(x, 2, generator=torch.Generator().manual_seed(0))
        >>> labels[0] == labels[1], labels[2] == labels[3], labels[0] != labels[2]
        (tensor(True), tensor(True), tensor(True))
    """
    n = x.size(0)
    k = min(num_clusters, n)
    best: tuple[float, Tensor, Tensor] | None = None
    for _ in range(max(1, num_init)):
        # k-means++: each next centroid drawn with probability proportional to D(x)^2.
        first = torch.randint(n, (1,), generator=generator).item()
        centroids = x[first:first + 1]
        d2 = (x - centroids).pow(2).sum(-1)
        for _ in range(1, k):
            probs = d2.double().cpu()
            probs = probs / probs.sum() if float(probs.sum()) > 0 else torch.full_like(probs, 1.0 / n)
            pick = torch.multinomial(probs, 1, generator=generator).item()
            centroids = torch.cat([centroids, x[pick:pick + 1]], 0)
            d2 = torch.minimum(d2, (x - x[pick]).pow(2).sum(-1))
        labels = torch.full((n,), -1, dtype=torch.long, device=x.device)
        for _ in range(num_iters):
            new = torch.cdist(x, centroids).argmin(-1)
            if torch.equal(new, labels):
                break
            labels = new
            sums = scatter(x, labels, dim=0, dim_size=k, reduce="sum")
            counts = torch.bincount(labels, minlength=k).unsqueeze(-1)
            centroids = torch.where(counts > 0, sums / counts.clamp_min(1), centroids)
        inertia = float((x - centroids[labels]).pow(2).sum())
        if best is None or inertia < best[0]:
            best = (inertia, labels, centroids)
    return best[1], best[2]


def _softmax(z: Tensor) -> Tensor:
    # Elementwise ops only: torch.softmax parallelizes over rows even for a few thousand
    # rows of K entries, which costs milliseconds per call on a busy machine.
    e = (z - z.detach().amax(-1, keepdim=True)).exp()
    return e / e.sum(-1, keepdim=True)


def _standardize(x: Tensor, mean: Tensor | None = None, std: Tensor | None = None,
                 ) -> tuple[Tensor, Tensor, Tensor]:
    if mean is None:
        mean, std = x.mean(0), x.std(0, unbiased=False).clamp_min(1e-8)
    return (x - mean) / std, mean, std


class _ReferenceStrategy(EnvironmentStrategy):
    """Shared plumbing: the reference losses of the training interactions."""

    learned = True

    def __init__(self, num_environments: int = 2, *, num_negatives: int = 4,
                 batch_size: int = 65536) -> None:
        super().__init__(num_environments)
        if num_negatives < 1:
            raise ValueError(f"num_negatives must be >= 1, got {num_negatives}")
        self.num_negatives = num_negatives
        self.batch_size = batch_size
        self.emb: Embeddings | None = None

    def _fit_data(self, data: InteractionData) -> None:
        self.data = data
        self.pairs = data.train_pairs()
        self.emb = None

    def _margins(self, part: str, emb: Embeddings, generator: torch.Generator | None) -> Tensor:
        data = self._require_fit()
        return reference_margins(data.parts[part], emb, self.pairs, self.num_negatives,
                                 generator=generator, batch_size=self.batch_size)


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

    def __init__(self, num_environments: int = 2, *, objective: Objective = "vrex", steps: int = 100,
                 lr: float = 0.3, balance: float = 1.0, num_negatives: int = 16, warm_start: bool = True,
                 hard: bool = False, tie: Level = "interaction", num_bins: int | None = 4096,
                 batch_size: int = 65536) -> None:
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

    def fit(self, data: InteractionData, emb: Embeddings | None = None, *,
            generator: torch.Generator | None = None) -> Tensor:
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
        raise ValueError("EIIL environments exist for training interactions only; label evaluation "
                         "parts with a proxy ('popularity', 'activity', 'time') or 'oracle'")

    def __repr__(self) -> str:
        return (f"EIILEnvironments(num_environments={self.num_environments}, objective={self.objective!r}, "
                f"steps={self.steps}, balance={self.balance})")


class ClusterEnvironments(_ReferenceStrategy):
    r"""Environments as $k$-means clusters of interaction, item or user features.

    Every training interaction is described by features among the reference
    loss $\ell_i$, the log popularity of its item $\log(1 + n_i)$ and the log
    activity of its user $\log(1 + d_u)$ (`interaction_features`). With
    ``level="interaction"`` the standardized features of the interactions are
    clustered with seeded $k$-means (`kmeans`). With ``level="item"`` (or
    ``"user"``) they are first averaged per item (user), the items are
    clustered, each item counting once, and an interaction takes its item's
    environment: the grouping for confounders that act on items, such as
    exposure. Clusters are numbered by their centroid's first feature, increasing.

    Without a reference model the loss feature is left out until the first
    update. Evaluation parts are labeled by the nearest centroid: through their
    item (user) at the item (user) level, where items without training
    interactions have popularity 0 and average other features; at the
    interaction level from their own features under the last reference model
    (which has not trained on them, so their losses run higher).

    Args:
        num_environments (int): $K$. (default: ``2``)
        features (Sequence[str]): Among ``"loss"``, ``"popularity"``, ``"activity"``.
        level (str): What is clustered: ``"interaction"``, ``"item"`` or ``"user"``.
        num_iters (int): Lloyd iterations.
        num_init (int): $k$-means++ restarts.
        num_negatives (int): Uniform negatives per interaction in the reference loss.
        batch_size (int): Interactions scored at once for the reference losses.

    Examples:
        >>> from pyg_negdiff.data.interactions import InteractionData
        >>> data = InteractionData(4, 3, {"train": torch.tensor([[0, 1, 2, 3, 0], [0, 0, 0, 0, 1]]),
        ...                               "val": torch.tensor([[1, 2], [1, 2]])})
        >>> env = ClusterEnvironments(2, features=["popularity"], level="item")
        >>> env.fit(data, generator=torch.Generator().manual_seed(0)).tolist()
        [1, 1, 1, 1, 0]
        >>> env.assign(data, "val").tolist()  # item 2 was never seen: popularity 0
        [0, 0]
    """

    name = "cluster"

    def __init__(self, num_environments: int = 2, *,
                 features: Sequence[Feature] = ("loss", "popularity"),
                 level: Level = "item", num_iters: int = 50, num_init: int = 3,
                 num_negatives: int = 4, batch_size: int = 65536) -> None:
        super().__init__(num_environments, num_negatives=num_negatives, batch_size=batch_size)
        if not features:
            raise ValueError("at least one feature is needed")
        if level not in ("interaction", "item", "user"):
            raise ValueError(f"level must be 'interaction', 'item' or 'user', got {level!r}")
        self.features = tuple(features)
        self.level = level
        self.num_iters, self.num_init = num_iters, num_init

    def _active(self, emb: Embeddings | None) -> tuple[Feature, ...]:
        active = tuple(f for f in self.features if emb is not None or f != "loss")
        if not active:
            raise ValueError("the only feature is 'loss', which needs reference embeddings")
        return active

    def _features(self, part: str, emb: Embeddings | None,
                  generator: torch.Generator | None) -> Tensor:
        active = self._active(emb)
        loss = None
        if "loss" in active:
            loss = F.softplus(-self._margins(part, emb, generator)).mean(-1)
        return interaction_features(self._require_fit(), part, active, loss)

    def _entity_features(self, x: Tensor) -> Tensor:
        """Per-item (user) means of the training features ``[N, F]``; unseen ones filled in."""
        data = self._require_fit()
        row, size = (1, data.num_items) if self.level == "item" else (0, data.num_users)
        own = "popularity" if self.level == "item" else "activity"
        index = data.train[row].to(x.device)
        count = torch.bincount(index, minlength=size)
        points = scatter(x, index, dim=0, dim_size=size, reduce="mean")
        seen = count > 0
        fill = points[seen].mean(0)
        for col, name in enumerate(self._active(self.emb)):
            fill[col] = 0.0 if name == own else fill[col]  # log(1 + 0) for an unseen item
        points[~seen] = fill
        self.seen = seen
        return points

    def fit(self, data: InteractionData, emb: Embeddings | None = None, *,
            generator: torch.Generator | None = None) -> Tensor:
        self._fit_data(data)
        return self._cluster(emb, generator)

    def update(self, emb: Embeddings, *, generator: torch.Generator | None = None) -> Tensor:
        return self._cluster(emb.detach(), generator)

    def _cluster(self, emb: Embeddings | None, generator: torch.Generator | None) -> Tensor:
        self.emb = emb
        x = self._features("train", emb, generator)
        if self.level != "interaction":
            points = self._entity_features(x)
            _, self.mean, self.std = _standardize(points[self.seen])
            x = (points - self.mean) / self.std
            labels, centroids = kmeans(x[self.seen], self.num_environments, num_iters=self.num_iters,
                                       num_init=self.num_init, generator=generator)
        else:
            x, self.mean, self.std = _standardize(x)
            labels, centroids = kmeans(x, self.num_environments, num_iters=self.num_iters,
                                       num_init=self.num_init, generator=generator)
        order = torch.argsort(centroids[:, 0])
        self.centroids = centroids[order]
        if self.level == "interaction":
            rank = torch.empty_like(order)
            rank[order] = torch.arange(order.numel(), device=order.device)
            return rank[labels]
        # every item (user), seen or not, gets its nearest centroid
        self.entity_labels = torch.cdist(x, self.centroids).argmin(-1)
        row = 1 if self.level == "item" else 0
        return self.entity_labels[self.data.train[row].to(x.device)]

    def assign(self, data: InteractionData, part: str) -> Tensor:
        if data is not self._require_fit():
            raise ValueError("assign() labels parts of the data the strategy was fitted on")
        if self.level != "interaction":
            row = 1 if self.level == "item" else 0
            return self.entity_labels[data.parts[part][row].to(self.entity_labels.device)]
        gen = torch.Generator().manual_seed(0)
        x, _, _ = _standardize(self._features(part, self.emb, gen), self.mean, self.std)
        return torch.cdist(x, self.centroids).argmin(-1)

    def __repr__(self) -> str:
        return (f"ClusterEnvironments(num_environments={self.num_environments}, "
                f"features={list(self.features)}, level={self.level!r})")
