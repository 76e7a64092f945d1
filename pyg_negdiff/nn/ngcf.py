"""NGCF: graph convolution with a bi-interaction term (NGCFConv and the NGCF backbone)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.typing import Adj, OptTensor
from torch_geometric.utils import is_sparse, spmm

from pyg_negdiff.nn._sparse import prepare_adjacency, sparse_matmul
from pyg_negdiff.nn.base import Pooling, Recommender


class NGCFConv(MessagePassing):
    r"""The embedding propagation layer of NGCF from Wang et al., ["Neural Graph
    Collaborative Filtering"](https://arxiv.org/abs/1905.08108) (SIGIR 2019).

    A node $u$ receives from each neighbour $i$ the message
    $\frac{1}{\sqrt{d_u d_i}}\big(W_1 \mathbf{e}_i + W_2 (\mathbf{e}_i \odot \mathbf{e}_u)\big)$
    and from itself $W_1 \mathbf{e}_u$; in matrix form

    $$
    E' = \mathrm{Dropout}\Big(\mathrm{LeakyReLU}\big((\hat{A} + I) E W_1 + b_1
        + \big((\hat{A} E) \odot E\big) W_2 + b_2\big)\Big),
    \qquad \hat{A} = D^{-1/2} A D^{-1/2},
    $$

    where $\odot$ is the element-wise product (the bi-interaction term, which
    makes a message depend on the affinity of $\mathbf{e}_i$ and $\mathbf{e}_u$).
    The neighbour sum $\hat{A}E$ is computed once and shared by both terms:
    a single sparse-dense product when the graph is a sparse matrix
    (`message_and_aggregate`). Dropout acts on the layer output, as the
    "message dropout" of the authors' implementation (and RecBole, MixGCF) does.

    Args:
        in_channels (int): Size of each input embedding.
        out_channels (int): Size of each output embedding.
        dropout (float): Message dropout probability, active in training mode
            only. (default: ``0.1``)
        negative_slope (float): Slope of the LeakyReLU. (default: ``0.2``)
        normalize (bool): If ``True``, normalize the graph with
            $D^{-1/2} A D^{-1/2}$ (no self loops) in every call; set it to
            ``False`` when passing an already normalized graph. (default: ``True``)
        bias (bool): If ``False``, $W_1$ and $W_2$ have no biases. (default: ``True``)
        **kwargs (optional): Additional arguments of
            `torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:** node features ``[N, in_channels]``, edge indices ``[2, M]``
          with optional edge weights ``[M]``, or a sparse ``adj_t`` ``[N, N]``
          (row = target)
        - **output:** node features ``[N, out_channels]``

    Examples:
        >>> import torch
        >>> conv = NGCFConv(8, 16, dropout=0.0)
        >>> x = torch.randn(4, 8)
        >>> edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
        >>> conv(x, edge_index).shape
        torch.Size([4, 16])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        dropout: float = 0.1,
        *,
        negative_slope: float = 0.2,
        normalize: bool = True,
        bias: bool = True,
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.dropout = dropout
        self.negative_slope = negative_slope
        self.normalize = normalize
        # Glorot weights, zero biases (the authors initialize W with Xavier).
        self.lin1 = Linear(
            in_channels,
            out_channels,
            bias=bias,
            weight_initializer="glorot",
            bias_initializer="zeros",
        )
        self.lin2 = Linear(
            in_channels,
            out_channels,
            bias=bias,
            weight_initializer="glorot",
            bias_initializer="zeros",
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.lin1.reset_parameters()
        self.lin2.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: OptTensor = None) -> Tensor:
        """Runs one NGCF layer.

        Args:
            x (torch.Tensor): ``[N, in_channels]`` node embeddings.
            edge_index (torch.Tensor): ``[2, M]`` edges (source, target), or a
                sparse ``adj_t`` ``[N, N]`` whose row $v$ holds the messages $v$ receives.
            edge_weight (torch.Tensor, optional): ``[M]`` edge weights of an edge
                list; must be ``None`` for a sparse matrix.
        """
        if is_sparse(edge_index) and edge_weight is not None:
            raise ValueError(
                "'edge_weight' must be None when 'edge_index' is a sparse "
                "matrix: the matrix values are the edge weights"
            )
        if self.normalize and isinstance(edge_index, Tensor):
            edge_index, edge_weight = gcn_norm(
                edge_index,
                edge_weight,
                x.size(self.node_dim),
                add_self_loops=False,
                flow=self.flow,
                dtype=x.dtype,
            )
        elif self.normalize and is_sparse(edge_index):  # torch_sparse.SparseTensor
            edge_index = gcn_norm(
                edge_index,
                None,
                x.size(self.node_dim),
                add_self_loops=False,
                flow=self.flow,
                dtype=x.dtype,
            )

        # propagate_type: (x: Tensor, edge_weight: OptTensor)
        side = self.propagate(edge_index, x=x, edge_weight=edge_weight)  # A_hat @ x
        out = self.lin1(x + side) + self.lin2(side * x)
        out = F.leaky_relu(out, self.negative_slope)
        return F.dropout(out, p=self.dropout, training=self.training)

    def message(self, x_j: Tensor, edge_weight: OptTensor) -> Tensor:
        """The neighbour's message, scaled by the edge's normalization weight.

        Args:
            x_j (torch.Tensor): ``[M, D]`` source-node features of the edges.
            edge_weight (torch.Tensor, optional): ``[M]`` edge weights.
        """
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j

    def message_and_aggregate(self, adj_t: Adj, x: Tensor) -> Tensor:
        """The fused sparse path: one sparse-dense product with the adjacency.

        Args:
            adj_t (torch.Tensor or SparseTensor): The transposed (normalized) adjacency.
            x (torch.Tensor): ``[N, D]`` node features.
        """
        if self.aggr in ("add", "sum"):
            return sparse_matmul(adj_t, x)
        return spmm(adj_t, x, reduce=self.aggr)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
            f"dropout={self.dropout})"
        )


class NGCF(Recommender):
    r"""The NGCF backbone from Wang et al., ["Neural Graph Collaborative
    Filtering"](https://arxiv.org/abs/1905.08108) (SIGIR 2019).

    $L$ stacked `NGCFConv` layers over the normalized bipartite graph,

    $$
    E^{(l+1)} = \mathrm{LeakyReLU}\big((\hat{A} + I) E^{(l)} W^{(l)}_1
        + \big((\hat{A} E^{(l)}) \odot E^{(l)}\big) W^{(l)}_2\big),
    $$

    with message dropout in training mode. As in the paper (and the authors'
    code) each layer's output is L2-normalized, $\tilde{\mathbf{e}}^{(l)} =
    \mathbf{e}^{(l)} / \lVert \mathbf{e}^{(l)} \rVert_2$ for $l \ge 1$, before
    the layers are concatenated: $\mathbf{e}_v = \mathbf{e}^{(0)}_v \Vert
    \tilde{\mathbf{e}}^{(1)}_v \Vert \cdots \Vert \tilde{\mathbf{e}}^{(L)}_v$
    (pooling ``"concat"``, size $(L+1)D$). The next layer propagates the
    un-normalized $\mathbf{e}^{(l)}$, and $\mathbf{e}^{(0)}$ is kept as is.

    The graph is an edge list ``[2, M]`` (normalized once per call) or the
    sparse matrix from `pyg_negdiff.data.graph.gcn_adjacency` (taken as
    normalized). Embeddings and weights are Xavier-uniform initialized, as in
    the authors' code.

    Args:
        num_users (int): Number of users $U$.
        num_items (int): Number of items $I$.
        embedding_dim (int): Embedding size $D$ of every layer. (default: ``64``)
        num_layers (int): Number of layers $L$. (default: ``3``)
        dropout (float): Message dropout of every layer. (default: ``0.1``)

    Shapes:
        - **input:** edge indices ``[2, M]`` with optional edge weights ``[M]``,
          or a sparse adjacency ``[U + I, U + I]``
        - **output:** `Embeddings` with ``user_layers`` ``[U, L+1, D]`` and
          ``item_layers`` ``[I, L+1, D]`` (``user`` is ``[U, (L+1)D]``)

    Examples:
        >>> import torch
        >>> from pyg_negdiff.data.graph import bipartite_edge_index
        >>> edge_index = bipartite_edge_index(torch.tensor([[0, 0, 1], [0, 2, 1]]), num_users=2)
        >>> model = NGCF(num_users=2, num_items=3, embedding_dim=8, num_layers=2).eval()
        >>> emb = model(edge_index)
        >>> emb.user_layers.shape, emb.user.shape
        (torch.Size([2, 3, 8]), torch.Size([2, 24]))
    """

    pooling: Pooling = "concat"

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int = 64,
        num_layers: int = 3,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(num_users, num_items, embedding_dim)
        self.num_layers = num_layers
        self.dropout = dropout
        self.convs = torch.nn.ModuleList(
            [
                NGCFConv(embedding_dim, embedding_dim, dropout=dropout, normalize=False)
                for _ in range(num_layers)
            ]
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Re-draws embeddings and layer weights (Xavier-uniform, zero biases)."""
        torch.nn.init.xavier_uniform_(self.embedding.weight)
        for conv in self.convs:
            conv.reset_parameters()

    def propagate_layers(
        self, edge_index: Adj, edge_weight: OptTensor = None, *, x: OptTensor = None
    ) -> Tensor:
        r"""Returns $[E^{(0)}, \tilde{E}^{(1)}, \ldots, \tilde{E}^{(L)}]$ as ``[U + I, L+1, D]``.

        Args:
            edge_index (torch.Tensor): ``[2, M]`` edges (both directions), or
                the normalized sparse adjacency from `gcn_adjacency`.
            edge_weight (torch.Tensor, optional): ``[M]`` edge weights for an
                edge list; must be ``None`` for a sparse matrix.
            x (torch.Tensor, optional): ``[N, D]`` layer-0 rows of a subgraph's
                nodes (default: all $U + I$ embeddings).

        Returns:
            torch.Tensor: ``[N, L+1, D]`` embeddings per layer.
        """
        x = self.embedding.weight if x is None else x
        adj, weight = prepare_adjacency(edge_index, edge_weight, x.size(0), x.dtype)
        layers = [x]
        for conv in self.convs:
            x = conv(x, adj, weight)
            layers.append(F.normalize(x, p=2.0, dim=-1))
        return torch.stack(layers, dim=1)

    def propagate_layer(self, index: int, x: Tensor, adj: Adj) -> tuple[Tensor, Tensor]:
        """Layer ``index`` alone: the raw output (next input) and its L2-normalized copy.

        Args:
            index (int): Layer $l$, counted from 0.
            x (torch.Tensor): ``[N, D]`` input of the layer.
            adj (torch.Tensor): ``[N, N]`` normalized sparse adjacency.

        Returns:
            tuple: ``(out, normalize(out))``.
        """
        out = self.convs[index](x, adj)
        return out, F.normalize(out, p=2.0, dim=-1)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.num_users} users, {self.num_items} items, "
            f"embedding_dim={self.embedding_dim}, num_layers={self.num_layers}, "
            f"dropout={self.dropout})"
        )
