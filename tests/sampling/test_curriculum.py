import torch

from pyg_negdiff.sampling import cnsdiff
from pyg_negdiff.sampling.curriculum import sample_beta


def test_the_draw_is_reproducible_and_still_importable_from_cnsdiff():
    assert cnsdiff.sample_beta is sample_beta
    a = sample_beta(1.0, 9.0, 64, torch.Generator().manual_seed(2))
    b = sample_beta(1.0, 9.0, 64, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and bool(((a >= 0) & (a <= 1)).all())
    assert (
        abs(float(sample_beta(2.0, 2.0, 20000, torch.Generator().manual_seed(0)).mean()) - 0.5)
        < 0.01
    )
