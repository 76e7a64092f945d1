r"""Propagation strategies: which embeddings a training step computes, and how.

The `Trainer` asks a strategy for the embeddings of a batch and never looks
at the graph itself:

- `FullPropagation` propagates over the whole normalized adjacency once per
  step (memory and time grow with the graph).
- `NeighborPropagation` propagates over the sampled $L$-hop subgraph around
  the batch's users, positives and the sampler's candidate items (memory and
  time grow with the fan-out), normalized with the *full-graph* degrees, so
  that with an unlimited fan-out both compute the same model.
"""
from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor
import torch_geometric.typing as pyg_typing
from torch_geometric.utils import degree

from pyg_negdiff.data.graph import gcn_adjacency
from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.nn.base import Embeddings, Recommender


@dataclass
class BatchEmbeddings:
    r"""What a propagation strategy returns for one training batch.

    The embedding tables hold the rows the batch needs; ``users``,
    ``pos_items`` and ``candidates`` index into them. ``user_ids`` and
    ``item_ids`` give the global id of each row, or are ``None`` when the rows
    are all users and items in id order (full propagation).

    Attributes:
        emb (Embeddings): Embeddings of the batch's rows (with gradients).
        users (torch.Tensor): ``[B]`` the batch's users, as rows of ``emb.user``.
        pos_items (torch.Tensor): ``[B]`` its positives, as rows of ``emb.item``.
        candidates (torch.Tensor, optional): ``[B, M]`` the sampler's candidate
            items, as rows of ``emb.item``.
        user_ids (torch.Tensor, optional): Global id of each row of ``emb.user``.
        item_ids (torch.Tensor, optional): Global id of each row of ``emb.item``.
    """

    emb: Embeddings
    users: Tensor
    pos_items: Tensor
    candidates: Tensor | None = None
    user_ids: Tensor | None = None
    item_ids: Tensor | None = None

    @property
    def is_subgraph(self) -> bool:
        """Whether rows are a subset (ids must be translated) rather than the whole graph."""
        return self.item_ids is not None

    def global_items(self, items: Tensor | None) -> Tensor | None:
        """Global ids of item rows (any shape; ``None`` passes through).

        Args:
            items (torch.Tensor, optional): Rows of ``emb.item``.

        Returns:
            torch.Tensor, optional: Their item ids.
        """
        if items is None or self.item_ids is None:
            return items
        return self.item_ids[items]

    def local_pairs(self, pairs: PairSet) -> PairSet:
        """The training pairs among the batch's rows, in row ids.

        Args:
            pairs (PairSet): Training pairs in global ids.

        Returns:
            PairSet: The pairs whose user and item both have a row, as rows.
        """
        if self.user_ids is None or self.item_ids is None:
            return pairs
        row, item = pairs.rows(self.user_ids)
        # Rows need not be sorted or distinct (a sharded batch repeats items): match every copy.
        order = torch.argsort(self.item_ids)
        ids = self.item_ids[order]
        item = item.to(ids.device)
        lo = torch.searchsorted(ids, item)
        count = torch.searchsorted(ids, item, right=True) - lo
        first = torch.repeat_interleave(count.cumsum(0) - count, count)
        slot = torch.repeat_interleave(lo, count) + torch.arange(int(count.sum()), device=ids.device) - first
        index = torch.stack([torch.repeat_interleave(row.to(ids.device), count), order[slot]])
        return PairSet(index, self.user_ids.numel(), self.item_ids.numel())


class Propagation(ABC):
    r"""Base class of the propagation strategies.

    A strategy is called once per training step as
    ``propagation(model, users, pos_items, candidates, generator)`` and
    returns `BatchEmbeddings`; `embeddings` gives every user and item for
    evaluation.

    Args:
        edge_index (torch.Tensor): ``[2, M]`` training graph (users
            $0 \ldots U-1$, items $U \ldots U+I-1$, both directions, as from
            `pyg_negdiff.data.graph.bipartite_edge_index`).
        num_users (int): Number of users $U$.
        num_items (int): Number of items $I$.
    """

    #: Whether the strategy needs the sampler's candidate items before it propagates.
    needs_candidates: bool = False

    def __init__(self, edge_index: Tensor, num_users: int, num_items: int) -> None:
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.num_nodes = self.num_users + self.num_items
        if edge_index.numel() and int(edge_index.max()) >= self.num_nodes:
            raise ValueError(f"edge_index refers to node {int(edge_index.max())}, but the graph has "
                             f"{self.num_nodes} nodes")

    @abstractmethod
    def __call__(self, model: Recommender, users: Tensor, pos_items: Tensor,
                 candidates: Tensor | None = None,
                 generator: torch.Generator | None = None) -> BatchEmbeddings:
        """Embeddings of one training batch.

        Args:
            model (Recommender): The backbone.
            users (torch.Tensor): ``[B]`` user ids.
            pos_items (torch.Tensor): ``[B]`` positive item ids.
            candidates (torch.Tensor, optional): ``[B, M]`` the sampler's
                candidate items (from `NegativeSampler.candidate_items`).
            generator (torch.Generator, optional): Source of randomness of the
                neighbour sampling.

        Returns:
            BatchEmbeddings: The batch's rows.
        """

    def check(self, model: Recommender) -> None:
        """Raises ``ValueError`` if this strategy cannot propagate ``model``.

        Args:
            model (Recommender): The backbone.
        """

    def sparse_parameters(self, model: Recommender) -> list[torch.nn.Parameter]:
        """Parameters of ``model`` that this strategy gives sparse gradients
        (the trainer steps them with `torch.optim.SparseAdam`, see `pyg_negdiff.optim`).

        Args:
            model (Recommender): The backbone.

        Returns:
            list: None by default.
        """
        return []

    @abstractmethod
    def embeddings(self, model: Recommender) -> Embeddings:
        """Embeddings of all users and items, without gradients (for evaluation).

        Args:
            model (Recommender): The backbone (put in eval mode by the caller).

        Returns:
            Embeddings: ``[U, L+1, D]`` and ``[I, L+1, D]`` layers.
        """

    @abstractmethod
    def to(self, device: torch.device | str) -> "Propagation":
        """Moves the graph to ``device`` and returns ``self``.

        Args:
            device (torch.device or str): Target device.

        Returns:
            Propagation: ``self``.
        """


class FullPropagation(Propagation):
    r"""Propagates over the whole graph in every step (the default).

    Each step computes $E^{(l+1)} = \hat{A} E^{(l)}$ for all $N = U + I$
    nodes with $\hat{A} = D^{-1/2} A D^{-1/2}$ built once
    (`pyg_negdiff.data.graph.gcn_adjacency`). A step costs $O(L(|E| D + N D))$
    time and keeps $O(L N D)$ activations for the backward pass, whatever
    the batch size.

    Args:
        edge_index (torch.Tensor): ``[2, M]`` training graph, both directions.
        num_users (int): Number of users $U$.
        num_items (int): Number of items $I$.

    Examples:
        >>> from pyg_negdiff.data.graph import bipartite_edge_index
        >>> from pyg_negdiff.nn import LightGCN
        >>> edge_index = bipartite_edge_index(torch.tensor([[0, 0, 1], [0, 2, 1]]), num_users=2)
        >>> prop = FullPropagation(edge_index, num_users=2, num_items=3)
        >>> batch = prop(LightGCN(2, 3, embedding_dim=4), torch.tensor([0]), torch.tensor([2]))
        >>> batch.emb.item.shape, batch.is_subgraph
        (torch.Size([3, 4]), False)
    """

    def __init__(self, edge_index: Tensor, num_users: int, num_items: int) -> None:
        super().__init__(edge_index, num_users, num_items)
        self.adj = gcn_adjacency(edge_index, self.num_nodes)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"

    def __call__(self, model: Recommender, users: Tensor, pos_items: Tensor,
                 candidates: Tensor | None = None,
                 generator: torch.Generator | None = None) -> BatchEmbeddings:
        """All users and items, with ids unchanged (see `Propagation.__call__`).

        Args:
            model (Recommender): The backbone.
            users (torch.Tensor): ``[B]`` user ids.
            pos_items (torch.Tensor): ``[B]`` positive item ids.
            candidates (torch.Tensor, optional): Passed through.
            generator (torch.Generator, optional): Unused.

        Returns:
            BatchEmbeddings: The whole tables.
        """
        return BatchEmbeddings(model(self.adj), users, pos_items, candidates)

    def embeddings(self, model: Recommender) -> Embeddings:
        """All embeddings in one propagation (see `Propagation.embeddings`).

        Args:
            model (Recommender): The backbone.

        Returns:
            Embeddings: All users and items.
        """
        with torch.no_grad():
            return model(self.adj)

    def to(self, device: torch.device | str) -> "FullPropagation":
        """Moves the adjacency (see `Propagation.to`).

        Args:
            device (torch.device or str): Target device.

        Returns:
            FullPropagation: ``self``.
        """
        self.adj = self.adj.to(device)
        return self


class NeighborPropagation(Propagation):
    r"""Mini-batch propagation over the sampled $L$-hop neighbourhood of a batch.

    The seeds are the batch's users, positives and the sampler's candidate
    items (`NegativeSampler.candidate_items`: DNS, AHNS and MixGCF
    candidates, the diffusion samplers' random negative). Hop $h$ takes, for
    every node first reached at hop $h-1$, up to ``num_neighbors[h-1]`` of its
    neighbours ($-1$: all of them), without replacement (but see the
    engines below), and keeps the edges
    into it: the computation graph of the seeds (PyG's
    ``subgraph_type="directional"``), nodes shared between seeds kept once.
    This is what PyG's `LinkNeighborLoader` does for a batch of links with
    ``NegativeSampling("triplet")`` negatives; here the negatives are the
    sampler's own candidates, so the seeds go to the loader's engine,
    `torch_geometric.sampler.NeighborSampler`, directly
    (``sample_from_nodes``).

    Edges carry the **full-graph** normalization, reweighted by the inverse
    probability of keeping them:

    $$
    \tilde{A}_{vw} = \frac{d_v}{k_v} \cdot \frac{1}{\sqrt{d_v d_w}}, \qquad
    d_v = \deg_{G}(v), \quad k_v = \min(k, d_v),
    $$

    not the subgraph's degrees. Each of $v$'s $d_v$ neighbours is kept with
    probability $k_v / d_v$ (with replacement: $k_v = k$ draws, each
    neighbour drawn $k / d_v$ times on average), so the sampled sum
    $\sum_w \tilde{A}_{vw} \mathbf{e}_w$ is an unbiased estimate of the full
    layer's $\sum_{w} \hat{A}_{vw} \mathbf{e}_w$ (training and full-ranking
    evaluation see embeddings of the same scale). With an unlimited fan-out
    $k_v = d_v$: every seed's $L$-layer embedding equals full propagation's.

    A step then costs $O(\lvert \mathcal{S} \rvert D)$ activations, with
    $\lvert \mathcal{S} \rvert \le n_0 (1 + k_1 + k_1 k_2 + \cdots)$ nodes
    for $n_0$ seeds: bounded by the fan-out, not by the graph. The seeds'
    layer-0 rows are gathered with **sparse gradients**
    (``sparse_gradients=True``): the backward pass and the optimizer
    (`torch.optim.SparseAdam`, see `pyg_negdiff.optim`) touch only the
    subgraph's rows, so no step allocates a gradient of the whole table.

    Two sampling engines:

    - ``"pyg"``: PyG's `NeighborSampler`, which needs ``pyg-lib`` or
      ``torch-sparse`` (`.ci/pyg_wheel.sh` builds the latter for PyTorch
      releases without a wheel). Its draws come from PyTorch's global
      generator, which is seeded from ``generator`` around each call and
      then restored, so runs are reproducible. With ``pyg-lib`` it samples
      without replacement. ``torch-sparse``'s sampling without replacement
      is not uniform (its Floyd step draws from $[0, j)$ instead of
      $[0, j]$; the tests measure inclusion rates of 0.21 to 0.35 where
      $k/d = 0.3$), so with ``torch-sparse`` alone the engine draws $k$
      neighbours *with* replacement, each draw weighted $d_v / k$ (still
      unbiased; a node with $d_v \le k$ then gets $k$ draws rather than all
      its neighbours, so its layer is noisier).
    - ``"torch"``: vectorized PyTorch over the graph's CSR, needing neither
      (a node with $d_v > k$ neighbours gets $k$ distinct ones, at offsets
      $(s + \lfloor j d_v / k \rfloor) \bmod d_v$, $j < k$, with a uniform
      random start $s$: each kept with probability $k / d_v$).
    - ``"auto"`` (default): ``"pyg"`` with ``pyg-lib``, else ``"torch"``.

    Evaluation (`embeddings`) is full-ranking: all nodes, layer by layer, in
    chunks of ``chunk_size`` target nodes (PyG's layer-wise inference), so
    that only one layer of $N \times D$ values and one chunk's edges are held
    at a time.

    Args:
        edge_index (torch.Tensor): ``[2, M]`` training graph, both directions.
        num_users (int): Number of users $U$.
        num_items (int): Number of items $I$.
        num_neighbors (Sequence[int]): Fan-out of each hop, ``-1`` for all
            neighbours; one entry per backbone layer.
        chunk_size (int): Target nodes per chunk of layer-wise inference.
            (default: ``65536``)
        engine (str): ``"auto"``, ``"pyg"`` or ``"torch"`` (see above).
            (default: ``"auto"``)
        sparse_gradients (bool): Gather layer-0 rows with sparse gradients.
            (default: ``True``)

    Examples:
        >>> from pyg_negdiff.data.graph import bipartite_edge_index
        >>> from pyg_negdiff.nn import LightGCN
        >>> edge_index = bipartite_edge_index(torch.tensor([[0, 0, 1, 2], [0, 2, 1, 1]]), num_users=3)
        >>> model = LightGCN(3, 3, embedding_dim=4, num_layers=2)
        >>> prop = NeighborPropagation(edge_index, 3, 3, num_neighbors=[-1, -1])
        >>> batch = prop(model, torch.tensor([0]), torch.tensor([2]))
        >>> full = FullPropagation(edge_index, 3, 3)(model, torch.tensor([0]), torch.tensor([2]))
        >>> torch.allclose(batch.emb.user[batch.users], full.emb.user[0], atol=1e-6)
        True
        >>> batch.item_ids.tolist()  # only the seeds' rows come back
        [2]
    """

    needs_candidates = True

    def __init__(self, edge_index: Tensor, num_users: int, num_items: int,
                 num_neighbors: Sequence[int], *, chunk_size: int = 2 ** 16, engine: str = "auto",
                 sparse_gradients: bool = True) -> None:
        super().__init__(edge_index, num_users, num_items)
        self.num_neighbors = [int(k) for k in num_neighbors]
        if any(k == 0 or k < -1 for k in self.num_neighbors):
            raise ValueError(f"num_neighbors must be positive or -1 (all), got {list(num_neighbors)}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        self.chunk_size = chunk_size
        self.engine = resolve_engine(engine)
        self.sparse_gradients = bool(sparse_gradients)
        # CSR by target: the neighbours whose messages node v receives.
        src, dst = edge_index
        order = torch.argsort(dst * self.num_nodes + src)
        self.col = src[order]
        deg = degree(dst, self.num_nodes, dtype=torch.long)
        self.rowptr = torch.cat([deg.new_zeros(1), deg.cumsum(0)])
        self.deg = deg
        inv_sqrt = deg.double().pow(-0.5)
        self.inv_sqrt_deg = inv_sqrt.masked_fill_(deg == 0, 0.0).float()
        # Global -> local id map, reset after each use: O(N) ints, allocated once.
        self._local = torch.full((self.num_nodes,), -1, dtype=torch.long)
        self._pyg_sampler = None
        # torch-sparse's draw without replacement is not uniform (its Floyd step draws from
        # [0, j) instead of [0, j]: measured inclusion 0.21-0.35 for k/d = 0.3); with
        # replacement it is, and d/k per draw is then still an unbiased weight.
        self.replace = self.engine == "pyg" and not pyg_typing.WITH_PYG_LIB
        if self.engine == "pyg":
            from torch_geometric.data import Data
            from torch_geometric.sampler import NeighborSampler
            with warnings.catch_warnings():  # "without pyg-lib is deprecated": torch-sparse is what we have
                warnings.simplefilter("ignore")
                self._pyg_sampler = NeighborSampler(
                    Data(edge_index=edge_index.cpu(), num_nodes=self.num_nodes), self.num_neighbors,
                    subgraph_type="directional", replace=self.replace)

    def to(self, device: torch.device | str) -> "NeighborPropagation":
        """Moves the graph (see `Propagation.to`; PyG's engine samples on the CPU).

        Args:
            device (torch.device or str): Target device.

        Returns:
            NeighborPropagation: ``self``.
        """
        for name in ("col", "rowptr", "deg", "inv_sqrt_deg", "_local"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def __repr__(self) -> str:
        engine = self.engine + ("+replace" if self.replace else "")
        return (f"{self.__class__.__name__}(num_neighbors={self.num_neighbors}, engine={engine!r}, "
                f"sparse_gradients={self.sparse_gradients})")

    def sparse_parameters(self, model: Recommender) -> list[torch.nn.Parameter]:
        """The embedding table, unless ``sparse_gradients=False`` (see `Propagation.sparse_parameters`).

        Args:
            model (Recommender): The backbone.

        Returns:
            list: ``[model.embedding.weight]`` or nothing.
        """
        return [model.embedding.weight] if self.sparse_gradients else []

    # ------------------------------------------------------------ sampling
    def _neighbors(self, nodes: Tensor, fanout: int,
                   generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """Sampled in-edges ``(src, dst)`` of ``nodes`` (global ids), the ``"torch"`` engine."""
        start = self.rowptr[nodes]
        deg = self.rowptr[nodes + 1] - start
        take = deg if fanout < 0 else deg.clamp(max=fanout)
        dst = torch.repeat_interleave(nodes, take)
        offset = torch.arange(int(take.sum()), device=nodes.device)
        offset = offset - torch.repeat_interleave(take.cumsum(0) - take, take)  # j within a node
        if fanout > 0 and bool((deg > fanout).any()):
            # Systematic sample of k of d: random start, evenly spaced, all distinct.
            d = torch.repeat_interleave(deg, take)
            gen_device = generator.device if generator is not None else nodes.device
            start_off = (torch.rand(nodes.numel(), generator=generator, device=gen_device).to(nodes.device)
                         * deg).long()
            s = torch.repeat_interleave(start_off, take)
            sampled = (s + offset * d // torch.repeat_interleave(take, take).clamp(min=1)) % d.clamp(min=1)
            offset = torch.where(d > fanout, sampled, offset)
        return self.col[torch.repeat_interleave(start, take) + offset], dst

    def _sample_torch(self, seeds: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """``node`` (seeds first) and local ``edge_index`` (source, target), the ``"torch"`` engine."""
        local = self._local
        node = seeds
        local[seeds] = torch.arange(seeds.numel(), device=seeds.device)
        frontier, srcs, dsts = seeds, [], []
        try:
            for fanout in self.num_neighbors:
                if frontier.numel() == 0:
                    break
                src, dst = self._neighbors(frontier, fanout, generator)
                new = torch.unique(src[local[src] < 0])
                local[new] = torch.arange(node.numel(), node.numel() + new.numel(), device=new.device)
                node = torch.cat([node, new])
                srcs.append(src)
                dsts.append(dst)
                frontier = new
            src = torch.cat(srcs) if srcs else seeds.new_empty(0)
            dst = torch.cat(dsts) if dsts else seeds.new_empty(0)
            return node, torch.stack([local[src], local[dst]])
        finally:
            local[node] = -1

    def _sample_pyg(self, seeds: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """``node`` (seeds first) and local ``edge_index`` (source, target), PyG's engine."""
        from torch_geometric.sampler import NodeSamplerInput

        draw = NodeSamplerInput(input_id=None, node=seeds.cpu())
        if generator is None:  # PyG's engine draws from the global generator
            out = self._pyg_sampler.sample_from_nodes(draw)
        else:  # seeded from ours, the global stream left where it was
            seed = int(torch.randint(2 ** 62, (1,), generator=generator, device=generator.device))
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                out = self._pyg_sampler.sample_from_nodes(draw)
        return out.node.to(seeds.device), torch.stack([out.row, out.col]).to(seeds.device)

    def sample(self, seeds: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """The sampled computation graph of ``seeds``.

        Args:
            seeds (torch.Tensor): ``[S]`` distinct global node ids.
            generator (torch.Generator, optional): Source of randomness (used only
                for nodes with more neighbours than the fan-out).

        Returns:
            tuple: ``node`` ``[N_s]`` global ids (seeds first), ``edge_index``
            ``[2, M_s]`` in local ids (source, target) and ``edge_weight``
            ``[M_s]`` with the full-graph normalization times $d_v / k_v$.
        """
        sample = self._sample_pyg if self.engine == "pyg" else self._sample_torch
        node, edge_index = sample(seeds, generator)
        src, dst = node[edge_index[0]], node[edge_index[1]]
        # k_v: the in-edges kept for v (min(k, d_v) without replacement, k draws with it).
        kept = torch.bincount(edge_index[1], minlength=node.numel())[edge_index[1]]
        weight = self.inv_sqrt_deg[src] * self.inv_sqrt_deg[dst] * (self.deg[dst] / kept).float()
        return node, edge_index, weight

    @staticmethod
    def _adjacency(edge_index: Tensor, edge_weight: Tensor, num_nodes: int) -> Tensor:
        """``[n, n]`` CSR matrix whose row $v$ holds the weights of the messages $v$ receives."""
        adj = torch.sparse_coo_tensor(edge_index.flip(0), edge_weight, (num_nodes, num_nodes),
                                      check_invariants=False)
        with warnings.catch_warnings():  # "CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            return adj.coalesce().to_sparse_csr()

    # ----------------------------------------------------------- training
    def __call__(self, model: Recommender, users: Tensor, pos_items: Tensor,
                 candidates: Tensor | None = None,
                 generator: torch.Generator | None = None) -> BatchEmbeddings:
        """Propagates over the batch's sampled subgraph (see `Propagation.__call__`).

        Args:
            model (Recommender): The backbone.
            users (torch.Tensor): ``[B]`` user ids.
            pos_items (torch.Tensor): ``[B]`` positive item ids.
            candidates (torch.Tensor, optional): ``[B, M]`` candidate item ids.
            generator (torch.Generator, optional): Source of randomness.

        Returns:
            BatchEmbeddings: Rows of the distinct seed users and items.
        """
        self.check(model)
        user_ids, user_rows = torch.unique(users, return_inverse=True)
        items = pos_items if candidates is None else torch.cat([pos_items, candidates.reshape(-1)])
        item_ids, item_rows = torch.unique(items, return_inverse=True)
        seeds = torch.cat([user_ids, item_ids + self.num_users])
        node, edge_index, edge_weight = self.sample(seeds, generator)
        adj = self._adjacency(edge_index, edge_weight.to(model.embedding.weight.dtype), node.numel())
        x = torch.nn.functional.embedding(node, model.embedding.weight, sparse=self.sparse_gradients)
        layers = model.propagate_layers(adj, x=x)
        nu, ni = user_ids.numel(), item_ids.numel()
        emb = Embeddings(layers[:nu], layers[nu:nu + ni], model.pooling)
        B = pos_items.numel()
        cand_rows = item_rows[B:].view(candidates.shape) if candidates is not None else None
        return BatchEmbeddings(emb, user_rows, item_rows[:B], cand_rows, user_ids, item_ids)

    def check(self, model: Recommender) -> None:
        """Raises ``ValueError`` unless there is one fan-out per layer of ``model``.

        Args:
            model (Recommender): The backbone.
        """
        layers = getattr(model, "num_layers", 0)
        if len(self.num_neighbors) != layers:
            raise ValueError(f"num_neighbors has {len(self.num_neighbors)} hops but the backbone has "
                             f"{layers} layers: give one fan-out per layer")

    # --------------------------------------------------------- evaluation
    def embeddings(self, model: Recommender) -> Embeddings:
        """All embeddings, layer by layer in chunks of target nodes (see `Propagation.embeddings`).

        Args:
            model (Recommender): The backbone.

        Returns:
            Embeddings: All users and items.
        """
        self.check(model)
        with torch.no_grad():
            x = model.embedding.weight
            layers = [x]
            for index in range(len(self.num_neighbors)):
                nxt, out = torch.empty_like(x), torch.empty_like(x)
                for a in range(0, self.num_nodes, self.chunk_size):
                    b = min(a + self.chunk_size, self.num_nodes)
                    targets = torch.arange(a, b, device=x.device)
                    src = self.col[int(self.rowptr[a]):int(self.rowptr[b])]
                    dst = torch.repeat_interleave(targets - a, self.rowptr[a + 1:b + 1] - self.rowptr[a:b])
                    sources, src_rows = torch.unique(src, return_inverse=True)
                    weight = (self.inv_sqrt_deg[src] * self.inv_sqrt_deg[targets[dst]]).to(x.dtype)
                    n = (b - a) + sources.numel()
                    adj = self._adjacency(torch.stack([src_rows + (b - a), dst]), weight, n)
                    step, kept = model.propagate_layer(index, torch.cat([x[a:b], x[sources]]), adj)
                    nxt[a:b], out[a:b] = step[:b - a], kept[:b - a]
                x = nxt
                layers.append(out)
            stacked = torch.stack(layers, dim=1)
        return Embeddings(stacked[:self.num_users], stacked[self.num_users:], model.pooling)


def resolve_engine(engine: str) -> str:
    """The neighbour-sampling engine ``engine`` names, ``"auto"`` resolved.

    Args:
        engine (str): ``"auto"``, ``"pyg"`` or ``"torch"``.

    Returns:
        str: ``"pyg"`` or ``"torch"``.

    Raises:
        ValueError: Unknown name, or ``"pyg"`` without ``pyg-lib`` or ``torch-sparse``.
    """
    available = pyg_typing.WITH_PYG_LIB or pyg_typing.WITH_TORCH_SPARSE
    if engine == "auto":  # torch-sparse's sampler draws with replacement (see NeighborPropagation)
        return "pyg" if pyg_typing.WITH_PYG_LIB else "torch"
    if engine not in ("pyg", "torch"):
        raise ValueError(f"unknown neighbour-sampling engine {engine!r}; choose 'auto', 'pyg' or 'torch'")
    if engine == "pyg" and not available:
        raise ValueError("neighbour-sampling engine 'pyg' needs pyg-lib or torch-sparse, and neither is "
                         "installed: install one (see the Scaling out page), or use engine 'torch'")
    return engine


def build_propagation(name: str, edge_index: Tensor, num_users: int, num_items: int,
                      num_neighbors: Sequence[int] | None = None, engine: str = "auto",
                      sparse_gradients: bool = True) -> Propagation:
    """Builds a propagation strategy by name.

    Args:
        name (str): ``"full"`` or ``"neighbor"``.
        edge_index (torch.Tensor): ``[2, M]`` training graph, both directions.
        num_users (int): Number of users $U$.
        num_items (int): Number of items $I$.
        num_neighbors (Sequence[int], optional): Fan-out per hop (``"neighbor"`` only).
        engine (str): Neighbour-sampling engine (``"neighbor"`` only, see
            `NeighborPropagation`). (default: ``"auto"``)
        sparse_gradients (bool): Sparse embedding gradients (``"neighbor"``
            only). (default: ``True``)

    Returns:
        Propagation: The strategy.
    """
    if name == "full":
        if num_neighbors:
            raise ValueError("num_neighbors applies to propagation 'neighbor' only")
        return FullPropagation(edge_index, num_users, num_items)
    if name == "neighbor":
        if not num_neighbors:
            raise ValueError("propagation 'neighbor' needs num_neighbors (one fan-out per layer, -1 for all)")
        return NeighborPropagation(edge_index, num_users, num_items, num_neighbors, engine=engine,
                                   sparse_gradients=sparse_gradients)
    raise ValueError(f"unknown propagation {name!r}; choose 'full' or 'neighbor'")


__all__ = ["BatchEmbeddings", "FullPropagation", "NeighborPropagation", "Propagation",
           "build_propagation", "resolve_engine"]

#: Strategy name to class (``--propagation``, `RunConfig.propagation`).
PROPAGATIONS: dict[str, type[Propagation]] = {"full": FullPropagation, "neighbor": NeighborPropagation}
