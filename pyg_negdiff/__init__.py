"""pyg_negdiff: diffusion-based and causal negative sampling for PyG recommenders.

The pipeline, one call per arrow: data (`InteractionData`) -> shift split
(`split_popularity`, ...) -> graph (`bipartite_edge_index`) -> backbone
(`LightGCN`, `NGCF`, `MF`) -> negative sampler (`UniformSampler` ... `CNSDiffSampler`)
-> BPR loss (+ environment penalty) -> `Evaluator` -> Optuna objective.
"""
from pyg_negdiff.causal import EnvironmentInference, IRMPenalty, VarianceRiskPenalty
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
)
from pyg_negdiff.data.diagnostics import shift_report
from pyg_negdiff.data.prepare import prepare_data
from pyg_negdiff.data.splits import (
    split_exposure,
    split_mixed,
    split_popularity,
    split_random,
    split_temporal,
)
from pyg_negdiff.diffusion import GaussianDiffusion, MLPDenoiser, NoiseSchedule
from pyg_negdiff.experiment import RunConfig, run
from pyg_negdiff.loss import bpr_loss
from pyg_negdiff.metrics import Evaluator
from pyg_negdiff.nn import MF, NGCF, Embeddings, LightGCN, NGCFConv, Recommender
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
)
from pyg_negdiff.train import Trainer, TrainResult

__version__ = "0.1.0"

__all__ = [
    # data
    "InteractionData", "PairSet", "load_dataset", "load_builtin", "make_synthetic", "to_hetero",
    "from_hetero", "prepare_data", "bipartite_edge_index", "gcn_adjacency",
    # shift splits and diagnostics
    "split_random", "split_popularity", "split_temporal", "split_exposure", "split_mixed",
    "shift_report",
    # backbones
    "Recommender", "Embeddings", "LightGCN", "NGCF", "NGCFConv", "MF",
    # samplers
    "NegativeSampler", "SamplerState", "NegativeSample", "UniformSampler", "PopularitySampler",
    "DNSSampler", "MixGCFSampler", "AHNSSampler", "CNSDiffSampler", "ADARSampler", "FHNRatio",
    # diffusion
    "NoiseSchedule", "GaussianDiffusion", "MLPDenoiser",
    # causal
    "EnvironmentInference", "VarianceRiskPenalty", "IRMPenalty",
    # training and evaluation
    "bpr_loss", "Evaluator", "Trainer", "TrainResult", "RunConfig", "run",
]
