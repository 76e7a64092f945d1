"""The "Your own data" tutorial shows what its commands print (docs/hooks/own_data_outputs.py)."""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location(
        "own_data_outputs", ROOT / "docs" / "hooks" / "own_data_outputs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_output_follows_its_command_and_is_filled():
    tool = _tool()
    text = tool.PAGE.read_text()
    outputs = list(tool.OUTPUT.finditer(text))
    assert len(outputs) >= 4 and tool.CSV_BLOCK.search(text)
    for m in outputs:
        before = text[: m.start()].rstrip()
        assert before.endswith(
            f"```bash\n{m.group('command')}\n```"
        ), f"the output of '{m.group('command')}' does not follow a bash block of that command"
        body = m.group("body")
        assert (
            body.startswith("```text\n") and len(body) > 200
        ), f"no output for '{m.group('command')}': run python docs/hooks/own_data_outputs.py"
        assert "Traceback" not in body and str(ROOT) not in body
    reports = list(tool.REPORT.finditer(text))
    assert reports and all(
        "| row |" in m.group("body") for m in reports
    ), "the bench report is missing: run python docs/hooks/own_data_outputs.py --only bench"
    commands = " ".join(m.group("command") for m in outputs)
    for needed in (
        "--min-rating",
        "--shift longtail",
        "data inspect",
        " train ",
        " run ",
        " bench ",
    ):
        assert needed in commands + " "


@pytest.mark.slow
def test_inspect_outputs_are_what_the_commands_print_now():
    """``data inspect`` is deterministic: a re-run prints exactly what the page shows."""
    tool = _tool()
    text = tool.PAGE.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        tool.write_csv(text, Path(tmp))
        for m in tool.OUTPUT.finditer(text):
            if " data inspect " in f" {m.group('command')} ":
                shown = (
                    m.group("body").removeprefix("```text\n").rstrip().removesuffix("```").rstrip()
                )
                assert (
                    tool.run(m.group("command"), Path(tmp)) == shown
                ), f"'{m.group('command')}' prints something else now: run python docs/hooks/own_data_outputs.py"
