"""Checks at the public Python boundary, with messages that name the argument and its shape.

A bad value given to a constructor or a call used to fail far from where it was given: a float
id was truncated without a word, a negative user id surfaced as ``IndexError: index -26560``,
a wrong-sized embedding table as an index error inside the ranking. These helpers raise
`TypeError` (wrong kind of value) or `ValueError` (right kind, wrong value) at the call, naming
the argument as the caller spelled it. They import only torch, so every layer may use them.
"""

from __future__ import annotations

import numbers
from typing import Any

import torch
from torch import Tensor

__all__ = ["check_integer", "check_ids", "check_rows"]


def check_integer(name: str, value: Any, low: int = 1) -> int:
    """Checks that ``value`` is an integer (not a bool, not a float) of at least ``low``.

    Args:
        name (str): The argument, e.g. ``"epochs"``.
        value (Any): What was given.
        low (int): The smallest value allowed.

    Returns:
        int: ``value`` as a Python int.

    Raises:
        TypeError: When it is not an integer (``2.5``, ``True``, ``"3"``).
        ValueError: When it is below ``low``.

    Examples:
        >>> check_integer("epochs", 3)
        3
        >>> check_integer("epochs", 0)
        Traceback (most recent call last):
        ...
        ValueError: epochs=0: must be an integer >= 1
    """
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name}={value!r}: must be an integer >= {low}, not {type(value).__name__}"
        )
    if value < low:
        raise ValueError(f"{name}={value!r}: must be an integer >= {low}")
    return int(value)


def check_ids(name: str, ids: Tensor, bound: int, what: str, *, length: int | None = None) -> None:
    """Checks a ``[B]`` tensor of ids: an integer dtype, one dimension, every id in ``[0, bound)``.

    Args:
        name (str): The argument, e.g. ``"users"``.
        ids (torch.Tensor): The ids.
        bound (int): One past the largest valid id.
        what (str): Where ``bound`` comes from, for the message (e.g. ``"the sampler's
            num_users"``).
        length (int, optional): The length it must have (that of a companion argument).

    Raises:
        TypeError: When ``ids`` is not an integer tensor.
        ValueError: On a wrong shape or an id out of range (the first such id is named).
    """
    if not isinstance(ids, Tensor):
        raise TypeError(f"{name}: expected a [B] integer tensor, got {type(ids).__name__}")
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(f"{name}: expected a [B] integer tensor of ids, got dtype {ids.dtype}")
    if ids.dim() != 1 or (length is not None and ids.numel() != length):
        shape = "[B]" if length is None else f"[{length}]"
        raise ValueError(f"{name}: expected shape {shape}, got {list(ids.shape)}")
    if ids.numel() == 0:
        return
    bad = (ids < 0) | (ids >= bound)
    if bool(bad.any()):  # one synchronization per call
        first = int(ids[bad][0])
        raise ValueError(f"{name}: id {first} is outside [0, {bound}) ({what})")


def check_rows(name: str, table: Tensor, rows: int, what: str) -> None:
    """Checks that ``table`` is a tensor with ``rows`` rows (one per user, or per item).

    Args:
        name (str): The argument, e.g. ``"emb.user"``.
        table (torch.Tensor): The table.
        rows (int): The number of rows it must have.
        what (str): What the rows are, e.g. ``"the data's num_users"``.

    Raises:
        TypeError: When ``table`` is not a tensor.
        ValueError: When its first dimension is not ``rows``.
    """
    if not isinstance(table, Tensor):
        raise TypeError(f"{name}: expected a tensor, got {type(table).__name__}")
    if table.dim() < 1 or table.size(0) != rows:
        raise ValueError(
            f"{name}: expected {rows} rows ({what}), got shape {list(table.shape)}; "
            f"were the embeddings computed on another dataset?"
        )
