"""Full-ranking evaluation with PyG's ``LinkPred*`` metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from torch import Tensor
from torch_geometric.metrics import (
    LinkPredHitRatio,
    LinkPredMetricCollection,
    LinkPredNDCG,
    LinkPredPrecision,
    LinkPredRecall,
)

from pyg_negdiff.data.diagnostics import head_items  # re-exported: public here since 0.1
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.nn.base import Embeddings
from pyg_negdiff.validation import check_rows

#: Metric name to PyG class. Names are the keys of every result dict.
METRICS = {
    "recall": LinkPredRecall,
    "ndcg": LinkPredNDCG,
    "precision": LinkPredPrecision,
    "hit_ratio": LinkPredHitRatio,
}


def top_k_items(
    user_emb: Tensor, item_emb: Tensor, seen: PairSet | None, users: Tensor, k: int
) -> Tensor:
    r"""Top-$k$ items of each user by $s(u, i) = \mathbf{e}_u^\top \mathbf{e}_i$, seen items excluded.

    Seen items get a score of $-\infty$ (not a finite sentinel, which a large
    enough score could beat), so they can never enter the top-$k$.

    Args:
        user_emb (torch.Tensor): ``[B, D]`` embeddings of ``users``.
        item_emb (torch.Tensor): ``[I, D]`` embeddings of all items.
        seen (PairSet, optional): Pairs to exclude.
        users (torch.Tensor): ``[B]`` user ids (to look up ``seen``).
        k (int): Number of items to return.

    Returns:
        torch.Tensor: ``[B, k]`` item ids, best first.
    """
    scores = user_emb @ item_emb.t()
    if seen is not None:
        row, col = seen.rows(users)
        scores[row.to(scores.device), col.to(scores.device)] = float("-inf")
    return scores.topk(min(k, scores.size(1)), dim=1).indices


@torch.no_grad()
def head_share(
    user_emb: Tensor,
    item_emb: Tensor,
    head: Tensor,
    users: Tensor,
    seen: PairSet | None = None,
    k: int = 20,
    batch_size: int = 512,
) -> float:
    r"""The share of top-$k$ recommendations that are head items (popularity bias of a model).

    $$
    \mathrm{Head@}k = \frac{1}{|\mathcal{U}|\,k} \sum_{u \in \mathcal{U}} \sum_{r=1}^{k}
        \mathbb{1}\big[R_{u,r} \in \mathcal{H}\big],
    $$

    with $R_u$ the top-$k$ list of user $u$ (``seen`` items masked, see
    `top_k_items`) and $\mathcal{H}$ the head (e.g. `head_items`). A model that
    ranks by popularity alone gets 1; a random ranking gets $|\mathcal{H}| / I$.

    Args:
        user_emb (torch.Tensor): ``[U, D]`` user representations (``Embeddings.user``).
        item_emb (torch.Tensor): ``[I, D]`` item representations (``Embeddings.item``).
        head (torch.Tensor): ``[I]`` boolean head mask.
        users (torch.Tensor): ``[N]`` users whose lists are counted.
        seen (PairSet, optional): Pairs never recommended (the training positives).
        k (int): List length. (default: ``20``)
        batch_size (int): Users ranked at once.

    Returns:
        float: $\mathrm{Head@}k \in [0, 1]$.

    Examples:
        >>> user, item = torch.tensor([[1.0], [-1.0]]), torch.tensor([[3.0], [1.0], [-2.0]])
        >>> head_share(user, item, torch.tensor([True, False, False]), torch.tensor([0, 1]), k=1)
        0.5
    """
    if users.numel() == 0:
        return 0.0
    device = user_emb.device
    head = head.to(device)
    hits = total = 0
    for start in range(0, users.numel(), batch_size):
        batch = users[start : start + batch_size]
        top = top_k_items(user_emb[batch.to(device)], item_emb, seen, batch, k)
        hits += int(head[top].sum())
        total += top.numel()
    return hits / total


@dataclass
class _Batch:
    r"""One user batch of a part, with everything that does not depend on the embeddings.

    Attributes:
        users (torch.Tensor): ``[B]`` user ids.
        seen (torch.Tensor): Flat positions $r \cdot I + i$ of the seen pairs in the
            ``[B, I]`` score block (row $r$ = position of the user in ``users``).
        label_row (torch.Tensor): Batch row of every ground-truth pair of the part.
        label_col (torch.Tensor): Item of every ground-truth pair.
    """

    users: Tensor
    seen: Tensor
    label_row: Tensor
    label_col: Tensor


class Evaluator:
    r"""Full-ranking evaluation over all items, batched over users.

    For every user $u$ with ground truth $\mathcal{T}_u$ in the evaluated part,
    all $I$ items are scored, previously seen items are masked (training
    positives for validation; training and validation positives for the test
    parts), and the top-$K$ list $R_u$ is compared with $\mathcal{T}_u$:

    $$
    \mathrm{Recall@}K = \frac{|R_u \cap \mathcal{T}_u|}{|\mathcal{T}_u|}, \qquad
    \mathrm{NDCG@}K = \frac{\sum_{r=1}^{K} \mathbb{1}[R_{u,r} \in \mathcal{T}_u] / \log_2(r+1)}
                          {\sum_{r=1}^{\min(K, |\mathcal{T}_u|)} 1 / \log_2(r+1)}
    $$

    averaged over users. The metrics are PyG's ``LinkPred*`` classes. Memory is
    $O(B \cdot I)$ for a user batch of size $B$, never $O(U \cdot I)$: one score block,
    allocated once per call and reused by every batch. What does not depend on the
    embeddings (the users of a part, their batches, the positions of their seen items in
    the block, their ground truth) is computed once per part and device and cached, so a
    call costs the matmul, one ``index_fill_`` of $-\infty$, one top-$k$ for the largest
    $K$ (PyG's collection slices it for the smaller ones) and the metric updates.

    With ``groups`` (one label per evaluated interaction, e.g. the item's
    popularity tier or the interaction's environment), every metric is also
    reported per group, ground truth restricted to the group, and the worst
    group is reported as ``"<metric>/worst"``.

    Args:
        data (InteractionData): The data whose evaluation parts are ranked.
        ks (Iterable[int]): Cut-offs $K$. (default: ``(10, 20)``)
        metrics (Sequence[str]): Names from ``METRICS``.
        batch_size (int): Users per ranking batch. (default: ``512``; on ML-1M, 141 to
            512 users cost the same within the noise of a shared core: smaller blocks
            speed the matmul up as much as they slow PyG's per-batch update down)

    Examples:
        >>> import torch
        >>> from pyg_negdiff.data import InteractionData
        >>> from pyg_negdiff.nn.base import Embeddings
        >>> data = InteractionData(2, 3, {"train": torch.tensor([[0, 1], [0, 1]]),
        ...                              "test": torch.tensor([[0, 1], [1, 2]])})
        >>> item = torch.eye(3).unsqueeze(1)  # item i has embedding e_i
        >>> user = torch.tensor([[1.0, 0.9, 0.1], [0.0, 0.5, 0.2]]).unsqueeze(1)
        >>> # Training items are masked: user 0's top item is 1 (not 0), user 1's is 2 (not 1).
        >>> res = Evaluator(data, ks=[1])(Embeddings(user, item), "test")
        >>> res["recall@1"], res["ndcg@1"]
        (1.0, 1.0)
    """

    def __init__(
        self,
        data: InteractionData,
        ks: Iterable[int] = (10, 20),
        metrics: Sequence[str] = ("recall", "ndcg", "precision", "hit_ratio"),
        batch_size: int = 512,
    ) -> None:
        unknown = set(metrics) - set(METRICS)
        if unknown:
            raise ValueError(f"unknown metrics {sorted(unknown)}; choose from {sorted(METRICS)}")
        self.data = data
        self.ks = sorted(set(int(k) for k in ks))
        if not self.ks or self.ks[0] < 1:
            raise ValueError(f"ks must be positive integers, got {list(ks)}")
        self.metrics = list(metrics)
        self.batch_size = batch_size
        self._seen: dict[str, PairSet] = {}
        self._plans: dict[tuple[str, str, int], list[_Batch]] = {}

    def seen(self, part: str) -> PairSet:
        """The pairs masked when ranking for ``part`` (cached).

        Args:
            part (str): The evaluated part.
        """
        if part not in self._seen:
            self._seen[part] = self.data.seen_pairs(part)
        return self._seen[part]

    def _plan(self, part: str, device: torch.device) -> list[_Batch]:
        """The user batches of ``part`` on ``device``, with their mask and labels (cached).

        Args:
            part (str): The evaluated part.
            device (torch.device): Where the embeddings are.
        """
        key = (part, str(device), self.batch_size)
        if key not in self._plans:
            index = self.data.parts[part]
            labels = PairSet(index, self.data.num_users, self.data.num_items)
            seen = self.seen(part)
            # Users with nothing to find add no signal; users without training data are
            # still ranked (they get the items' prior through their untrained embedding).
            users = torch.unique(index[0])
            plan = []
            for start in range(0, users.numel(), self.batch_size):
                batch = users[start : start + self.batch_size]
                row, col = seen.rows(batch)
                label_row, label_col = labels.rows(batch)
                flat = row * self.data.num_items + col
                tensors = (batch, flat, label_row, label_col)
                plan.append(_Batch(*(t.to(device) for t in tensors)))
            self._plans[key] = plan
        return self._plans[key]

    def _collection(self) -> LinkPredMetricCollection:
        return LinkPredMetricCollection(
            {f"{m}@{k}": METRICS[m](k) for m in self.metrics for k in self.ks}
        )

    @torch.no_grad()
    def __call__(
        self,
        emb: Embeddings,
        part: str = "test",
        groups: Tensor | None = None,
        group_names: Sequence[str] | None = None,
    ) -> dict[str, float]:
        return self.evaluate(emb, part, groups, group_names)

    @torch.no_grad()
    def evaluate(
        self,
        emb: Embeddings,
        part: str = "test",
        groups: Tensor | None = None,
        group_names: Sequence[str] | None = None,
    ) -> dict[str, float]:
        """Ranks all items for the users of ``part`` and returns ``{"recall@20": ..., ...}``.

        Args:
            emb (Embeddings): The model's embeddings (``emb.user``, ``emb.item``).
            part (str): An evaluation part of the data (``"val"``, ``"test"``, ``"test_ood"``).
            groups (torch.Tensor, optional): ``[E_part]`` integer label of every
                interaction of ``part``.
            group_names (Sequence[str], optional): Display name of each label value.
        """
        if part not in self.data.parts:
            raise KeyError(f"no part {part!r} in {self.data.name}; it has {list(self.data.parts)}")
        check_rows("emb.user", emb.user, self.data.num_users, f"{self.data.name}'s num_users")
        check_rows("emb.item", emb.item, self.data.num_items, f"{self.data.name}'s num_items")
        index = self.data.parts[part]
        if groups is not None and groups.numel() != index.size(1):
            raise ValueError(f"groups has {groups.numel()} labels for {index.size(1)} interactions")
        device = emb.user.device
        # The whole part's labels are cached with its batches (`_plan`); groups' are built here.
        group_sets: dict[str, PairSet] = {}
        if groups is not None:
            for g in torch.unique(groups).tolist():
                name = group_names[g] if group_names is not None else str(g)
                group_sets[f"/{name}"] = PairSet(
                    index[:, groups == g], self.data.num_users, self.data.num_items
                )
        collections = {key: self._collection() for key in ["", *group_sets]}
        plan = self._plan(part, device)
        num_items = self.data.num_items
        top_k = min(self.ks[-1], num_items)
        # One block for every batch: a fresh [B, I] tensor per batch costs page faults.
        block = emb.user.new_empty((max((b.users.numel() for b in plan), default=0), num_items))
        item_t = emb.item.t()
        for b in plan:
            scores = block[: b.users.numel()]
            torch.mm(emb.user[b.users], item_t, out=scores)
            # -inf, not a finite sentinel, so that no score can beat a seen item's (`top_k_items`).
            scores.view(-1).index_fill_(0, b.seen, float("-inf"))
            top = scores.topk(top_k, dim=1).indices
            collections[""].update(top, (b.label_row, b.label_col))
            for key, labels in group_sets.items():
                row, col = labels.rows(b.users)
                collections[key].update(top, (row.to(device), col.to(device)))
        out: dict[str, float] = {}
        for key, coll in collections.items():
            for name, value in coll.compute().items():
                out[f"{name}{key}"] = float(value)
        if group_sets:
            for m in self.metrics:
                for k in self.ks:
                    vals = [out[f"{m}@{k}{key}"] for key in group_sets]
                    out[f"{m}@{k}/worst"] = min(vals)
        return out

    @torch.no_grad()
    def head_share(
        self, emb: Embeddings, part: str = "test", k: int = 20, fraction: float = 0.1
    ) -> float:
        r"""`head_share` of the users of ``part``, with the items seen before ``part``
        masked and the head taken from the training popularity (`head_items`).

        Args:
            emb (Embeddings): The model's embeddings of all users and items.
            part (str): The evaluation part whose users' lists are counted.
            k (int): List length. (default: ``20``)
            fraction (float): Share of items in the head. (default: ``0.1``)

        Returns:
            float: The share of the top-$k$ lists taken by head items.
        """
        if part not in self.data.parts:
            raise KeyError(f"no part {part!r} in {self.data.name}; it has {list(self.data.parts)}")
        head = head_items(self.data.item_popularity(), fraction)
        users = torch.unique(self.data.parts[part][0])
        return head_share(
            emb.user, emb.item, head, users, self.seen(part), k=k, batch_size=self.batch_size
        )

    def evaluate_all(
        self, emb: Embeddings, parts: Sequence[str] | None = None
    ) -> dict[str, dict[str, float]]:
        """Metrics for several parts at once: ``{part: {metric: value}}``.

        Args:
            emb (Embeddings): The model's embeddings of all users and items.
            parts (Sequence[str], optional): The parts to evaluate.
                (default: every evaluation part of the data)
        """
        return {p: self.evaluate(emb, p) for p in (parts or self.data.eval_parts)}


def popularity_ranking(data: InteractionData) -> Embeddings:
    r"""A reference ranker with no model: every user gets the items by training popularity.

    $s(u, i) = n_i$, the training interaction count of item $i$, as ``[U, 1]``
    and ``[I, 1]`` embeddings, so `Evaluator` ranks it like a model (seen items
    masked). A trained model below this row has learned little beyond popularity.

    Args:
        data (InteractionData): The split data (its ``"train"`` part is counted).

    Returns:
        Embeddings: User embeddings of ones and item embeddings $n_i$.

    Examples:
        >>> import torch
        >>> data = InteractionData(2, 3, {"train": torch.tensor([[0, 1, 1], [2, 2, 0]])})
        >>> emb = popularity_ranking(data)
        >>> (emb.user @ emb.item.t())[0].tolist()
        [1.0, 0.0, 2.0]
    """
    popularity = data.item_popularity().to(torch.float32).view(-1, 1)
    return Embeddings.from_tensors(torch.ones(data.num_users, 1), popularity)


def random_ranking(data: InteractionData, seed: int = 0, dim: int = 64) -> Embeddings:
    r"""A reference ranker with no model: a uniformly random ranking for every user.

    User and item embeddings are i.i.d. standard normal. For a fixed user row
    $\mathbf{e}_u$ the scores $\mathbf{e}_u^\top \mathbf{e}_i$ are i.i.d. over
    items, so each user's ranking is a uniformly random permutation.

    Args:
        data (InteractionData): The data (only its sizes are read).
        seed (int): Seed of the draw.
        dim (int): Embedding size.

    Returns:
        Embeddings: ``[U, dim]`` and ``[I, dim]`` random embeddings.

    Examples:
        >>> import torch
        >>> data = InteractionData(2, 3, {"train": torch.tensor([[0, 1], [2, 0]])})
        >>> tuple(random_ranking(data, seed=0).item.shape)
        (3, 64)
    """
    g = torch.Generator().manual_seed(int(seed))
    return Embeddings.from_tensors(
        torch.randn(data.num_users, dim, generator=g), torch.randn(data.num_items, dim, generator=g)
    )
