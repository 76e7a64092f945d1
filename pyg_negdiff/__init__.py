"""pyg_negdiff: diffusion-based and causal negative sampling for PyG recommenders.

The pipeline, one call per arrow: data (`InteractionData`) -> shift split
(`split_popularity`, ...) -> graph (`bipartite_edge_index`) -> backbone
(`LightGCN`, `NGCF`, `MF`) -> negative sampler (`UniformSampler` ... `CNSDiffSampler`)
-> BPR loss (+ environment penalty) -> `Evaluator` -> Optuna objective.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public names are imported on first use (PEP 562), so that `import pyg_negdiff` (and the
# `pyg-negdiff` command, before its error boundary is in place) does not wait for torch and PyG:
# a Ctrl-C during that start-up would otherwise end in a traceback.
_EXPORTS: dict[str, str] = {
    "EnvironmentInference": "pyg_negdiff.causal",
    "IRMPenalty": "pyg_negdiff.causal",
    "VarianceRiskPenalty": "pyg_negdiff.causal",
    "InteractionData": "pyg_negdiff.data",
    "PairSet": "pyg_negdiff.data",
    "bipartite_edge_index": "pyg_negdiff.data",
    "from_hetero": "pyg_negdiff.data",
    "gcn_adjacency": "pyg_negdiff.data",
    "load_builtin": "pyg_negdiff.data",
    "load_dataset": "pyg_negdiff.data",
    "make_synthetic": "pyg_negdiff.data",
    "to_hetero": "pyg_negdiff.data",
    "shift_report": "pyg_negdiff.data.diagnostics",
    "prepare_data": "pyg_negdiff.data.prepare",
    "split_exposure": "pyg_negdiff.data.splits",
    "split_mixed": "pyg_negdiff.data.splits",
    "split_popularity": "pyg_negdiff.data.splits",
    "split_random": "pyg_negdiff.data.splits",
    "split_temporal": "pyg_negdiff.data.splits",
    "GaussianDiffusion": "pyg_negdiff.diffusion",
    "MLPDenoiser": "pyg_negdiff.diffusion",
    "NoiseSchedule": "pyg_negdiff.diffusion",
    "RunConfig": "pyg_negdiff.experiment",
    "run": "pyg_negdiff.experiment",
    "bpr_loss": "pyg_negdiff.loss",
    "Evaluator": "pyg_negdiff.metrics",
    "MF": "pyg_negdiff.nn",
    "NGCF": "pyg_negdiff.nn",
    "Embeddings": "pyg_negdiff.nn",
    "LightGCN": "pyg_negdiff.nn",
    "NGCFConv": "pyg_negdiff.nn",
    "Recommender": "pyg_negdiff.nn",
    "ADARSampler": "pyg_negdiff.sampling",
    "AHNSSampler": "pyg_negdiff.sampling",
    "CNSDiffSampler": "pyg_negdiff.sampling",
    "DNSSampler": "pyg_negdiff.sampling",
    "FHNRatio": "pyg_negdiff.sampling",
    "MixGCFSampler": "pyg_negdiff.sampling",
    "NegativeSample": "pyg_negdiff.sampling",
    "NegativeSampler": "pyg_negdiff.sampling",
    "PopularitySampler": "pyg_negdiff.sampling",
    "SamplerState": "pyg_negdiff.sampling",
    "UniformSampler": "pyg_negdiff.sampling",
    "Trainer": "pyg_negdiff.train",
    "TrainResult": "pyg_negdiff.train",
}

if TYPE_CHECKING:  # static tools see the eager imports
    from pyg_negdiff.causal import (
        EnvironmentInference,
        IRMPenalty,
        VarianceRiskPenalty,
    )  # noqa: F401
    from pyg_negdiff.data import (
        InteractionData,
        PairSet,
        bipartite_edge_index,
        from_hetero,
        gcn_adjacency,
        load_builtin,
        load_dataset,
        make_synthetic,
        to_hetero,
    )  # noqa: F401
    from pyg_negdiff.data.diagnostics import shift_report  # noqa: F401
    from pyg_negdiff.data.prepare import prepare_data  # noqa: F401
    from pyg_negdiff.data.splits import (
        split_exposure,
        split_mixed,
        split_popularity,
        split_random,
        split_temporal,
    )  # noqa: F401
    from pyg_negdiff.diffusion import GaussianDiffusion, MLPDenoiser, NoiseSchedule  # noqa: F401
    from pyg_negdiff.experiment import RunConfig, run  # noqa: F401
    from pyg_negdiff.loss import bpr_loss  # noqa: F401
    from pyg_negdiff.metrics import Evaluator  # noqa: F401
    from pyg_negdiff.nn import MF, NGCF, Embeddings, LightGCN, NGCFConv, Recommender  # noqa: F401
    from pyg_negdiff.sampling import (
        ADARSampler,
        AHNSSampler,
        CNSDiffSampler,
        DNSSampler,
        FHNRatio,
        MixGCFSampler,
        NegativeSample,
        NegativeSampler,
        PopularitySampler,
        SamplerState,
        UniformSampler,
    )  # noqa: F401
    from pyg_negdiff.train import Trainer, TrainResult  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # import once
        return value
    raise AttributeError(f"module 'pyg_negdiff' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


#: The one place the version is written: pyproject.toml reads it (setuptools dynamic version),
#: and so do `pyg-negdiff --version`, the docs footer and the cite page.
__version__ = "0.2.0"

__all__ = [
    # data
    "InteractionData",
    "PairSet",
    "load_dataset",
    "load_builtin",
    "make_synthetic",
    "to_hetero",
    "from_hetero",
    "prepare_data",
    "bipartite_edge_index",
    "gcn_adjacency",
    # shift splits and diagnostics
    "split_random",
    "split_popularity",
    "split_temporal",
    "split_exposure",
    "split_mixed",
    "shift_report",
    # backbones
    "Recommender",
    "Embeddings",
    "LightGCN",
    "NGCF",
    "NGCFConv",
    "MF",
    # samplers
    "NegativeSampler",
    "SamplerState",
    "NegativeSample",
    "UniformSampler",
    "PopularitySampler",
    "DNSSampler",
    "MixGCFSampler",
    "AHNSSampler",
    "CNSDiffSampler",
    "ADARSampler",
    "FHNRatio",
    # diffusion
    "NoiseSchedule",
    "GaussianDiffusion",
    "MLPDenoiser",
    # causal
    "EnvironmentInference",
    "VarianceRiskPenalty",
    "IRMPenalty",
    # training and evaluation
    "bpr_loss",
    "Evaluator",
    "Trainer",
    "TrainResult",
    "RunConfig",
    "run",
]
