r"""`NeighborPropagation`: the sampled $L$-hop subgraph around a batch, reweighted
to the full graph's normalization, and layer-wise full-ranking inference."""

from __future__ import annotations

import warnings
from typing import Sequence

import torch
from torch import Tensor
from torch_geometric.utils import degree

from pyg_negdiff.nn.base import Embeddings, Recommender
from pyg_negdiff.propagation.base import BatchEmbeddings, Propagation
from pyg_negdiff.propagation.engines import PyGEngine, resolve_engine, sample_subgraph


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

    Two sampling engines (`pyg_negdiff.propagation.engines`):

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
        >>> from pyg_negdiff.propagation import FullPropagation
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
    shardable = True
    samples_neighbors = True

    def __init__(
        self,
        edge_index: Tensor,
        num_users: int,
        num_items: int,
        num_neighbors: Sequence[int],
        *,
        chunk_size: int = 2**16,
        engine: str = "auto",
        sparse_gradients: bool = True,
    ) -> None:
        super().__init__(edge_index, num_users, num_items)
        self.num_neighbors = [int(k) for k in num_neighbors]
        if any(k == 0 or k < -1 for k in self.num_neighbors):
            raise ValueError(
                f"num_neighbors must be positive or -1 (all), got {list(num_neighbors)}"
            )
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
        # PyG's engine keeps its own copy of the graph, on the CPU.
        self._pyg = (
            PyGEngine(edge_index, self.num_nodes, self.num_neighbors)
            if self.engine == "pyg"
            else None
        )
        self.replace = self._pyg is not None and self._pyg.replace

    @classmethod
    def from_options(
        cls,
        edge_index: Tensor,
        num_users: int,
        num_items: int,
        *,
        num_neighbors: Sequence[int] | None = None,
        engine: str = "auto",
        sparse_gradients: bool = True,
    ) -> "NeighborPropagation":
        """See `Propagation.from_options`; ``num_neighbors`` is required.

        Args:
            edge_index (torch.Tensor): ``[2, M]`` training graph, both directions.
            num_users (int): Number of users $U$.
            num_items (int): Number of items $I$.
            num_neighbors (Sequence[int], optional): Fan-out per hop.
            engine (str): Neighbour-sampling engine.
            sparse_gradients (bool): Sparse embedding gradients.

        Returns:
            NeighborPropagation: The strategy.
        """
        if not num_neighbors:
            raise ValueError(
                "propagation 'neighbor' needs num_neighbors (one fan-out per layer, -1 for all)"
            )
        return cls(
            edge_index,
            num_users,
            num_items,
            num_neighbors,
            engine=engine,
            sparse_gradients=sparse_gradients,
        )

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
        return (
            f"{self.__class__.__name__}(num_neighbors={self.num_neighbors}, engine={engine!r}, "
            f"sparse_gradients={self.sparse_gradients})"
        )

    def sparse_parameters(self, model: Recommender) -> list[torch.nn.Parameter]:
        """The embedding table, unless ``sparse_gradients=False`` (see `Propagation.sparse_parameters`).

        Args:
            model (Recommender): The backbone.

        Returns:
            list: ``[model.embedding.weight]`` or nothing.
        """
        return [model.embedding.weight] if self.sparse_gradients else []

    # ------------------------------------------------------------ sampling
    def sample(
        self, seeds: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
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
        if self._pyg is not None:
            node, edge_index = self._pyg.sample(seeds, generator)
        else:
            node, edge_index = sample_subgraph(
                self.col, self.rowptr, self._local, self.num_neighbors, seeds, generator
            )
        src, dst = node[edge_index[0]], node[edge_index[1]]
        # k_v: the in-edges kept for v (min(k, d_v) without replacement, k draws with it).
        kept = torch.bincount(edge_index[1], minlength=node.numel())[edge_index[1]]
        weight = self.inv_sqrt_deg[src] * self.inv_sqrt_deg[dst] * (self.deg[dst] / kept).float()
        return node, edge_index, weight

    @staticmethod
    def _adjacency(edge_index: Tensor, edge_weight: Tensor, num_nodes: int) -> Tensor:
        """``[n, n]`` CSR matrix whose row $v$ holds the weights of the messages $v$ receives."""
        adj = torch.sparse_coo_tensor(
            edge_index.flip(0), edge_weight, (num_nodes, num_nodes), check_invariants=False
        )
        with warnings.catch_warnings():  # "CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            return adj.coalesce().to_sparse_csr()

    # ----------------------------------------------------------- training
    def __call__(
        self,
        model: Recommender,
        users: Tensor,
        pos_items: Tensor,
        candidates: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> BatchEmbeddings:
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
        adj = self._adjacency(
            edge_index, edge_weight.to(model.embedding.weight.dtype), node.numel()
        )
        x = torch.nn.functional.embedding(
            node, model.embedding.weight, sparse=self.sparse_gradients
        )
        layers = model.propagate_layers(adj, x=x)
        nu, ni = user_ids.numel(), item_ids.numel()
        emb = Embeddings(layers[:nu], layers[nu : nu + ni], model.pooling)
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
            raise ValueError(
                f"num_neighbors has {len(self.num_neighbors)} hops but the backbone has "
                f"{layers} layers: give one fan-out per layer"
            )

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
                    src = self.col[int(self.rowptr[a]) : int(self.rowptr[b])]
                    dst = torch.repeat_interleave(
                        targets - a, self.rowptr[a + 1 : b + 1] - self.rowptr[a:b]
                    )
                    sources, src_rows = torch.unique(src, return_inverse=True)
                    weight = (self.inv_sqrt_deg[src] * self.inv_sqrt_deg[targets[dst]]).to(x.dtype)
                    n = (b - a) + sources.numel()
                    adj = self._adjacency(torch.stack([src_rows + (b - a), dst]), weight, n)
                    step, kept = model.propagate_layer(index, torch.cat([x[a:b], x[sources]]), adj)
                    nxt[a:b], out[a:b] = step[: b - a], kept[: b - a]
                x = nxt
                layers.append(out)
            stacked = torch.stack(layers, dim=1)
        return Embeddings(stacked[: self.num_users], stacked[self.num_users :], model.pooling)


__all__ = ["NeighborPropagation"]
