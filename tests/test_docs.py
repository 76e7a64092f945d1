"""The documentation site: strict build, complete API reference, and every code example runs."""
import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyg_negdiff.sampling import SAMPLERS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PACKAGES = ["pyg_negdiff", "pyg_negdiff.data", "pyg_negdiff.nn", "pyg_negdiff.sampling",
            "pyg_negdiff.diffusion", "pyg_negdiff.causal", "pyg_negdiff.tune"]
SKIP_MARK = "<!-- skip-test -->"


def api_entries() -> set[str]:
    names = set()
    for page in (DOCS / "api").glob("*.md"):
        names |= set(re.findall(r"^::: [\w.]*?\.(\w+)\s*$", page.read_text(), flags=re.M))
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_is_in_the_api_reference(package):
    documented = api_entries()
    missing = [n for n in importlib.import_module(package).__all__ if n not in documented]
    assert not missing, f"{package}: not in docs/api/*.md: {missing}"


def pages_with_code():
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text()
        blocks = []
        for match in re.finditer(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)\n```", text, flags=re.S):
            if SKIP_MARK not in match.group("before"):
                line = text[: match.start("code")].count("\n") + 1
                blocks.append((line, match.group("code")))
        if blocks:
            yield pytest.param(page, blocks, id=str(page.relative_to(DOCS)))


@pytest.mark.docs
@pytest.mark.parametrize("page,blocks", list(pages_with_code()))
def test_docs_code_examples_run(page, blocks, tmp_path, monkeypatch):
    """A page's blocks run in order in one namespace, as a reader would paste them."""
    monkeypatch.chdir(tmp_path)  # examples may write runs/: keep them out of the checkout
    registry = dict(SAMPLERS)  # a tutorial registers its own sampler: do not leak it
    namespace = {"__name__": "__docs__"}
    try:
        for line, code in blocks:
            exec(compile("\n" * (line - 1) + code, str(page), "exec"), namespace)
    finally:
        SAMPLERS.clear()
        SAMPLERS.update(registry)


@pytest.mark.docs
def test_site_builds_strictly(tmp_path):
    if shutil.which("mkdocs") is None and importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "sampling" / "index.html").read_text()
    assert "CNSDiffSampler" in api and "DNSSampler" in api     # the class list is rendered
    assert 'class="arithmatex"' in api                         # math reached the page for MathJax
