"""pyg_negdiff.cli.names: the parser's built-in names equal the registries they stand for."""

import importlib
import subprocess
import sys

import pytest

from pyg_negdiff.cli import names

ALL = {k: v for k, v in vars(names).items() if isinstance(v, names.Names)}


@pytest.mark.parametrize("name", list(ALL))
def test_builtin_names_equal_their_registry(name):
    entry = ALL[name]
    registry = getattr(importlib.import_module(entry.module), entry.attr)
    assert entry.attr == name
    assert entry.builtin == tuple(
        registry
    ), f"pyg_negdiff.cli.names.{name} is out of date: copy the registry's names, in order"


def test_every_registry_the_parser_names_is_covered():
    assert set(ALL) == {
        "MODELS",
        "PROPAGATIONS",
        "STRATEGIES",
        "PENALTIES",
        "FORMATS",
        "BUILTIN",
        "SHIFTS",
        "HEURISTICS",
        "DEFAULT_ROWS",
        "ROWS",
    }


def test_a_registered_name_is_listed_once_its_registry_is_imported(monkeypatch):
    from pyg_negdiff.nn import MODELS, LightGCN

    monkeypatch.setitem(MODELS, "my-gcn", LightGCN)
    assert list(names.MODELS) == [*names.MODELS.builtin, "my-gcn"]


def test_without_the_registry_imported_the_builtin_names_are_used():
    probe = (
        "import sys\nfrom pyg_negdiff.cli import names\n"
        "print(list(names.MODELS) == list(names.MODELS.builtin), 'pyg_negdiff.nn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.split() == ["True", "False"], out.stderr
