"""pyg_negdiff.cli.common: tables, option names, the write check, and choices read from the registries."""

import argparse

import pytest

from pyg_negdiff.cli.common import (
    CommandError,
    add_data_arguments,
    add_run_arguments,
    check_writable,
    format_table,
    option_name,
    run_config_from_args,
)
from pyg_negdiff.data.prepare import SHIFTS
from pyg_negdiff.nn import MODELS, LightGCN
from pyg_negdiff.propagation import PROPAGATIONS, FullPropagation


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_data_arguments(parser)
    add_run_arguments(parser)
    return parser


def test_format_table_and_option_names():
    table = format_table({"test": {"ndcg@20": 0.5}, "val (best epoch)": {"ndcg@20": 0.25}})
    assert table.splitlines()[1].split() == ["test", "0.5000"]
    assert option_name("num_layers") == "--layers" and option_name("lr") == "--lr"


def test_check_writable_refuses_a_folder(tmp_path):
    with pytest.raises(CommandError, match="is a folder"):
        check_writable(tmp_path)
    assert check_writable(tmp_path / "a" / "b.json").parent.is_dir()


def test_choices_follow_the_registries(monkeypatch):
    monkeypatch.setitem(MODELS, "my-gcn", LightGCN)
    monkeypatch.setitem(PROPAGATIONS, "my-full", FullPropagation)
    monkeypatch.setitem(SHIFTS, "my-shift", SHIFTS["random"])
    args = _parser().parse_args(
        ["--model", "my-gcn", "--propagation", "my-full", "--shift", "my-shift"]
    )
    assert args.shift == "my-shift"
    config = run_config_from_args(args)  # validated: RunConfig.validate reads the same registries
    assert (config.model, config.propagation) == ("my-gcn", "my-full")


def test_unknown_names_are_refused_by_the_parser():
    with pytest.raises(SystemExit):
        _parser().parse_args(["--model", "nope"])
