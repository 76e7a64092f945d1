r"""Environments learned from a reference model: EIIL and feature clustering.

Both read a reference model's per-interaction BPR risk on the training
interactions, computed in batches without gradients, with uniform negatives
from `PairSet.sample_complement`:

$$
\ell_i = \frac{1}{M}\sum_{m=1}^{M} \operatorname{softplus}\big(s_{u j_m} - s_{u i}\big),
\qquad j_m \sim \mathcal{U}\big(\mathcal{I} \setminus \mathcal{I}_u^{+}\big).
$$

Memory is $O(E \cdot K)$ for $E$ training interactions and $K$ environments;
nothing of size users x items is built.
"""

from pyg_negdiff.causal.cluster import ClusterEnvironments
from pyg_negdiff.causal.eiil import EIILEnvironments, Objective
from pyg_negdiff.causal.reference import (
    Feature,
    Level,
    interaction_features,
    kmeans,
    reference_margins,
)

# The implementations live in reference.py (shared), eiil.py and cluster.py; this module keeps
# the names importable from where they were.
__all__ = [
    "reference_margins",
    "interaction_features",
    "kmeans",
    "EIILEnvironments",
    "ClusterEnvironments",
    "Feature",
    "Level",
    "Objective",
]
