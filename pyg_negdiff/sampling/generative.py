"""Moved to `pyg_negdiff.sampling.diffusion_base` (the diffusion samplers' base);
this path keeps working."""

from pyg_negdiff.sampling.diffusion_base import (  # noqa: F401
    DenoiserTraining,
    DiffusionSampler,
    nearest_items,
    to_unit_rms,
)
from pyg_negdiff.sampling.diffusion_config import DiffusionConfig  # noqa: F401
