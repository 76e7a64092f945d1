import json
import os

import pytest

from pyg_negdiff.cli.checks import check_export
from pyg_negdiff.cli.common import CommandError


def test_check_export_refuses_an_unrelated_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("keep me")
    with pytest.raises(CommandError, match="--overwrite"):
        check_export(path, "--export", "study-a", overwrite=False)
    assert path.read_text() == "keep me"
    assert check_export(path, "--export", "study-a", overwrite=True) == path


def test_check_export_replaces_its_own_study_export_only(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"study": "study-a", "trials": []}))
    assert check_export(path, "--export", "study-a", overwrite=False) == path
    with pytest.raises(CommandError, match="not an export of study 'study-b'"):
        check_export(path, "--export", "study-b", overwrite=False)


@pytest.mark.skipif(not os.path.exists(os.devnull), reason="no null device")
def test_check_export_lets_a_device_through():
    # `--export /dev/null` keeps no export; there is no file to lose (the postgres worker
    # tests rely on it).
    assert str(check_export(os.devnull, "--export", "study-a", overwrite=False)) == os.devnull
