"""`pyg_negdiff.sampling.cnsdiff_presets`: the published preset and old option names."""

import pytest

from pyg_negdiff.sampling.cnsdiff import CNSDiffSampler
from pyg_negdiff.sampling.cnsdiff_presets import PUBLISHED, apply_preset
from pyg_negdiff.sampling.diffusion_config import FIELDS


def _options(**given):
    import inspect

    params = inspect.signature(CNSDiffSampler).parameters
    own = {k: p.default for k, p in params.items() if k not in FIELDS and k != "diffusion"}
    return {**own, **given}


def test_the_old_gradient_name_is_translated():
    options, _ = apply_preset(
        CNSDiffSampler, _options(gradient="straight-through"), CNSDiffSampler.diffusion_defaults
    )
    assert options["gradient"] == "anchor"


def test_published_sets_own_and_shared_settings():
    options, diffusion = apply_preset(
        CNSDiffSampler, _options(preset="published"), CNSDiffSampler.diffusion_defaults
    )
    assert options["anchor"] == "positive" and options["full_chain"] is True
    assert diffusion.noise_scale == PUBLISHED["noise_scale"] == 0.1


def test_a_clashing_setting_and_an_unknown_preset_are_refused():
    with pytest.raises(ValueError, match="fixes \\['selection'\\]"):
        apply_preset(
            CNSDiffSampler,
            _options(preset="published", selection="band"),
            CNSDiffSampler.diffusion_defaults,
        )
    with pytest.raises(ValueError, match="unknown preset"):
        apply_preset(CNSDiffSampler, _options(preset="paper"), CNSDiffSampler.diffusion_defaults)
