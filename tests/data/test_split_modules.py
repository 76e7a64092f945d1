"""The shift splits live one module per shift, each matching its page under docs/shifts/."""

import importlib
from pathlib import Path

import pytest

from pyg_negdiff.data import splits

DOCS = Path(__file__).resolve().parents[2] / "docs" / "shifts"
MODULES = {
    "random": ["split_random", "carve_validation"],
    "popularity": ["split_popularity"],
    "temporal": ["split_temporal"],
    "exposure": ["split_exposure"],
    "mixed": ["split_mixed"],
}


@pytest.mark.parametrize("shift", sorted(MODULES))
def test_each_shift_has_its_module_and_page(shift):
    module = importlib.import_module(f"pyg_negdiff.data.splits.{shift}")
    assert module.__all__ == MODULES[shift]
    for name in module.__all__:
        assert getattr(splits, name) is getattr(module, name)
    assert (DOCS / f"{shift}.md").exists()


def test_the_package_keeps_its_public_names():
    assert set(splits.__all__) == {n for names in MODULES.values() for n in names} | {
        "capped_quotas"
    }
    from pyg_negdiff.data.splits.common import capped_quotas

    assert splits.capped_quotas is capped_quotas
