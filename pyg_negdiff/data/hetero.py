r"""`InteractionData` to and from PyG `HeteroData`, in the layout of PyG's recommender datasets.

`torch_geometric.datasets.MovieLens100K` and `torch_geometric.datasets.AmazonBook` store
one user-item relation ``('user', 'rates', 'movie')`` / ``('user', 'rates', 'book')``
whose ``edge_index`` holds the training interactions and whose ``edge_label_index`` holds
the test interactions, plus the reverse relation ``('movie', 'rated_by', 'user')`` over the
training edges, and ``num_nodes`` (or features) on both node types. `to_hetero` writes that
layout, and `from_hetero` reads it back, from our own output or from those datasets.

On the user-item edge type, part by part:

| part | interactions | timestamps | environments |
|---|---|---|---|
| ``"train"`` | ``edge_index`` | ``time`` | ``env`` |
| ``"test"`` | ``edge_label_index`` | ``edge_label_time`` | ``edge_label_env`` |
| any other part ``p`` | ``{p}_edge_label_index`` | ``{p}_edge_label_time`` | ``{p}_edge_label_env`` |

The synthetic ground truth, when present, is ``true_edge_index``.

Examples:
    >>> import torch
    >>> from pyg_negdiff.data.interactions import InteractionData
    >>> data = InteractionData(3, 4, {"train": torch.tensor([[0, 1, 2], [1, 2, 3]]),
    ...                               "test": torch.tensor([[0], [3]])})
    >>> hetero = to_hetero(data, item_type="movie")
    >>> hetero.edge_types
    [('user', 'rates', 'movie'), ('movie', 'rated_by', 'user')]
    >>> hetero["user", "rates", "movie"].edge_label_index.tolist()
    [[0], [3]]
    >>> back = from_hetero(hetero)
    >>> back
    InteractionData(name='data', users=3, items=4, train=3, test=1)
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from pyg_negdiff.data.interactions import EVAL_PARTS, DataValidationError, InteractionData

__all__ = ["from_hetero", "to_hetero"]

EdgeType = tuple[str, str, str]


def _names(part: str) -> tuple[str, str, str]:
    """Attribute names of a part's ``(index, time, env)`` on the edge store."""
    if part == "train":
        return "edge_index", "time", "env"
    prefix = "" if part == "test" else f"{part}_"
    return f"{prefix}edge_label_index", f"{prefix}edge_label_time", f"{prefix}edge_label_env"


def to_hetero(
    data: InteractionData,
    *,
    user_type: str = "user",
    item_type: str = "item",
    relation: str = "rates",
    reverse_relation: str | None = "rated_by",
) -> HeteroData:
    """Converts interactions to a `HeteroData` with user and item node types.

    Args:
        data (InteractionData): The interactions.
        user_type (str): Node type of the users.
        item_type (str): Node type of the items (``"movie"`` as in `MovieLens100K`,
            ``"book"`` as in `AmazonBook`).
        relation (str): Relation of the user-to-item edge type.
        reverse_relation (str, optional): Relation of the item-to-user edge type,
            which holds the training edges flipped; ``None`` leaves it out.

    Returns:
        HeteroData: ``num_nodes`` on both node types, the parts on edge type
        ``(user_type, relation, item_type)`` as in the table of this module.
    """
    if user_type == item_type:
        raise ValueError(f"user and item node types must differ, both are {user_type!r}")
    hetero = HeteroData()
    hetero[user_type].num_nodes = data.num_users
    hetero[item_type].num_nodes = data.num_items
    store = hetero[user_type, relation, item_type]
    for part, index in data.parts.items():
        index_name, time_name, env_name = _names(part)
        store[index_name] = index
        if part in data.timestamps:
            store[time_name] = data.timestamps[part]
        if part in data.env:
            store[env_name] = data.env[part]
    if data.true_positives is not None:
        store.true_edge_index = data.true_positives
    if reverse_relation is not None:
        back = hetero[item_type, reverse_relation, user_type]
        back.edge_index = data.train.flip([0])
        if "train" in data.timestamps:
            back.time = data.timestamps["train"]
    return hetero


def _detect(hetero: HeteroData, user_type: str) -> EdgeType:
    candidates = [et for et in hetero.edge_types if et[0] == user_type and et[2] != user_type]
    if len(candidates) != 1:
        raise DataValidationError(
            f"cannot tell the user-item edge type: {len(candidates)} edge types start at "
            f"{user_type!r} ({candidates}) among {hetero.edge_types}; pass edge_type="
        )
    return candidates[0]


def _num_nodes(hetero: HeteroData, node_type: str, ids: list[Tensor]) -> int:
    # `num_nodes` falls back to `x.size(0)`; without either, the largest id decides.
    num = hetero[node_type].num_nodes if node_type in hetero.node_types else None
    if num is None:
        num = max((int(i.max()) + 1 for i in ids if i.numel()), default=0)
    return int(num)


def _positive(
    index: Tensor, label: Tensor | None, min_rating: float | None, what: str, notes: list[str]
) -> Tensor:
    r"""Keeps positives: rating $\ge$ ``min_rating``, or label 1 when labels are 0/1."""
    if label is None:
        if min_rating is not None:
            raise DataValidationError(
                f"min_rating={min_rating} (--min-rating) but {what} has no ratings"
            )
        return torch.ones(index.size(1), dtype=torch.bool)
    if label.numel() != index.size(1):
        raise DataValidationError(f"{what} has {label.numel()} labels for {index.size(1)} edges")
    if min_rating is not None:
        keep = label >= min_rating
        notes.append(
            f"{what}: kept {int(keep.sum())} of {keep.numel()} edges with rating "
            f">= {min_rating:g}"
        )
        return keep
    if bool(((label == 0) | (label == 1)).all()):
        # Binary labels, as `RandomLinkSplit` writes them: 0 marks a sampled negative.
        keep = label == 1
        if not bool(keep.all()):
            notes.append(f"{what}: dropped {int((~keep).sum())} edges labelled 0 (negatives)")
        return keep
    return torch.ones(index.size(1), dtype=torch.bool)


def _check_index(index: Tensor, what: str) -> Tensor:
    """An integer ``[2, E]`` edge index, or a `DataValidationError` that names it."""
    if not isinstance(index, Tensor):
        raise DataValidationError(f"{what} is a {type(index).__name__}, not a tensor")
    if index.is_floating_point() or index.is_complex() or index.dtype == torch.bool:
        raise DataValidationError(
            f"{what} has dtype {index.dtype}; node ids must be integers "
            f"(convert with .long() after checking that they are whole)"
        )
    if index.dim() != 2 or index.size(0) != 2:
        raise DataValidationError(
            f"{what} must have shape [2, num_edges] (a row of sources and "
            f"a row of targets), got {list(index.shape)}"
        )
    return index.long()


def _first_occurrences(index: Tensor, what: str, notes: list[str]) -> Tensor:
    """A mask keeping the first of every repeated (user, item) edge, with a note on the rest."""
    if index.size(1) < 2:
        return torch.ones(index.size(1), dtype=torch.bool)
    width = int(index[1].max()) + 1
    _, inverse = torch.unique(index[0] * width + index[1], return_inverse=True)
    first = torch.full((int(inverse.max()) + 1,), index.size(1), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(index.size(1)), reduce="amin")
    keep = torch.zeros(index.size(1), dtype=torch.bool)
    keep[first] = True
    if not bool(keep.all()):
        notes.append(f"{what}: dropped {int((~keep).sum())} duplicate (user, item) edges")
    return keep


def from_hetero(
    hetero: HeteroData,
    *,
    edge_type: EdgeType | None = None,
    user_type: str = "user",
    min_rating: float | None = None,
    name: str = "data",
) -> InteractionData:
    r"""Reads interactions back from a `HeteroData` (ours, `MovieLens100K`, `AmazonBook`, ...).

    ``edge_index`` becomes ``"train"``, ``edge_label_index`` becomes ``"test"`` and
    ``{p}_edge_label_index`` becomes part ``p``; times, environments and
    ``true_edge_index`` are read when present (see the module's table).
    `MovieLens100K` stores explicit ratings (``rating`` on training edges,
    ``edge_label`` on test edges): ``min_rating`` keeps those $\ge$ the threshold.
    Without it, labels that are all 0/1 (as `RandomLinkSplit` writes them) keep
    the edges labelled 1, and other labels keep every edge.

    Args:
        hetero (HeteroData): The graph.
        edge_type (tuple[str, str, str], optional): The user-item edge type
            (default: the only edge type that starts at ``user_type`` and ends elsewhere).
        user_type (str): Node type of the users.
        min_rating (float, optional): Keep rated edges with rating $\ge$ this.
        name (str): Label of the result.

    Returns:
        InteractionData: $U$ and $I$ from ``num_nodes`` of the two node types
        (else the largest id + 1). Repeated (user, item) edges of a part are dropped
        (the first is kept), with a note.

    Raises:
        DataValidationError: An edge index that is not an integer ``[2, E]`` tensor, or no
            user-item edge type to read; the message names the edge type.
    """
    edge_type = tuple(edge_type) if edge_type is not None else _detect(hetero, user_type)
    if edge_type not in hetero.edge_types:
        raise DataValidationError(f"no edge type {edge_type} among {hetero.edge_types}")
    store = hetero[edge_type]
    keys = set(store.keys())
    named = {k[: -len("_edge_label_index")]: k for k in keys if k.endswith("_edge_label_index")}
    named["test"] = "edge_label_index"
    # The usual order (train, val, test, test_ood), then any other part by name.
    order = [p for p in EVAL_PARTS if p in named] + sorted(p for p in named if p not in EVAL_PARTS)
    parts = {"train": "edge_index", **{p: named[p] for p in order}}
    notes: list[str] = []
    index, times, envs = {}, {}, {}
    for part, index_name in parts.items():
        if index_name not in keys:
            continue
        _, time_name, env_name = _names(part)
        edges = _check_index(store[index_name], f"{edge_type} {index_name}")
        label_name = "rating" if part == "train" else index_name.replace("_index", "")
        label = store[label_name] if label_name in keys else None
        keep = _positive(edges, label, min_rating, f"{edge_type} {label_name}", notes)
        kept = keep.nonzero().view(-1)
        keep = torch.zeros_like(keep)
        keep[kept[_first_occurrences(edges[:, kept], f"{edge_type} {index_name}", notes)]] = True
        index[part] = edges[:, keep]
        if time_name in keys:
            times[part] = store[time_name][keep].double()  # PyG datasets store int seconds
        if env_name in keys:
            envs[part] = store[env_name][keep].long()
    if "train" not in index:
        raise DataValidationError(
            f"edge type {edge_type} has no edge_index (it holds "
            f"{', '.join(sorted(keys)) or 'nothing'})"
        )
    ids = list(index.values())
    data = InteractionData(
        num_users=_num_nodes(hetero, edge_type[0], [i[0] for i in ids]),
        num_items=_num_nodes(hetero, edge_type[2], [i[1] for i in ids]),
        parts=index,
        timestamps=times,
        env=envs,
        true_positives=store.true_edge_index if "true_edge_index" in keys else None,
        name=name,
    )
    for message in notes:
        data.note(message)
    return data
