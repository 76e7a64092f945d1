"""mkdocs hook: the library's version and the repository's changelog on the site.

- The footer shows ``pyg_negdiff <version>`` (from ``pyg_negdiff.__version__``), so a reader
  knows which release the pages describe.
- Without ``PYG_NEGDIFF_REPO_URL`` (mkdocs.yml's ``repo_url``) there is no repository to edit in,
  so the "edit this page" links are left out instead of pointing nowhere.
- ``CHANGELOG.md`` lives at the repository root (where packagers and GitHub look for it); the
  hook adds it to the site as ``changelog.md``, so there is one copy to keep up to date.
"""
from __future__ import annotations

from pathlib import Path

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
