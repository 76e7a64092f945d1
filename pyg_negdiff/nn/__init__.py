"""Backbones: map the user-item graph to user and item embeddings."""

from __future__ import annotations

from typing import Any

from pyg_negdiff.nn.base import Embeddings, Recommender
from pyg_negdiff.nn.lightgcn import LightGCN
from pyg_negdiff.nn.mf import MF
from pyg_negdiff.nn.ngcf import NGCF, NGCFConv

#: Backbone name to class: ``--model``, `RunConfig.model` and `build_model` read it. A class
#: without propagation layers sets ``has_layers = False`` (it then takes no ``num_layers``).
MODELS: dict[str, type[Recommender]] = {"lightgcn": LightGCN, "ngcf": NGCF, "mf": MF}


def build_model(name: str, num_users: int, num_items: int, **kwargs: Any) -> Recommender:
    r"""Builds a backbone by name.

    Args:
        name (str): ``"lightgcn"``, ``"ngcf"`` or ``"mf"`` (case-insensitive).
        num_users (int): Number of users $U$.
        num_items (int): Number of items $I$.
        **kwargs (optional): The backbone's other constructor arguments
            (``embedding_dim``, ``num_layers``, ``dropout``).

    Examples:
        >>> build_model("lightgcn", num_users=3, num_items=5, embedding_dim=8)
        LightGCN(3 users, 5 items, embedding_dim=8, num_layers=3)
    """
    try:
        cls = MODELS[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"Unknown backbone {name!r}; expected one of {', '.join(repr(k) for k in MODELS)}"
        ) from None
    return cls(num_users, num_items, **kwargs)


__all__ = [
    "Recommender",
    "Embeddings",
    "LightGCN",
    "NGCF",
    "NGCFConv",
    "MF",
    "MODELS",
    "build_model",
]
