"""Checks a sampler's extra constructor arguments against its type hints, before any work.

A value of the wrong type used to pass the configuration check and fail deep inside the first
training step (``num_negatives=1.5`` reached ``torch.rand`` as a size, after the data had
loaded), as an error that looked like a bug. The constructor's annotations already say what each
argument takes, so they are the one place to check against.
"""

from __future__ import annotations

import types
import typing
from typing import Any

__all__ = ["argument_problem", "describe_hint"]


def _hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of ``cls.__init__`` (empty when they cannot be resolved)."""
    try:
        return typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - unresolvable hints: nothing to check against
        return {}


def _options(hint: Any) -> list[Any]:
    """The alternatives of a union (``int | None`` gives ``[int, NoneType]``), else ``[hint]``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return list(typing.get_args(hint))
    return [hint]


def _matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` (as parsed from the command line or JSON) fits the type ``hint``."""
    for option in _options(hint):
        origin = typing.get_origin(option)
        if option is type(None):
            if value is None:
                return True
        elif option is bool:
            if isinstance(value, bool):
                return True
        elif option is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return True
        elif option is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return True
        elif option is str:
            if isinstance(value, str):
                return True
        elif origin is typing.Literal:
            if value in typing.get_args(option):
                return True
        elif origin in (tuple, list) and isinstance(value, (list, tuple)):
            args = typing.get_args(option)
            if origin is tuple and args and Ellipsis not in args:
                if len(args) == len(value) and all(map(_matches, value, args)):
                    return True
            elif not args or all(_matches(v, args[0]) for v in value):
                return True
        elif origin not in (tuple, list):  # a tensor, a config object: not the CLI's to check
            return True
    return False


def describe_hint(hint: Any) -> str:
    """The type ``hint`` in a user's words: ``an integer``, ``one of 'pair', 'batch'``, ...

    Examples:
        >>> describe_hint(int), describe_hint(float | None)
        ('an integer', 'a number or null')
        >>> from typing import Literal
        >>> describe_hint(Literal["pair", "batch"])
        "one of 'pair', 'batch'"
    """
    words = []
    for option in _options(hint):
        origin = typing.get_origin(option)
        if option is type(None):
            words.append("null")
        elif option is bool:
            words.append("true or false")
        elif option is int:
            words.append("an integer")
        elif option is float:
            words.append("a number")
        elif option is str:
            words.append("a string")
        elif origin is typing.Literal:
            words.append("one of " + ", ".join(repr(v) for v in typing.get_args(option)))
        elif origin in (tuple, list):
            count = len(typing.get_args(option))
            words.append(f"a list of {count} numbers, e.g. [0.1, 0.2]" if count else "a list")
        else:
            words.append(getattr(option, "__name__", str(option)))
    return " or ".join(words)


def argument_problem(cls: type, key: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the constructor argument ``key`` of ``cls``, if anything.

    Args:
        cls (type): The sampler class.
        key (str): The argument's name.
        value (Any): The value given.

    Returns:
        str, optional: ``None`` when it fits the annotation, else the problem, e.g.
        ``"'num_negatives' takes an integer (default 1)"``.

    Examples:
        >>> from pyg_negdiff.sampling import UniformSampler
        >>> argument_problem(UniformSampler, "num_negatives", 1.5)
        "'num_negatives' takes an integer (default 1), not 1.5"
        >>> argument_problem(UniformSampler, "num_negatives", 2) is None
        True
        >>> from pyg_negdiff.sampling import CNSDiffSampler
        >>> argument_problem(CNSDiffSampler, "gradient", "straight-through") is None  # old name
        True
    """
    hint = _hints(cls).get(key)
    if hint is None or _matches(value, hint):
        return None
    if isinstance(value, str) and value in getattr(cls, "value_aliases", {}).get(key, {}):
        return None  # a former name of a value, translated by the sampler itself
    import inspect

    param = inspect.signature(cls).parameters.get(key)
    default = (
        "" if param is None or param.default is param.empty else f" (default {param.default!r})"
    )
    return f"{key!r} takes {describe_hint(hint)}{default}, not {value!r}"
