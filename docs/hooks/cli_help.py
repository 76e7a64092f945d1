"""mkdocs hook: writes the ``pyg-negdiff`` help texts into the CLI page at build time.

A line ``<!-- cli-help: train -->`` (or ``data inspect``, or empty for the top-level command)
becomes a ``text`` code block with the output of ``pyg-negdiff train --help``, taken from the
parser itself (`pyg_negdiff.cli.build_parser`), so the page cannot drift from the code.
"""

from __future__ import annotations

import contextlib
import io
import os
import re

MARKER = re.compile(r"^<!-- cli-help:(?P<command>[\w\- ]*)-->[ \t]*$", flags=re.M)


def help_text(command: str) -> str:
    """The ``--help`` output of ``pyg-negdiff <command>``, wrapped at 80 columns."""
    from pyg_negdiff.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"  # argparse wraps at the terminal width: pin it
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            build_parser().parse_args([*command.split(), "--help"])
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    return out.getvalue().rstrip()


def on_page_markdown(markdown, page, config, files):
    if MARKER.search(markdown) is None:
        return markdown

    def block(match: re.Match) -> str:
        text = help_text(match.group("command").strip())
        if not text:
            raise ValueError(
                f"{page.file.src_uri}: no help for 'pyg-negdiff {match.group('command').strip()}'"
            )
        return f"```text\n{text}\n```"

    return MARKER.sub(block, markdown)
