"""CNSDiff's named settings: the authors' published configuration and old option names."""

from __future__ import annotations

import inspect
from typing import Any

from pyg_negdiff.sampling.diffusion_config import FIELDS, DiffusionConfig

#: Earlier names of ``gradient`` values, still accepted.
GRADIENT_ALIASES = {"straight-through": "anchor"}


#: The settings of the authors' published code (SELFRec-based), for ``preset="published"``.
PUBLISHED: dict[str, Any] = {
    "num_steps": 20,
    "schedule": "linear-var",
    "noise_scale": 0.1,
    "beta_min": 1e-4,
    "beta_max": 0.02,
    "start_step": 10,
    "step_stride": 4,
    "max_step": 20,
    "beta_start": (1.0, 9.0),
    "beta_end": (9.0, 1.0),
    "min_random_share": 0.0,
    "cl_weight": 0.3,
    "temperature": 2.0,
    "contrast_scope": "batch",
    "reverse_steps": None,
    "full_chain": True,
    "dropout": 0.5,
    "sampling_dropout": True,
    "denoiser_training": "frozen",
    "anchor": "positive",
    "gradient": "detach",
    "selection": "hardest",
    "combine": "mix",
    "synthesize": True,
}


def apply_preset(
    cls: type, options: dict[str, Any], diffusion: DiffusionConfig
) -> tuple[dict[str, Any], DiffusionConfig]:
    """Applies ``options["preset"]`` and the old names of ``gradient`` values.

    A preset fixes its settings: a setting given with another value than both
    the constructor's default and the preset's is refused, not silently overridden.

    Args:
        cls (type): The sampler class (its constructor's defaults are read).
        options (dict): The call's own arguments (``preset``, ``gradient``, ...).
        diffusion (DiffusionConfig): The call's shared diffusion settings.

    Returns:
        tuple: ``(options, diffusion)`` with the preset's values.

    Raises:
        ValueError: An unknown preset, or a setting that clashes with it.
    """
    options = {
        **options,
        "gradient": GRADIENT_ALIASES.get(options["gradient"], options["gradient"]),
    }
    if options["preset"] is None:
        return options, diffusion
    if options["preset"] != "published":
        raise ValueError(f"unknown preset {options['preset']!r}; the only preset is 'published'")
    given = {**vars(diffusion), **options}
    defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items()}

    def same(a: Any, b: Any) -> bool:  # (1, 9) and [1, 9] are the same curriculum
        return tuple(a) == tuple(b) if isinstance(a, (tuple, list)) else a == b

    clash = [
        k for k, v in PUBLISHED.items() if not same(given[k], defaults[k]) and not same(given[k], v)
    ]
    if clash:
        raise ValueError(f"preset='published' fixes {sorted(clash)}; drop them or the preset")
    shared = {k: v for k, v in PUBLISHED.items() if k in FIELDS}
    return (
        {**options, **{k: v for k, v in PUBLISHED.items() if k not in shared}},
        diffusion.replace(**shared),
    )
