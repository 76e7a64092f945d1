r"""Environment inference and the risk penalties across environments.

Confounders such as popularity and exposure are mostly unobserved, so
environments are estimated (observed proxies or learned from a reference
model) and the variance of the risk across them is penalized (V-REx), or the
IRMv1 gradient penalty is applied.

Examples:
    >>> import torch
    >>> from pyg_negdiff.data.interactions import InteractionData
    >>> data = InteractionData(3, 2, {"train": torch.tensor([[0, 1, 2, 0], [0, 0, 0, 1]])})
    >>> env = EnvironmentInference("popularity", num_environments=2)
    >>> _ = env.fit(data)
    >>> penalty = VarianceRiskPenalty(weight=1.0)
    >>> index = torch.tensor([0, 1, 3])
    >>> penalty(torch.tensor([0.2, 0.4, 1.3]), env.batch_environments(index))  # R = (0.3, 1.3)
    tensor(1.0500)
"""

from pyg_negdiff.causal.base import EnvironmentStrategy, harden
from pyg_negdiff.causal.cluster import ClusterEnvironments
from pyg_negdiff.causal.eiil import EIILEnvironments
from pyg_negdiff.causal.environments import (
    STRATEGIES,
    EnvironmentInference,
    interaction_environments,
)
from pyg_negdiff.causal.mutual_info import normalized_mutual_info
from pyg_negdiff.causal.penalty import (
    PENALTIES,
    EnvironmentPenalty,
    IRMPenalty,
    BalancedRisk,
    MarginVariancePenalty,
    VarianceRiskPenalty,
    environment_risks,
    margin_from_bpr,
)
from pyg_negdiff.causal.proxies import (
    ActivityEnvironments,
    OracleEnvironments,
    PopularityEnvironments,
    TimeEnvironments,
    count_quantile_groups,
    mass_quantile_groups,
)
from pyg_negdiff.causal.reference import interaction_features, kmeans, reference_margins

# Conditioning layer of the diffusion denoiser, fed by EnvironmentInference: re-exported here.
from pyg_negdiff.diffusion.conditioning import EnvironmentEmbedding

__all__ = [
    # inference
    "EnvironmentInference",
    "EnvironmentStrategy",
    "STRATEGIES",
    "PopularityEnvironments",
    "ActivityEnvironments",
    "TimeEnvironments",
    "OracleEnvironments",
    "EIILEnvironments",
    "ClusterEnvironments",
    "interaction_environments",
    "normalized_mutual_info",
    # penalties
    "PENALTIES",
    "EnvironmentPenalty",
    "VarianceRiskPenalty",
    "MarginVariancePenalty",
    "BalancedRisk",
    "IRMPenalty",
    "environment_risks",
    "margin_from_bpr",
    # conditioning
    "EnvironmentEmbedding",
    # building blocks
    "harden",
    "count_quantile_groups",
    "mass_quantile_groups",
    "reference_margins",
    "interaction_features",
    "kmeans",
]
