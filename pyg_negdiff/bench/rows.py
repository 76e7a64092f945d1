r"""The rows of a benchmark table: a sampler, its fixed options, and the constants it tunes.

Every variant of a method is an option of its one sampler class, so a row is
``(sampler name, fixed constructor arguments, search space over its own
constants, RunConfig fields)``; one script regenerates the whole table from
`ROWS`. The variants of the diffusion ablation (issue 13, `ABLATION_ROWS`) and
of the anchor pool (issue 22, `POOL_ROWS`) are rows like any other. Two
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
    "PENALTY_ROWS",
    "ABLATION_ROWS",
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
    name: str,
    kind: Kind,
    sampler: str | None = None,
    space: Space | None = None,
    *,
    config: dict[str, Any] | None = None,
    **fixed: Any,
) -> Row:
    """A row whose space defaults to its sampler's (`SAMPLER_SPACES`); `_nothing` tunes none."""
    sampler = sampler or name
    space = space or SAMPLER_SPACES.get(sampler)
    return Row(
        name,
        sampler,
        kind,
        dict(fixed),
        space if space and _suggests_anything(space) else None,
        dict(config or {}),
    )


def _nothing(trial: optuna.Trial) -> dict[str, Any]:
    """No constants of the row's own: it spends no trials (they would only pick a lucky seed)."""
    return {}


def _hardness_only(trial: optuna.Trial) -> dict[str, Any]:
    """CNSDiff's curriculum end without the contrastive weight (fixed by the row)."""
    m = trial.suggest_float("final_hardness", 0.1, 0.9)
    return {"beta_end": (m * 10.0, (1.0 - m) * 10.0)}


def _cl_only(trial: optuna.Trial) -> dict[str, Any]:
    """The contrastive weight alone (a row that synthesizes nothing has no curriculum)."""
    return {"cl_weight": trial.suggest_float("cl_weight", 0.0, 0.5)}


def _t_min(trial: optuna.Trial) -> dict[str, Any]:
    """ADAR's smallest step alone: the ablation's rows fix generation and combination."""
    return {"t_min": trial.suggest_int("t_min", 1, 25)}


#: CNSDiff's options before issue 13 (the positive, noised and denoised, detached): the start
#: of the ablation's one-change-at-a-time rows (a) to (e).
_CNSDIFF_BEFORE = {"anchor": "positive", "gradient": "detach"}
#: ADAR as published: the forward-noised point, detached, edge cases kept.
_ADAR_BEFORE = {"forward_noise": True, "gradient": "detach", "skip_edge_cases": False}
#: The environment penalty and the environment-conditioned denoiser (`RunConfig` fields).
_CAUSAL = {
    "penalty_weight": 1.0,
    "condition_on_environment": True,
    "environments": "popularity",
    "num_environments": 3,
}

#: The diffusion ablation of issue 13 (docs/benchmarks.md): each row changes one option of
#: CNSDiff or ADAR. Its CNSDiff rows tune the sampler's own space (curriculum end and
#: contrastive weight) unless they say otherwise.
_ABLATION = (
    # (a) the library's CNSDiff before issue 13: the positive, noised and denoised, detached.
    _row("cnsdiff-a-before", "synthesized", "cnsdiff", **_CNSDIFF_BEFORE),
    # (b) the authors' code, faithfully (its constants as published: nothing to tune).
    _row("cnsdiff-b-published", "synthesized", "cnsdiff", _nothing, preset="published"),
    # (c) (a) with the gradient through the synthesized part.
    _row(
        "cnsdiff-c-straight-through",
        "synthesized",
        "cnsdiff",
        **{**_CNSDIFF_BEFORE, "gradient": "straight-through"},
    ),
    # (d) (a) with the synthesized negative as its own BPR term, the real one at full weight.
    _row("cnsdiff-d-separate", "synthesized", "cnsdiff", **_CNSDIFF_BEFORE, combine="separate"),
    # (e) (a) with never a candidate above the positive.
    _row("cnsdiff-e-band", "synthesized", "cnsdiff", **_CNSDIFF_BEFORE, selection="band"),
    # (f) the default: anchored on the real negative, moved towards the positive, gradient to it.
    _row("cnsdiff-f-default", "synthesized", "cnsdiff"),
    # (f') (f) with the gradient shared with the positive, as in MixGCF's mixing.
    _row("cnsdiff-f2-linear", "synthesized", "cnsdiff", gradient="linear"),
    # (g) uniform negatives plus the batch-scope contrastive term, nothing synthesized.
    _row(
        "cnsdiff-g-cl-only",
        "synthesized",
        "cnsdiff",
        _cl_only,
        synthesize=False,
        contrast_scope="batch",
    ),
    # (h) (f) with the causal part on: environment penalty and conditioned denoiser.
    _row("cnsdiff-h-default-causal", "synthesized", "cnsdiff", config=_CAUSAL),
    # ADAR as published (nothing to tune), then one change at a time, each tuning t_min.
    _row("adar-before", "synthesized", "adar", _nothing, **_ADAR_BEFORE),
    # edge-case pairs skipped
    _row(
        "adar-clipped", "synthesized", "adar", _t_min, **{**_ADAR_BEFORE, "skip_edge_cases": True}
    ),
    # and the negative denoised instead of forward-noised
    _row(
        "adar-denoise",
        "synthesized",
        "adar",
        _t_min,
        **{**_ADAR_BEFORE, "skip_edge_cases": True, "generation": "denoise"},
    ),
    # and the mean point instead of the noised one
    _row(
        "adar-mean",
        "synthesized",
        "adar",
        _t_min,
        **{**_ADAR_BEFORE, "skip_edge_cases": True, "forward_noise": False},
    ),
    # the default: the mean point, the gradient to the reference, edge cases skipped.
    _row("adar-default", "synthesized", "adar", _t_min),
)


def _cnsdiff_and_pool_alpha(trial: optuna.Trial) -> dict[str, Any]:
    r"""CNSDiff's own constants and the popularity pool's exponent $\alpha \in [0, 1]$.

    $\alpha = 0$ is the uniform pool, $\alpha = 1$ draws in proportion to popularity: the
    tilt against the confounder is chosen on validation, not fixed for every kind of shift.
    """
    return {
        **SAMPLER_SPACES["cnsdiff"](trial),
        "pool_alpha": trial.suggest_float("pool_alpha", 0, 1),
    }


def _margin(penalty: str, environments: str = "popularity", weight: float = 1.0) -> dict[str, Any]:
    """`RunConfig` fields of a penalty row: ``penalty`` at ``weight`` over 3 ``environments``."""
    return {
        "penalty_weight": weight,
        "penalty": penalty,
        "environments": environments,
        "num_environments": 3,
    }


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
        # Issue 22, hypothesis 3 (propensity strength chosen without test data): the popularity
        # pool's alpha tuned on validation with the row's other constants.
        _row(
            "cnsdiff-pool-popularity-alpha",
            "synthesized",
            "cnsdiff",
            _cnsdiff_and_pool_alpha,
            anchor_pool="popularity",
        ),
        # Issue 22, hypothesis 2: the level whose score lies under both the positive and DNS's.
        _row("cnsdiff-dns-band", "synthesized", "cnsdiff", selection="dns-band"),
        # Issue 22, hypothesis 3b: an invariance penalty on the margin (not the risk), weight 1
        # as the ablation's causal row, over popularity or user-activity environments; nothing
        # else changes (no conditioned denoiser).
        _row("cnsdiff-margin-vrex", "synthesized", "cnsdiff", config=_margin("margin-vrex")),
        _row(
            "cnsdiff-margin-vrex-activity",
            "synthesized",
            "cnsdiff",
            config=_margin("margin-vrex", "activity"),
        ),
        _row("cnsdiff-irm", "synthesized", "cnsdiff", config=_margin("irm")),
        # Then one change at a time on the activity row: its weight (1 above) an order of
        # magnitude each way, and the penalty with uniform negatives, nothing synthesized (is
        # the gain the penalty's or the synthesis's?).
        *(
            _row(
                f"cnsdiff-margin-vrex-activity-w{w:g}",
                "synthesized",
                "cnsdiff",
                config=_margin("margin-vrex", "activity", w),
            )
            for w in (0.1, 10.0)
        ),
        _row(
            "uniform-margin-vrex-activity",
            "baseline",
            "uniform",
            config=_margin("margin-vrex", "activity"),
        ),
        # Every penalty's base term balances the environments (light users' interactions count
        # more): the balanced risk alone (`BalancedRisk`), and the penalty over the plain mean.
        _row(
            "cnsdiff-balanced-activity",
            "synthesized",
            "cnsdiff",
            config=_margin("balanced", "activity"),
        ),
        _row(
            "uniform-balanced-activity",
            "baseline",
            "uniform",
            config=_margin("balanced", "activity"),
        ),
        _row(
            "cnsdiff-margin-vrex-activity-plain-mean",
            "synthesized",
            "cnsdiff",
            config={
                **_margin("margin-vrex", "activity"),
                "penalty_kwargs": {"reduction": "interactions"},
            },
        ),
        # Issue 22, hypothesis 5: ADAR's reference from DNS's choice (fewer t* = T edge cases),
        # or from the popularity pool.
        _row("adar-ref-dns", "synthesized", "adar", reference_pool="dns"),
        _row("adar-ref-popularity", "synthesized", "adar", reference_pool="popularity"),
        *_ABLATION,
    )
}
#: The rows of issue 22's hypothesis 3b (invariance of the margin).
PENALTY_ROWS = (
    "cnsdiff-margin-vrex",
    "cnsdiff-margin-vrex-activity",
    "cnsdiff-irm",
    "cnsdiff-margin-vrex-activity-w0.1",
    "cnsdiff-margin-vrex-activity-w10",
    "uniform-margin-vrex-activity",
    "cnsdiff-balanced-activity",
    "uniform-balanced-activity",
    "cnsdiff-margin-vrex-activity-plain-mean",
)
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
#: The rows of the diffusion ablation (issue 13), in the order of its table.
ABLATION_ROWS = tuple(r.name for r in _ABLATION)
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
