r"""What the learned environments share: a reference model's risk, features, $k$-means.

`EIILEnvironments` and `ClusterEnvironments` read a reference model's per-interaction BPR risk on the training
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
from torch import Tensor
from torch_geometric.utils import scatter

from pyg_negdiff.causal.base import EnvironmentStrategy
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.nn.base import Embeddings

__all__ = ["reference_margins", "interaction_features", "kmeans"]

Feature = Literal["loss", "popularity", "activity"]
Level = Literal["interaction", "item", "user"]


@torch.no_grad()
def reference_margins(
    index: Tensor,
    emb: Embeddings,
    pairs: PairSet,
    num_negatives: int = 1,
    *,
    generator: torch.Generator | None = None,
    batch_size: int = 65536,
) -> Tensor:
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
        users, items = index[0, start : start + batch_size], index[1, start : start + batch_size]
        neg = pairs.sample_complement(users, num_negatives, generator=generator)
        users, items, neg = users.to(device), items.to(device), neg.to(device)
        pos = emb.score(users, items)
        out.append(pos.unsqueeze(-1) - emb.score(users, neg))
    return torch.cat(out, 0) if out else torch.empty(0, num_negatives, device=device)


def interaction_features(
    data: InteractionData, part: str, features: Sequence[Feature], loss: Tensor | None = None
) -> Tensor:
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
            raise ValueError(
                f"unknown feature {name!r}; choose from 'loss', 'popularity', 'activity'"
            )
    device = loss.device if loss is not None else torch.device("cpu")
    return torch.stack([c.to(device) for c in columns], dim=-1)


def kmeans(
    x: Tensor,
    num_clusters: int,
    *,
    num_iters: int = 50,
    num_init: int = 3,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
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
        centroids = x[first : first + 1]
        d2 = (x - centroids).pow(2).sum(-1)
        for _ in range(1, k):
            probs = d2.double().cpu()
            probs = (
                probs / probs.sum() if float(probs.sum()) > 0 else torch.full_like(probs, 1.0 / n)
            )
            pick = torch.multinomial(probs, 1, generator=generator).item()
            centroids = torch.cat([centroids, x[pick : pick + 1]], 0)
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


def _standardize(
    x: Tensor,
    mean: Tensor | None = None,
    std: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    if mean is None:
        mean, std = x.mean(0), x.std(0, unbiased=False).clamp_min(1e-8)
    return (x - mean) / std, mean, std


class _ReferenceStrategy(EnvironmentStrategy):
    """Shared plumbing: the reference losses of the training interactions."""

    learned = True

    def __init__(
        self, num_environments: int = 2, *, num_negatives: int = 4, batch_size: int = 65536
    ) -> None:
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
        return reference_margins(
            data.parts[part],
            emb,
            self.pairs,
            self.num_negatives,
            generator=generator,
            batch_size=self.batch_size,
        )
