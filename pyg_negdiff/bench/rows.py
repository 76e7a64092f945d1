r"""The rows of a benchmark table: a sampler, its fixed options, and the constants it tunes.

Every variant of a method is an option of its one sampler class, so a row is
``(sampler name, fixed constructor arguments, search space over its own
constants)``; one script regenerates the whole table from `ROWS`. Two
reference rows need no training (`REFERENCES`): a popularity ranking and a
random ranking.

"Best heuristic" is chosen among `HEURISTICS` (the popularity sampler, DNS,
MixGCF and AHNS) by mean validation NDCG@20, never by a test part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import optuna

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.metrics import popularity_ranking, random_ranking
from pyg_negdiff.nn.base import Embeddings
from pyg_negdiff.tune.space import SAMPLER_SPACES

__all__ = [
    "Row",
    "ROWS",
    "HEURISTICS",
    "DEFAULT_ROWS",
    "POOL_ROWS",
    "ADAR_REFERENCE_ROWS",
    "REFERENCES",
    "resolve_rows",
]

Kind = Literal["baseline", "heuristic", "synthesized"]
Space = Callable[[optuna.Trial], dict[str, Any]]


@dataclass(frozen=True)
class Row:
    """One trained row.

    Args:
        name (str): The row's label.
        sampler (str): A key of `pyg_negdiff.sampling.SAMPLERS`.
        kind (str): ``"baseline"`` (uniform), ``"heuristic"`` or ``"synthesized"``.
        fixed (dict): Constructor arguments the row fixes (its variant).
        space (callable, optional): Its own constants' search space
            (``trial -> sampler_kwargs``); ``None`` has nothing to tune.
        config (dict): `RunConfig` fields the row sets (e.g. an environment penalty).
    """

    name: str
    sampler: str
    kind: Kind
    fixed: dict[str, Any] = field(default_factory=dict)
    space: Space | None = field(default=None, compare=False)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def tunes(self) -> bool:
        return self.space is not None


def _suggests_anything(space: Space) -> bool:
    """Whether ``space`` tunes something (uniform's space is empty)."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "new study created" line at import
    try:
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    finally:
        optuna.logging.set_verbosity(level)
    return bool(space(trial))


def _row(
    name: str, kind: Kind, sampler: str | None = None, space: Space | None = None, **fixed: Any
) -> Row:
    sampler = sampler or name
    space = space or SAMPLER_SPACES.get(sampler)
    return Row(
        name, sampler, kind, dict(fixed), space if space and _suggests_anything(space) else None
    )


def _hardness_only(trial: optuna.Trial) -> dict[str, Any]:
    """CNSDiff's curriculum end without the contrastive weight (fixed by the row)."""
    m = trial.suggest_float("final_hardness", 0.1, 0.9)
    return {"beta_end": (m * 10.0, (1.0 - m) * 10.0)}


#: Every row the benchmark knows, by name.
ROWS: dict[str, Row] = {
    r.name: r
    for r in (
        _row("uniform", "baseline"),
        _row("popularity", "heuristic"),
        _row("dns", "heuristic"),
        _row("mixgcf", "heuristic"),
        _row("ahns", "heuristic"),
        _row("cnsdiff", "synthesized"),
        _row("adar", "synthesized"),
        # Issue 22, hypothesis 1: the anchor pool, then one change at a time on the popularity pool.
        _row("cnsdiff-pool-popularity", "synthesized", "cnsdiff", anchor_pool="popularity"),
        _row("cnsdiff-pool-dns", "synthesized", "cnsdiff", anchor_pool="dns"),
        _row("cnsdiff-pool-mixture", "synthesized", "cnsdiff", anchor_pool="mixture"),
        # the real negative at full weight, the synthesized one as a second BPR term weighted lambda
        _row(
            "cnsdiff-pool-popularity-separate",
            "synthesized",
            "cnsdiff",
            anchor_pool="popularity",
            combine="separate",
        ),
        _row("cnsdiff-separate", "synthesized", "cnsdiff", combine="separate"),
        # no contrastive term
        _row(
            "cnsdiff-pool-popularity-nocl",
            "synthesized",
            "cnsdiff",
            _hardness_only,
            anchor_pool="popularity",
            cl_weight=0.0,
        ),
        # Issue 22, hypothesis 5: ADAR's reference from DNS's choice (fewer t* = T edge cases),
        # or from the popularity pool.
        _row("adar-ref-dns", "synthesized", "adar", reference_pool="dns"),
        _row("adar-ref-popularity", "synthesized", "adar", reference_pool="popularity"),
    )
}
#: The rows of issue 22's fifth hypothesis (ADAR's reference pool).
ADAR_REFERENCE_ROWS = ("adar-ref-dns", "adar-ref-popularity")
#: The rows of issue 22's first hypothesis (the anchor pool).
POOL_ROWS = (
    "cnsdiff-pool-popularity",
    "cnsdiff-pool-dns",
    "cnsdiff-pool-mixture",
    "cnsdiff-pool-popularity-separate",
    "cnsdiff-separate",
    "cnsdiff-pool-popularity-nocl",
)
#: The heuristics "best heuristic" is chosen among.
HEURISTICS = ("popularity", "dns", "mixgcf", "ahns")
#: What ``pyg-negdiff bench`` runs by default.
DEFAULT_ROWS = ("uniform", *HEURISTICS, "cnsdiff", "adar")

#: Reference rankers (no training): name -> ``(data, seed) -> Embeddings``. The popularity
#: ranking does not depend on the seed.
REFERENCES: dict[str, Callable[[InteractionData, int], Embeddings]] = {
    "popularity ranking": lambda data, seed: popularity_ranking(data),
    "random ranking": lambda data, seed: random_ranking(data, seed),
}


def resolve_rows(names: list[str] | tuple[str, ...]) -> list[Row]:
    """The rows named, uniform first (every table is read against it), each once.

    Args:
        names (list[str]): Row names (keys of `ROWS`).

    Raises:
        ValueError: On an unknown name, listing the known ones.
    """
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        raise ValueError(f"unknown benchmark row(s) {', '.join(unknown)}; known: {', '.join(ROWS)}")
    ordered = ["uniform", *[n for n in dict.fromkeys(names) if n != "uniform"]]
    return [ROWS[n] for n in ordered]
