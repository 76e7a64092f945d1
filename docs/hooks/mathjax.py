"""mkdocs hook: ship MathJax inside the built site, so the math renders offline.

The pages load MathJax 3's single-file TeX-to-SVG bundle (``es5/tex-svg-full.js``, 2.2 MB: every
TeX extension, SVG output, so no font files and nothing loaded later). The file is not committed;
the build takes it from, in order:

1. ``$PYG_NEGDIFF_MATHJAX``: a path to a ``tex-svg-full.js`` you provide;
2. the cache, ``${XDG_CACHE_HOME:-~/.cache}/pyg-negdiff/mathjax-<version>/tex-svg-full.js``;
3. the npm registry: ``npm pack mathjax@<version>`` into a temporary folder, checked against the
   pinned SHA-256 below, then cached.

It is added to the site as ``javascripts/vendor/mathjax/tex-svg-full.js``. When none of the three
works (no npm, no registry), the pages load the same file from the jsDelivr CDN instead, which
needs a network connection in the reader's browser, and says so with a WARNING (the build itself
still passes, also with ``--strict``: see ``fallback_log`` below).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from mkdocs.structure.files import File

VERSION = "3.2.2"
BUNDLE = "tex-svg-full.js"
SHA256 = "a4354ff94fd868aea0cc6eaaa79a57fda0588646fc46ee3700a349ee0a11cbe6"
SITE_PATH = f"javascripts/vendor/mathjax/{BUNDLE}"  # as listed in mkdocs.yml's extra_javascript
CDN = f"https://cdn.jsdelivr.net/npm/mathjax@{VERSION}/es5/{BUNDLE}"

log = logging.getLogger("mkdocs.hooks.mathjax")
#: The CDN fallback's warning goes to a logger outside mkdocs' own ("mkdocs.*"), whose warnings
#: abort a strict build: an offline machine must still build the site, but nobody should miss
#: that its pages will fetch MathJax from a third-party host.
fallback_log = logging.getLogger("pyg_negdiff.docs.mathjax")
if not fallback_log.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("WARNING -  %(message)s"))
    fallback_log.addHandler(_handler)
    fallback_log.propagate = False
_bundle: Path | None = None


def _cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "pyg-negdiff" / f"mathjax-{VERSION}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _from_npm(target: Path) -> bool:
    npm = shutil.which("npm")
    if npm is None:
        log.info("MathJax: npm not found")
        return False
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(
                [npm, "pack", f"mathjax@{VERSION}", "--silent", "--pack-destination", tmp],
                check=True,
                capture_output=True,
                timeout=180,
                cwd=tmp,
            )
            tarball = next(Path(tmp).glob("mathjax-*.tgz"))
            with tarfile.open(tarball) as tar:
                member = tar.extractfile(f"package/es5/{BUNDLE}")
                data = member.read() if member is not None else b""
        except (
            OSError,
            subprocess.SubprocessError,
            StopIteration,
            KeyError,
            tarfile.TarError,
        ) as exc:
            log.info("MathJax: npm pack mathjax@%s failed: %s", VERSION, exc)
            return False
    if hashlib.sha256(data).hexdigest() != SHA256:
        log.info("MathJax: the npm package's %s does not match the pinned SHA-256", BUNDLE)
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(target)  # atomic: concurrent builds never see half a file
    return True


def _find_bundle() -> Path | None:
    given = os.environ.get("PYG_NEGDIFF_MATHJAX")
    if given:
        path = Path(given).expanduser()
        if path.is_file():
            return path
        log.info("MathJax: $PYG_NEGDIFF_MATHJAX=%s is not a file", given)
    cached = _cache_dir() / BUNDLE
    if cached.is_file() and _sha256(cached) == SHA256:
        return cached
    if _from_npm(cached):
        log.info("MathJax: fetched mathjax@%s from npm into %s", VERSION, cached.parent)
        return cached
    return None


def on_config(config):
    global _bundle
    _bundle = _find_bundle()
    if _bundle is None:
        fallback_log.warning(
            "MathJax: no local copy (npm, cache, $PYG_NEGDIFF_MATHJAX); the pages "
            "load it from %s, so reading them contacts that host",
            CDN,
        )
        for i, script in enumerate(config.extra_javascript):
            if str(getattr(script, "path", script)) == SITE_PATH:
                config.extra_javascript[i] = CDN
    return config


def on_files(files, config):
    if _bundle is not None:
        files.append(File.generated(config, SITE_PATH, abs_src_path=str(_bundle)))
    return files
