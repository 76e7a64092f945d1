"""Negative samplers behind one interface, and the false-hard-negative ratio."""

from __future__ import annotations

from typing import Any

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.sampling.adar import ADARSampler
from pyg_negdiff.sampling.ahns import AHNSSampler
from pyg_negdiff.sampling.base import NegativeSample, NegativeSampler, SamplerState
from pyg_negdiff.sampling.candidates import CandidateSampler
from pyg_negdiff.sampling.cnsdiff import CNSDiffSampler
from pyg_negdiff.sampling.diffusion_base import DiffusionSampler
from pyg_negdiff.sampling.diffusion_config import DiffusionConfig
from pyg_negdiff.sampling.dns import DNSSampler
from pyg_negdiff.sampling.fhn import FHNRatio, expected_fhn_ratio
from pyg_negdiff.sampling.mixgcf import MixGCFSampler
from pyg_negdiff.sampling.popularity import PopularitySampler
from pyg_negdiff.sampling.uniform import UniformSampler

#: Sampler name to class. A new sampler registers here to be reachable by name
#: (`build_sampler`, ``RunConfig.sampler``, the CLI's ``--sampler``).
SAMPLERS: dict[str, type[NegativeSampler]] = {
    "uniform": UniformSampler,
    "popularity": PopularitySampler,
    "dns": DNSSampler,
    "mixgcf": MixGCFSampler,
    "ahns": AHNSSampler,
    "cnsdiff": CNSDiffSampler,
    "adar": ADARSampler,
}


def build_sampler(name: str, train_pairs: PairSet, **kwargs: Any) -> NegativeSampler:
    r"""Builds a sampler by name.

    Args:
        name (str): A key of `SAMPLERS` (case-insensitive).
        train_pairs (PairSet): The training positives.
        **kwargs (optional): The sampler's other constructor arguments
            (``item_popularity`` for ``"popularity"``, ``embedding_dim`` for the
            diffusion samplers, hyperparameters).

    Examples:
        >>> import torch
        >>> pairs = PairSet(torch.tensor([[0, 1], [2, 0]]), num_users=2, num_items=4)
        >>> build_sampler("dns", pairs, num_candidates=8)
        DNSSampler(num_candidates=8, num_top=1, num_negatives=1)
    """
    try:
        cls = SAMPLERS[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"Unknown sampler {name!r}; expected one of {', '.join(repr(k) for k in SAMPLERS)}"
        ) from None
    return cls(train_pairs, **kwargs)


__all__ = [
    "NegativeSampler",
    "SamplerState",
    "NegativeSample",
    "CandidateSampler",
    "UniformSampler",
    "PopularitySampler",
    "DNSSampler",
    "MixGCFSampler",
    "AHNSSampler",
    "DiffusionSampler",
    "DiffusionConfig",
    "CNSDiffSampler",
    "ADARSampler",
    "FHNRatio",
    "expected_fhn_ratio",
    "SAMPLERS",
    "build_sampler",
]
