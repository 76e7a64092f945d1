"""Runs the commands of docs/tutorials/own-data.md and pastes their output into the page.

Not an mkdocs hook (mkdocs.yml does not list it; the build only reads what it wrote): run it
by hand after a change that alters what those commands print::

    python docs/hooks/own_data_outputs.py

It executes the page's ``<!-- own-data:csv -->`` Python block in a temporary folder (it writes
``ratings.csv``), then runs each ``<!-- own-data:output COMMAND -->`` command there
(``pyg-negdiff`` as ``python -m pyg_negdiff.cli``, stdout and stderr together, unbuffered, 100
columns) and replaces what stands between that marker and the next ``<!-- own-data:end -->``
with a ``text`` block of the output; a ``<!-- own-data:report FILE -->`` block after it gets
the Markdown report FILE that the command wrote (``bench``'s ``runs/bench/report.md``), rendered
as tables. ``--only TEXT`` re-runs only the commands that contain TEXT. Paths of this checkout are shortened to
``.../pyg_negdiff/...``, as in an installed copy. tests/test_own_data_page.py checks the page
against a re-run of the deterministic commands.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "tutorials" / "own-data.md"
CSV_BLOCK = re.compile(r"<!-- own-data:csv -->\n```python\n(?P<code>.*?)\n```", flags=re.S)
REPORT = re.compile(
    r"(?P<open><!-- own-data:report (?P<file>[^>]*?) -->\n)(?P<body>.*?)(?P<close><!-- own-data:end -->)",
    flags=re.S,
)
OUTPUT = re.compile(
    r"(?P<open><!-- own-data:output (?P<command>[^>]*?) -->\n)(?P<body>.*?)(?P<close><!-- own-data:end -->)",
    flags=re.S,
)


def write_csv(text: str, folder: Path) -> None:
    m = CSV_BLOCK.search(text)
    if m is None:
        raise SystemExit(f"{PAGE}: no <!-- own-data:csv --> python block")
    subprocess.run([sys.executable, "-c", m.group("code")], cwd=folder, check=True)


def run(command: str, folder: Path) -> str:
    argv = shlex.split(command)
    if argv[0] != "pyg-negdiff":
        raise SystemExit(f"not a pyg-negdiff command: {command}")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "100", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "pyg_negdiff.cli", *argv[1:]],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise SystemExit(f"'{command}' failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    return clean(proc.stdout)


def clean(output: str) -> str:
    output = output.replace(str(ROOT / "pyg_negdiff"), ".../pyg_negdiff")
    return "\n".join(line.rstrip() for line in output.strip().splitlines())


def report(path: Path) -> str:
    """A report file as page content: its headings dropped (the page has its own), in the
    benchmark tables' style."""
    lines = [line for line in path.read_text().strip().splitlines() if not line.startswith("#")]
    body = "\n".join(lines).strip()
    return f'<div class="benchmark-results" markdown>\n\n{body}\n\n</div>\n'


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=None, help="re-run only the commands that contain this")
    args = parser.parse_args(argv)
    text = PAGE.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_csv(text, folder)

        def fill(m: re.Match) -> str:
            if args.only and args.only not in m.group("command"):
                return m.group(0)
            print(f"running: {m.group('command')}", flush=True)
            body = f"```text\n{run(m.group('command'), folder)}\n```\n"
            return m.group("open") + body + m.group("close")

        text = OUTPUT.sub(fill, text)

        def fill_report(m: re.Match) -> str:
            path = folder / m.group("file")
            if not path.is_file():  # its command was not re-run this time
                return m.group(0)
            return m.group("open") + report(path) + m.group("close")

        text = REPORT.sub(fill_report, text)
    PAGE.write_text(text)
    print(f"updated {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
