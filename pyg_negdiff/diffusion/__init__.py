"""Gaussian diffusion over embedding rows: noise schedules, the denoiser and the process."""

from pyg_negdiff.diffusion.conditioning import EnvironmentEmbedding
from pyg_negdiff.diffusion.denoiser import MLPDenoiser, timestep_embedding
from pyg_negdiff.diffusion.gaussian import GaussianDiffusion, Prediction
from pyg_negdiff.diffusion.schedule import NoiseSchedule, ScheduleMode, extract, make_betas

__all__ = [
    "NoiseSchedule",
    "ScheduleMode",
    "make_betas",
    "extract",
    "MLPDenoiser",
    "EnvironmentEmbedding",
    "timestep_embedding",
    "GaussianDiffusion",
    "Prediction",
]
