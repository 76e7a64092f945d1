"""mkdocs hook: Python examples show what they print.

A line ``<!-- output -->`` right after a ``python`` block (a blank line between them is fine)
becomes an "Output" block with what that block prints. The page's top-level ``python`` blocks
run in order in one namespace, as a reader would paste them (blocks marked ``<!-- skip-test -->``
are left out, as tests/test_docs.py does), in a temporary working directory, at build time; so
the output on the site is the output of the code on the site. A block that raises fails the
build with the page and line. Only pages with the marker run anything.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile

BLOCK = re.compile(
    r"^```(?:python|py)[ \t]*\n(?P<code>.*?)^```[ \t]*\n(?P<gap>[ \t]*\n)?(?P<marker><!-- output -->[ \t]*\n)?",
    flags=re.S | re.M,
)
SKIP = re.compile(r"<!--\s*skip-test\b")


def _outputs(markdown: str, where: str) -> dict[int, str]:
    """``{start of block: what it printed}`` for the blocks followed by the marker."""
    namespace = {"__name__": "__docs__"}
    printed: dict[int, str] = {}
    old_cwd = os.getcwd()
    old_backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            for m in BLOCK.finditer(markdown):
                before = markdown[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
                if SKIP.search(before):
                    continue
                line = markdown.count("\n", 0, m.start()) + 2
                out = io.StringIO()
                try:
                    with contextlib.redirect_stdout(out):
                        exec(compile("\n" * (line - 1) + m.group("code"), where, "exec"), namespace)
                except Exception as exc:  # noqa: BLE001 - reported with the page and line
                    raise RuntimeError(f"{where}:{line}: the example raised {exc!r}") from exc
                if m.group("marker"):
                    printed[m.start()] = out.getvalue()
        finally:
            os.chdir(old_cwd)
            if old_backend is None:
                os.environ.pop("MPLBACKEND", None)
            else:
                os.environ["MPLBACKEND"] = old_backend
    return printed


def on_page_markdown(markdown, page, config, files):
    if "<!-- output -->" not in markdown:
        return markdown
    printed = _outputs(markdown, page.file.src_uri)

    def block(m: re.Match) -> str:
        if not m.group("marker"):
            return m.group(0)
        text = printed[m.start()].rstrip() or "(prints nothing)"
        return (
            f"```python\n{m.group('code')}```\n\n<div class=\"example-output\" markdown>\n\nOutput\n\n"
            f"```text\n{text}\n```\n\n</div>\n"
        )

    return BLOCK.sub(block, markdown)
