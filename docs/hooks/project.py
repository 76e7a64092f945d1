"""mkdocs hook: the library's version and the repository's changelog on the site.

- The footer shows ``pyg_negdiff <version>`` (from ``pyg_negdiff.__version__``), so a reader
  knows which release the pages describe.
- Without ``PYG_NEGDIFF_REPO_URL`` (mkdocs.yml's ``repo_url``) there is no repository to edit in,
  so the "edit this page" links are left out instead of pointing nowhere.
- The 404 page works at any base path: mkdocs writes its links from the site root
  (``/assets/...``), which breaks when the site is served from a sub-folder or another address
  than ``site_url``. The hook makes them relative to the site root and puts, first in
  ``<head>``, a script that finds the root (the nearest folder above the missing page that holds
  ``assets/pyg_negdiff-site-root.txt``, a file the hook writes) and sets ``<base href>`` to it.
- ``CHANGELOG.md`` lives at the repository root (where packagers and GitHub look for it); the
  hook adds it to the site as ``changelog.md``, so there is one copy to keep up to date.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from mkdocs.structure.files import File

CHANGELOG = Path(__file__).resolve().parents[2] / "CHANGELOG.md"


def on_config(config):
    from pyg_negdiff import __version__

    config.copyright = f"pyg_negdiff {__version__} · MIT License"
    if not config.repo_url:
        config.edit_uri = None
    return config


def on_files(files, config):
    files.append(File.generated(config, "changelog.md", abs_src_path=str(CHANGELOG)))
    return files


#: The file whose folder is the site root, for the 404 page's script.
ROOT_MARKER = "assets/pyg_negdiff-site-root.txt"
#: Runs before anything in <head> is fetched: probes the folders above the requested page, nearest
#: first, for the marker file and makes the first one that has it the base of every relative link.
#: Where it cannot probe (file:// pages, a failed request) it falls back to the built base path.
BASE_SCRIPT = """<script>(function () {
  var fallback = %(fallback)s, dirs = location.pathname.split("/").slice(0, -1), root = null;
  if (/^https?:$/.test(location.protocol)) {
    for (var n = dirs.length; n > 0 && root === null; n--) {
      var dir = dirs.slice(0, n).join("/") + "/";
      try {
        var probe = new XMLHttpRequest();
        probe.open("HEAD", dir + %(marker)s, false);
        probe.send();
        if (probe.status === 200) root = dir;
      } catch (e) { /* try the folder above */ }
    }
  }
  document.write('<base href="' + (root || fallback) + '">');
})();</script>"""


def fix_404(html: str, base_path: str) -> str:
    """The 404 page with links relative to the site root and the root-finding ``<base>`` script."""
    prefix = re.escape(base_path)
    html = re.sub(rf'(\s(?:href|src)=")(?:{prefix})(?!/)', r"\1", html)
    html = re.sub(rf'("(?:base|search)":\s*")(?:{prefix})', r"\1", html)
    html = html.replace('"base": ""', '"base": "."')
    html = re.sub(r'(\s(?:href|src)=")"', r'\1./"', html)
    script = BASE_SCRIPT % {
        "fallback": repr(base_path).replace("'", '"'),
        "marker": f'"{ROOT_MARKER}"',
    }
    # Right after <meta charset> (which must come first), before any link or script.
    return re.sub(r"(<meta charset=[^>]*>)", lambda m: m.group(1) + script, html, count=1)


def on_post_build(config):
    site = Path(config.site_dir)
    (site / ROOT_MARKER).parent.mkdir(parents=True, exist_ok=True)
    (site / ROOT_MARKER).write_text(
        "pyg_negdiff documentation root (the 404 page looks for this file)\n"
    )
    page = site / "404.html"
    if page.is_file():
        base_path = urlsplit(config.site_url or "/").path or "/"
        page.write_text(
            fix_404(page.read_text(), base_path if base_path.endswith("/") else base_path + "/")
        )
