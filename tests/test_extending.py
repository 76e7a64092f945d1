"""docs/extending.md: its examples run, and what they register is accepted by name everywhere."""

import re
from pathlib import Path

import pytest

from pyg_negdiff.causal import PENALTIES, STRATEGIES
from pyg_negdiff.data.prepare import SHIFTS
from pyg_negdiff.nn import MODELS
from pyg_negdiff.propagation import PROPAGATIONS
from pyg_negdiff.sampling import SAMPLERS

PAGE = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
REGISTRIES = {
    "pyg_negdiff.nn.MODELS": MODELS,
    "pyg_negdiff.sampling.SAMPLERS": SAMPLERS,
    "pyg_negdiff.data.prepare.SHIFTS": SHIFTS,
    "pyg_negdiff.propagation.PROPAGATIONS": PROPAGATIONS,
    "pyg_negdiff.causal.STRATEGIES": STRATEGIES,
    "pyg_negdiff.causal.PENALTIES": PENALTIES,
}
FENCE = re.compile(r"^```python\n(.*?)^```", flags=re.M | re.S)


@pytest.fixture
def page_namespace(monkeypatch, tmp_path):
    """The namespace after running the page's Python blocks in order; the registries restored after."""
    monkeypatch.chdir(tmp_path)
    text = PAGE.read_text()
    saved = {name: dict(registry) for name, registry in REGISTRIES.items()}
    namespace = {"__name__": "__docs__"}
    try:
        for match in FENCE.finditer(text):
            line = text[: match.start(1)].count("\n")
            exec(compile("\n" * line + match.group(1), str(PAGE), "exec"), namespace)
        yield namespace
    finally:
        for name, registry in REGISTRIES.items():
            registry.clear()
            registry.update(saved[name])


def test_the_table_names_every_registry():
    named = set(re.findall(r"^\| [^|]+ \| `([\w.]+)` \|", PAGE.read_text(), flags=re.M))
    assert named == set(REGISTRIES), named ^ set(REGISTRIES)


def test_the_examples_register_one_name_each_and_the_cli_takes_them(page_namespace):
    from pyg_negdiff.cli import build_parser

    assert MODELS["pyg-lightgcn"] is page_namespace["PyGLightGCN"]
    assert SHIFTS["activity"] is page_namespace["split_activity"]
    assert PROPAGATIONS["drop-edge"] is page_namespace["DropEdgePropagation"]
    args = build_parser().parse_args(
        ["train", "--model", "pyg-lightgcn", "--shift", "activity", "--propagation", "drop-edge"]
    )
    assert (args.model, args.shift, args.propagation) == ("pyg-lightgcn", "activity", "drop-edge")
    shifted = page_namespace["shifted"]
    assert {"train", "val", "test", "test_ood"} <= set(shifted.parts)
    assert shifted.parts["test_ood"].size(1) > 0


def test_the_registrations_do_not_leak():
    assert (
        "pyg-lightgcn" not in MODELS
        and "activity" not in SHIFTS
        and "drop-edge" not in PROPAGATIONS
    )
