"""The registry names the command line's parser shows, without importing the registries.

``pyg-negdiff --help`` and every subcommand's ``--help`` answer without torch, PyG or Optuna
(issue 24), but the registries (`pyg_negdiff.nn.MODELS`, `pyg_negdiff.propagation.PROPAGATIONS`,
...) live in modules that import them. Each `Names` here iterates over its registry when that
module is already imported, so a name registered by the user's own code (which must import the
registry to register) is a choice, and over the built-in names otherwise.
``tests/cli/test_names.py`` checks that the built-in names equal the registry, in order: a new
model, propagation, strategy, format, dataset, shift or benchmark row fails that test until it is
named here too.
"""

from __future__ import annotations

import sys
from typing import Iterator


class Names:
    """The names of one registry: the live registry once imported, else the built-in names.

    Args:
        module (str): The module that holds the registry.
        attr (str): The registry's name in it.
        builtin (tuple[str, ...]): The names it holds as shipped.

    Examples:
        >>> names = Names("pyg_negdiff.nn", "MODELS", ("lightgcn", "ngcf", "mf"))
        >>> import pyg_negdiff.nn
        >>> pyg_negdiff.nn.MODELS["my-gcn"] = pyg_negdiff.nn.LightGCN
        >>> list(names)
        ['lightgcn', 'ngcf', 'mf', 'my-gcn']
        >>> del pyg_negdiff.nn.MODELS["my-gcn"]
    """

    def __init__(self, module: str, attr: str, builtin: tuple[str, ...]) -> None:
        self.module, self.attr, self.builtin = module, attr, tuple(builtin)

    def __iter__(self) -> Iterator[str]:
        loaded = sys.modules.get(self.module)
        registry = getattr(loaded, self.attr, None) if loaded is not None else None
        return iter(self.builtin if registry is None else tuple(registry))

    def __repr__(self) -> str:
        return f"Names({self.module}.{self.attr})"


_HEURISTICS = ("popularity", "dns", "mixgcf", "ahns")
_DEFAULT_ROWS = ("uniform", *_HEURISTICS, "cnsdiff", "adar")

MODELS = Names("pyg_negdiff.nn", "MODELS", ("lightgcn", "ngcf", "mf"))
PROPAGATIONS = Names("pyg_negdiff.propagation", "PROPAGATIONS", ("full", "neighbor"))
STRATEGIES = Names(
    "pyg_negdiff.causal",
    "STRATEGIES",
    ("popularity", "activity", "time", "oracle", "eiil", "cluster"),
)
FORMATS = Names(
    "pyg_negdiff.data.io",
    "FORMATS",
    ("auto", "lightgcn", "pairs", "uiw", "uit", "uirt", "recbole", "csv"),
)
BUILTIN = Names(
    "pyg_negdiff.data.prepare",
    "BUILTIN",
    (
        "synthetic",
        "ml-100k",
        "ml-1m",
        "coat",
        "yahoo-r3",
        "amazon-book",
        "movielens-100k",
        "movielens-1m",
    ),
)
SHIFTS = Names(
    "pyg_negdiff.data.prepare",
    "SHIFTS",
    ("random", "popularity", "longtail", "temporal", "exposure", "mixed"),
)
PENALTIES = Names("pyg_negdiff.causal", "PENALTIES", ("vrex", "irm", "margin-vrex", "balanced"))
HEURISTICS = Names("pyg_negdiff.bench.rows", "HEURISTICS", _HEURISTICS)
DEFAULT_ROWS = Names("pyg_negdiff.bench.rows", "DEFAULT_ROWS", _DEFAULT_ROWS)
#: The default rows, issue 22's variants, then the diffusion ablation's rows.
ROWS = Names(
    "pyg_negdiff.bench.rows",
    "ROWS",
    (
        *_DEFAULT_ROWS,
        "cnsdiff-pool-popularity",
        "cnsdiff-pool-dns",
        "cnsdiff-pool-mixture",
        "cnsdiff-pool-popularity-separate",
        "cnsdiff-separate",
        "cnsdiff-pool-popularity-nocl",
        "cnsdiff-pool-popularity-alpha",
        "cnsdiff-dns-band",
        "cnsdiff-margin-vrex",
        "cnsdiff-margin-vrex-activity",
        "cnsdiff-irm",
        "cnsdiff-margin-vrex-activity-w0.1",
        "cnsdiff-margin-vrex-activity-w10",
        "uniform-margin-vrex-activity",
        "cnsdiff-balanced-activity",
        "uniform-balanced-activity",
        "cnsdiff-margin-vrex-activity-plain-mean",
        "adar-ref-dns",
        "adar-ref-popularity",
        "cnsdiff-a-before",
        "cnsdiff-b-published",
        "cnsdiff-c-straight-through",
        "cnsdiff-d-separate",
        "cnsdiff-e-band",
        "cnsdiff-f-default",
        "cnsdiff-f2-linear",
        "cnsdiff-g-cl-only",
        "cnsdiff-h-default-causal",
        "adar-before",
        "adar-clipped",
        "adar-denoise",
        "adar-mean",
        "adar-default",
    ),
)
