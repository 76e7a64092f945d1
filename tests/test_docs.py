"""The documentation site: strict build, a complete API reference, runnable examples, and the
rendered API page checked in headless Chromium.

Run only these with ``python -m pytest -m docs``. The browser test skips when no Chromium is
installed (``.ci/chromium.sh`` installs Debian's ``chromium``). Set
``PYG_NEGDIFF_DOCS_SCREENSHOT=dir/api.png`` to keep its screenshots (``dir/api-<topic>.png``).
"""

from __future__ import annotations

import contextlib
import doctest
import importlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pyg_negdiff.causal import PENALTIES, STRATEGIES
from pyg_negdiff.data.prepare import SHIFTS
from pyg_negdiff.nn import MODELS
from pyg_negdiff.propagation import PROPAGATIONS
from pyg_negdiff.sampling import SAMPLERS
from pyg_negdiff.tune import SAMPLER_SPACES

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Packages whose ``__all__`` must be covered by the API reference (the top level re-exports).
PACKAGES = [
    "pyg_negdiff",
    "pyg_negdiff.data",
    "pyg_negdiff.nn",
    "pyg_negdiff.sampling",
    "pyg_negdiff.diffusion",
    "pyg_negdiff.causal",
    "pyg_negdiff.tune",
    "pyg_negdiff.propagation",
    "pyg_negdiff.distributed",
    "pyg_negdiff.optim",
]
#: On the line right before a fence, ``<!-- skip-test: why -->`` (or ``<!-- skip-test --> why``)
#: keeps that block out of the test. Use it sparingly.
SKIP_MARK = re.compile(r"<!--\s*skip-test\b:?\s*(?P<reason>.*?)\s*-->(?P<after>.*)")
#: Pages whose examples run in a test of their own (with checks of what they register).
OWN_TEST = {"extending.md": "tests/test_extending.py"}
#: Seconds a page's examples may take together before the test says so.
PAGE_BUDGET_S = 60.0

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)[^\n]*$")


# ------------------------------------------------------------------ API reference coverage
def _resolve(path: str):
    """Imports the longest importable module prefix of ``path`` and walks the attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(path)


def api_entries() -> list[tuple[str, str]]:
    """``(page, dotted path)`` of every ``::: path`` entry of docs/api/*.md."""
    return [
        (page.name, m.group(1))
        for page in sorted((DOCS / "api").glob("*.md"))
        for m in re.finditer(r"^:::[ \t]+([\w.]+)[ \t]*$", page.read_text(), flags=re.M)
    ]


def test_api_entries_resolve_and_are_unique():
    seen: dict[int, str] = {}
    for page, path in api_entries():
        try:
            obj = _resolve(path)
        except (ImportError, AttributeError) as exc:
            pytest.fail(f"docs/api/{page}: '::: {path}' does not resolve ({exc!r})")
        if isinstance(obj, (type, type(_resolve))):  # one anchor per class / function
            assert (
                id(obj) not in seen
            ), f"{path} ({page}) documents the same object as {seen[id(obj)]}"
            seen[id(obj)] = f"{path} ({page})"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_is_in_the_api_reference(package):
    """Each name in ``package.__all__`` has a ``:::`` entry that resolves to that very object."""
    documented = {}
    for _, path in api_entries():
        documented.setdefault(path.rsplit(".", 1)[-1], []).append(path)
    module = importlib.import_module(package)
    missing = []
    for name in module.__all__:
        obj = getattr(module, name)
        paths = documented.get(name, [])
        if not any(_resolve(p) is obj for p in paths):
            missing.append(name)
    assert (
        not missing
    ), f"{package}.__all__ names without a '::: ...' entry in docs/api/*.md: {missing}"


#: Docstring sections that list a callable's parameters (``Attributes:`` for dataclasses).
PARAM_SECTIONS = ("Args", "Arguments", "Parameters", "Other Parameters")
SECTION = re.compile(r"^(?P<name>[A-Z][\w ]*):\s*$")
ENTRY = re.compile(r"^(?P<name>\w+)(?: \(|:)")


def documented_parameters(doc: str, sections: tuple[str, ...]) -> set[str]:
    """Names listed as ``name (type): ...`` or ``name: ...`` in the given Google-style sections."""
    names, lines, i = set(), doc.split("\n"), 0
    while i < len(lines):
        m = SECTION.match(lines[i])
        i += 1
        if m is None or m.group("name") not in sections:
            continue
        indent = None
        while i < len(lines) and (not lines[i].strip() or lines[i][:1].isspace()):
            line = lines[i]
            i += 1
            if not line.strip():
                continue
            width = len(line) - len(line.lstrip())
            indent = width if indent is None else indent
            entry = ENTRY.match(line.strip())
            if width == indent and entry:
                names.add(entry.group("name"))
    return names


def _public_callables():
    import dataclasses
    import enum
    import inspect

    seen = set()
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if id(obj) in seen or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            seen.add(id(obj))
            if inspect.isclass(obj) and issubclass(obj, enum.Enum):
                continue
            yield f"{obj.__module__}.{obj.__qualname__}", obj, dataclasses.is_dataclass(obj)


def _undocumented(obj, doc: str, sections: tuple[str, ...]) -> list[str]:
    """Parameters of ``obj`` (but ``self``, ``cls``, ``*args``, ``**kwargs``) missing from ``doc``."""
    import inspect

    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    params = [
        p.name
        for p in signature.parameters.values()
        if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    documented = documented_parameters(doc, sections) if params else set()
    return [p for p in params if p not in documented]


def test_public_callables_document_their_arguments():
    """Every public class and function names each of its parameters in an ``Args:`` section
    (``Attributes:`` for dataclasses), as ``name (type): description``.

    A class's ``__init__`` docstring counts too: mkdocstrings merges it into the class.
    """
    import inspect

    problems = []
    for path, obj, is_dataclass in _public_callables():
        doc = inspect.getdoc(obj) or ""
        init = obj.__dict__.get("__init__") if inspect.isclass(obj) else None
        if init is not None and init.__doc__:
            doc += "\n\n" + inspect.cleandoc(init.__doc__)
        sections = PARAM_SECTIONS + (("Attributes",) if is_dataclass else ())
        missing = _undocumented(obj, doc, sections)
        if missing:
            problems.append(f"{path}: {', '.join(missing)}")
    assert not problems, (
        "public callables whose docstring has no 'Args:' entry "
        "('name (type): description') for:\n" + "\n".join(problems)
    )


def _public_methods():
    """``(dotted path, file, function)`` of every public method that a public class has from the
    package (its own or inherited), once per function; ``file`` is relative to the checkout."""
    import inspect

    import pyg_negdiff

    root = Path(pyg_negdiff.__file__).resolve().parents[1]
    seen = set()
    for _, cls, _ in _public_callables():
        if not inspect.isclass(cls):
            continue
        for klass in cls.__mro__:
            if not klass.__module__.startswith("pyg_negdiff"):
                continue
            for name, attr in vars(klass).items():
                func = attr.__func__ if isinstance(attr, (classmethod, staticmethod)) else attr
                if name.startswith("_") or not inspect.isfunction(func):
                    continue
                func = inspect.unwrap(func)  # torch.no_grad() and friends wrap the method
                file = Path(inspect.getsourcefile(func)).resolve()
                # PyG generates each conv's `propagate` into a temporary module on first use.
                if id(func) in seen or not file.is_relative_to(root):
                    continue
                seen.add(id(func))
                yield f"{func.__module__}.{func.__qualname__}", file.relative_to(
                    root
                ).as_posix(), func


def test_public_methods_document_their_arguments():
    """Every public method that takes arguments names them in an ``Args:`` section.

    An override without a docstring inherits its base method's (as ``inspect.getdoc`` does), so
    a sampler's ``forward`` is covered by `NegativeSampler.forward`.
    """
    import inspect

    methods = list(_public_methods())
    assert len(methods) > 50  # the collection found the package's classes
    problems = []
    for path, file, func in methods:
        missing = _undocumented(func, inspect.getdoc(func) or "", PARAM_SECTIONS)
        if missing:
            problems.append(f"{path} ({file}): {', '.join(missing)}")
    assert not problems, (
        "public methods whose docstring has no 'Args:' entry "
        "('name (type): description') for:\n" + "\n".join(problems)
    )


# ------------------------------------------------------------------------- code examples
def code_blocks(text: str) -> list[tuple[int, str, str, str]]:
    """``(line, language, code, line before the fence)`` of every fenced block, dedented."""
    lines = text.split("\n")
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        indent, fence, lang = m.group("indent"), m.group("fence"), m.group("lang").lower()
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        body = [
            line[len(indent) :] if line.startswith(indent) else line.lstrip()
            for line in lines[i + 1 : end]
        ]
        blocks.append((i + 2, lang, "\n".join(body), lines[i - 1] if i else ""))
        i = end + 1
    return blocks


def pages_with_code():
    for page in sorted(DOCS.rglob("*.md")):
        if page.relative_to(DOCS).as_posix() in OWN_TEST:
            continue
        blocks = [
            (line, lang, code)
            for line, lang, code, before in code_blocks(page.read_text())
            if lang in ("python", "py", "pycon") and not SKIP_MARK.search(before)
        ]
        if blocks:
            yield pytest.param(page, blocks, id=str(page.relative_to(DOCS)))


def test_skip_markers_give_a_reason():
    for page in sorted(DOCS.rglob("*.md")):
        for line, lang, _, before in code_blocks(page.read_text()):
            mark = SKIP_MARK.search(before)
            if mark is not None:
                assert (
                    mark.group("reason") or mark.group("after").strip()
                ), f"{page}:{line - 1}: say why the block is skipped: '<!-- skip-test: needs a GPU -->'"


@pytest.mark.docs
@pytest.mark.parametrize("page,blocks", list(pages_with_code()))
def test_docs_code_examples_run(page, blocks, tmp_path, monkeypatch):
    """A page's blocks run in order in one fresh namespace, as a reader would paste them.

    ``python`` blocks are executed; ``pycon`` blocks (``>>>`` sessions) are checked as doctests.
    The working directory is a temporary folder, so examples that write ``runs/`` leave the
    checkout alone.
    """
    import time

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # A tutorial registers its own sampler and search space: do not leak them.
    registries = [
        (r, dict(r))
        for r in (SAMPLERS, SAMPLER_SPACES, STRATEGIES, MODELS, SHIFTS, PROPAGATIONS, PENALTIES)
    ]
    namespace = {"__name__": "__docs__"}
    start = time.perf_counter()
    try:
        for line, lang, code in blocks:
            if lang == "pycon":
                test = doctest.DocTestParser().get_doctest(
                    code, namespace, str(page), str(page), line - 1
                )
                runner = doctest.DocTestRunner(
                    optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
                )
                runner.run(test, clear_globs=False)
                assert runner.failures == 0, f"{page}:{line}: doctest failed (output above)"
            else:
                exec(compile("\n" * (line - 1) + code, str(page), "exec"), namespace)
    finally:
        for registry, saved in registries:
            registry.clear()
            registry.update(saved)
    elapsed = time.perf_counter() - start
    assert elapsed < PAGE_BUDGET_S, f"{page}: the examples took {elapsed:.0f} s; keep them quick"


def cli_commands() -> list[tuple[str, int, str]]:
    """``(page, line, argument string)`` of each ``pyg-negdiff ...`` call in shell blocks."""
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        for line, lang, code, _ in code_blocks(page.read_text()):
            if lang not in ("bash", "sh", "shell", "console"):
                continue
            joined = re.sub(r"\\\n\s*", " ", code)
            for offset, text in enumerate(joined.split("\n")):
                for m in re.finditer(r"(?:^|&&|;|\$ )\s*pyg-negdiff\b([^&;#|]*)", text):
                    found.append((str(page.relative_to(DOCS)), line + offset, m.group(1).strip()))
    return found


def test_docs_cli_commands_parse():
    """Every ``pyg-negdiff`` command shown in the docs is accepted by the real parser."""
    from pyg_negdiff.cli import build_parser

    commands = cli_commands()
    assert commands, "the docs show no pyg-negdiff command at all"
    for page, line, args in commands:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                build_parser().parse_args(shlex.split(args))
        except SystemExit as exc:
            if exc.code != 0:  # --version and --help exit 0 after printing
                pytest.fail(
                    f"docs/{page}:{line}: 'pyg-negdiff {args}' is rejected by the CLI parser"
                )


def test_getting_started_states_the_run_defaults():
    """The trial count that Getting started gives for ``pyg-negdiff run`` is the parser's default."""
    from pyg_negdiff.cli import build_parser

    text = (DOCS / "getting-started.md").read_text()
    stated = re.search(r"Optuna study \((\d+) trials by default\)", text)
    assert stated, "getting-started.md no longer says how many trials 'pyg-negdiff run' runs"
    assert int(stated.group(1)) == build_parser().parse_args(["run"]).trials


# ---------------------------------------------------------------------- the benchmarks page
BENCH_PAGE = DOCS / "benchmarks.md"
RESULTS_START, RESULTS_END = "<!-- results:start -->", "<!-- results:end -->"


def _run_benchmarks_module():
    spec = importlib.util.spec_from_file_location(
        "run_benchmarks", ROOT / "benchmarks" / "run_benchmarks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmarks_page_shows_what_the_command_wrote():
    """The page's results block is the ``results.md`` that ``run_benchmarks.py --docs`` wrote,
    the command it records is the one the page tells readers to run, and the plots are copies."""
    text = BENCH_PAGE.read_text()
    assert text.count(RESULTS_START) == 1 and text.count(RESULTS_END) == 1
    block = text.split(RESULTS_START, 1)[1].split(RESULTS_END, 1)[0].strip()
    recorded = re.match(r"Produced by `(?P<command>[^`]+)`", block)
    assert recorded, "the results block is empty: run the command of the page's Regenerate section"
    command = recorded.group("command")
    argv = shlex.split(command)
    assert (
        argv[:2] == ["python", "benchmarks/run_benchmarks.py"]
        and "--out" in argv
        and "--docs" in argv
    )
    assert argv[argv.index("--docs") + 1] == "docs/benchmarks.md"
    out = ROOT / argv[argv.index("--out") + 1]
    assert block.startswith(
        (out / "results.md").read_text().strip()
    ), f"the block differs from {out.relative_to(ROOT)}/results.md: rerun the command, do not edit it"
    shown = [
        " ".join(re.sub(r"\\\n", " ", code).split())
        for _, lang, code, _ in code_blocks(text)
        if lang in ("bash", "sh")
    ]
    assert any(
        command in s for s in shown
    ), f"the page does not show the command that was run: {command}"

    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", block)
    assert "benchmarks/ood_ndcg.png" in images
    for rel in images:
        path = DOCS / rel
        assert path.is_file(), f"docs/{rel} is missing"
        assert path.stat().st_size < 200_000, f"docs/{rel} is large: keep the page light"
        assert (
            path.read_bytes() == (out / path.name).read_bytes()
        ), f"docs/{rel} is not the command's plot"
    assert sorted(p.name for p in (DOCS / "benchmarks").iterdir()) == sorted(
        Path(r).name for r in images
    )


def test_update_docs_rewrites_only_the_results_block(tmp_path):
    update_docs = _run_benchmarks_module().update_docs
    out = tmp_path / "out"
    out.mkdir()
    for name in (
        "ood_ndcg.png",
        "history_a-b-lightgcn-cnsdiff.png",
        "history_a-b-lightgcn-dns.png",
    ):
        (out / name).write_bytes(b"png " + name.encode())
    page = tmp_path / "docs" / "bench.md"
    page.parent.mkdir()
    page.write_text(f"# Title\n\nintro\n\n{RESULTS_START}\nold\n{RESULTS_END}\n\ntail\n")
    (tmp_path / "docs" / "bench").mkdir()
    (tmp_path / "docs" / "bench" / "stale.png").write_bytes(b"old")
    for _ in range(2):  # idempotent
        update_docs(
            page,
            out,
            "| a | b |\n|---|---|\n| 1 | 2 |",
            ["history_a-b-lightgcn-cnsdiff.png", "history_a-b-lightgcn-dns.png", "ood_ndcg.png"],
        )
    text = page.read_text()
    assert text.startswith(
        "# Title\n\nintro\n\n" + RESULTS_START + "\n| a | b |"
    ) and text.endswith(RESULTS_END + "\n\ntail\n")
    assert (
        "old" not in text
        and "(bench/ood_ndcg.png)" in text
        and "(bench/history_a-b-lightgcn-cnsdiff.png)" in text
    )
    assert sorted(p.name for p in (tmp_path / "docs" / "bench").iterdir()) == [
        "history_a-b-lightgcn-cnsdiff.png",
        "ood_ndcg.png",
    ]
    page.write_text("# no markers\n")
    with pytest.raises(ValueError):
        update_docs(page, out, "table", ["ood_ndcg.png"])


# ------------------------------------------------------------------------------- the site
@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """Builds the site once with ``mkdocs build --strict`` into a temporary folder."""
    if (
        importlib.util.find_spec("mkdocs") is None
        or importlib.util.find_spec("mkdocstrings") is None
    ):
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("docs") / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, (
        "mkdocs build --strict failed:\n" + proc.stdout[-3000:] + proc.stderr[-5000:]
    )
    return out


@pytest.mark.docs
def test_site_builds_strictly(site):
    api = (site / "api" / "sampling" / "index.html").read_text()
    assert "CNSDiffSampler" in api and "DNSSampler" in api  # the class list is rendered
    assert 'class="arithmatex"' in api  # math reached the page for MathJax
    for name in ("run", "train", "tune", "data inspect"):  # the hook wrote the help texts
        assert f"usage: pyg-negdiff {name}" in (site / "api" / "cli" / "index.html").read_text()
    bench = (site / "benchmarks" / "index.html").read_text()  # the generated tables and plots
    assert bench.count("<table>") >= 2 and 'src="ood_ndcg.png"' in bench
    assert (site / "benchmarks" / "ood_ndcg.png").is_file()


@pytest.mark.docs
def test_site_is_self_contained_and_versioned(site):
    """No web fonts from a CDN, a filled sitemap, the version in the footer, the changelog."""
    import pyg_negdiff

    for page in sorted(site.rglob("*.html")):
        html = page.read_text()
        assert (
            "fonts.googleapis.com" not in html and "fonts.gstatic.com" not in html
        ), f"{page.relative_to(site)} loads a web font (mkdocs.yml: theme.font: false)"
    home = (site / "index.html").read_text()
    # No made-up address: the site and repository URLs come only from the environment.
    mkdocs_yml = (ROOT / "mkdocs.yml").read_text()
    assert re.search(r"^site_url: !ENV \[PYG_NEGDIFF_SITE_URL, null\]$", mkdocs_yml, flags=re.M)
    assert re.search(r"^repo_url: !ENV \[PYG_NEGDIFF_REPO_URL, null\]$", mkdocs_yml, flags=re.M)
    for placeholder in ("pyg-negdiff.github.io", "github.com/pyg-negdiff"):
        assert placeholder not in home, f"a placeholder URL ({placeholder}) is on the home page"
    if os.environ.get("PYG_NEGDIFF_SITE_URL"):
        assert (
            "<loc>" in (site / "sitemap.xml").read_text()
        ), "empty sitemap despite PYG_NEGDIFF_SITE_URL"
    assert f"pyg_negdiff {pyg_negdiff.__version__}" in home, "the footer does not show the version"
    changelog = (site / "changelog" / "index.html").read_text()
    assert "Unreleased" in changelog and pyg_negdiff.__version__ in changelog


@pytest.mark.docs
def test_site_has_what_a_pyg_user_expects(site):
    """Dark mode, search suggestions and highlighting, the source of every API entry, the output
    of the Python examples, and a 404 page that finds the site root wherever it is served."""
    home = (site / "index.html").read_text()
    assert (
        'data-md-color-scheme="slate"' in home
    ), "no dark palette toggle (mkdocs.yml theme.palette)"
    for feature in ("search.suggest", "search.highlight"):
        assert f'"{feature}"' in home, f"theme.features lacks {feature}"
    api = (site / "api" / "sampling" / "index.html").read_text()
    assert (
        api.count("Source code in")
        >= len([p for page, p in api_entries() if page == "sampling.md"]) // 2
    )
    assert (
        "example-output" in home and "test_ood: Recall@20" in home
    ), "the home example's output is missing"
    not_found = (site / "404.html").read_text()
    assert (
        "pyg_negdiff-site-root.txt" in not_found
        and (site / "assets" / "pyg_negdiff-site-root.txt").is_file()
    )
    assert 'href="/assets/' not in not_found, "404.html still links from the server root"


def test_release_metadata_agrees():
    """CHANGELOG.md has a section for the package version, the BibTeX entries of the README and
    the Cite page give that version, and LICENSE is the license pyproject.toml declares."""
    import tomllib

    import pyg_negdiff

    version = pyg_negdiff.__version__
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    # One place: setuptools reads the version from pyg_negdiff.__version__.
    assert "version" not in project and "version" in project["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "pyg_negdiff.__version__"
    }
    assert re.search(
        rf"^## \[{re.escape(version)}\] - \d{{4}}-\d\d-\d\d$",
        (ROOT / "CHANGELOG.md").read_text(),
        flags=re.M,
    )
    for path in (ROOT / "README.md", DOCS / "cite.md"):
        cited = re.findall(r"version\s*=\s*\{([^}]*)\}", path.read_text())
        assert cited == [
            version
        ], f"{path.name}: the library's BibTeX gives version {cited}, not {version}"
    cff = (ROOT / "CITATION.cff").read_text()
    assert re.findall(r"^version:\s*(\S+)$", cff, flags=re.M) == [version], "CITATION.cff: version"
    assert "@inproceedings{fey2019pyg" in (DOCS / "cite.md").read_text()
    assert "@inproceedings{akiba2019optuna" in (DOCS / "cite.md").read_text()

    from pyg_negdiff.cli import build_parser

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        build_parser().parse_args(["--version"])
    assert out.getvalue().strip() == f"pyg-negdiff {version}"
    assert project["license"]["text"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_mathjax_cdn_fallback_is_a_warning(monkeypatch, tmp_path, caplog):
    """Without a local MathJax, the hook switches the pages to the CDN and says so as a WARNING
    (a reader's browser will contact a third-party host), on a logger that does not abort a
    strict build."""
    import logging
    import types

    spec = importlib.util.spec_from_file_location("mathjax_hook", DOCS / "hooks" / "mathjax.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    monkeypatch.setenv("PYG_NEGDIFF_MATHJAX", str(tmp_path / "missing.js"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(hook, "_from_npm", lambda target: False)
    config = types.SimpleNamespace(extra_javascript=["javascripts/mathjax.js", hook.SITE_PATH])
    monkeypatch.setattr(hook.fallback_log, "propagate", True)  # let caplog see it
    with caplog.at_level(logging.INFO):
        hook.on_config(config)
    assert config.extra_javascript == ["javascripts/mathjax.js", hook.CDN]
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and hook.CDN in r.getMessage()
    ]
    assert warnings and not warnings[0].name.startswith("mkdocs")


def _prose(html: str) -> str:
    """The article's text without code, scripts and the math that arithmatex converted."""
    match = re.search(r"<article\b.*?</article>", html, flags=re.S)
    text = match.group(0) if match else ""
    text = re.sub(r"<(pre|code|script|style)\b.*?</\1>", " ", text, flags=re.S)
    text = re.sub(r'<(span|div) class="arithmatex">.*?</\1>', " ", text, flags=re.S)
    return re.sub(r"<[^>]+>", " ", text)


@pytest.mark.docs
def test_all_math_is_converted(site):
    """A ``$`` left in the prose is math that arithmatex did not see (it would show as raw TeX).

    The usual cause is a display block inside a list item indented by 3 spaces: Python-Markdown
    needs 4 (in docstrings too).
    """
    leftovers = []
    for page in sorted(site.rglob("*.html")):
        if "assets" in page.parts:
            continue
        for m in re.finditer(r"\S{0,30}\$\S{0,30}", _prose(page.read_text())):
            leftovers.append(f"{page.relative_to(site)}: ...{m.group(0)}...")
    assert not leftovers, "raw $ in rendered pages:\n" + "\n".join(leftovers)


# ------------------------------------------------------------------------- rendered lists
LIST_ITEM = re.compile(r"^(?P<indent> *)(?P<marker>\d+[.)]|[-*+])[ \t]+\S")


def ordered_lists(text: str) -> list[tuple[int, int]]:
    """``(line, items)`` of every ordered list in a Markdown page, in document order.

    Follows Python-Markdown's rules as far as lists go: nesting is by 4 spaces, a line after a
    blank line ends every list it is not indented into, and fenced code is not Markdown.
    """
    fenced = set()
    for line, _, code, _ in code_blocks(text):
        fenced.update(range(line - 2, line + code.count("\n") + 1))  # fences included
    found, stack, blank = [], [], False  # stack: [level, ordered, first line, items]

    def close(keep):
        while stack and not keep(stack[-1]):
            level, ordered, first, items = stack.pop()
            if ordered:
                found.append((first, items))

    for i, line in enumerate(text.split("\n")):
        if i in fenced or not line.strip():
            blank = blank or not line.strip()
            continue
        item = LIST_ITEM.match(line)
        indent = len(line) - len(line.lstrip(" "))
        if item:
            level, ordered = len(item.group("indent")) // 4, item.group("marker")[0].isdigit()
            close(lambda run: run[0] < level or (run[0] == level and run[1] == ordered))
            if stack and stack[-1][0] == level:
                stack[-1][3] += 1
            else:
                stack.append([level, ordered, i + 1, 1])
        elif line.lstrip().startswith("#") and indent < 4:
            close(lambda run: False)
        elif blank:  # a paragraph after a blank line belongs to the items it is indented into
            close(lambda run: indent >= 4 * (run[0] + 1))
        blank = False
    close(lambda run: False)
    return sorted(found)


class _ListCounter(HTMLParser):
    """Counts the direct ``<li>`` children of each ``<ol>`` inside ``<article>`` (but the
    footnotes' list, which the footnotes extension writes from ``[^name]:`` lines)."""

    def __init__(self):
        super().__init__()
        self.lists, self._open, self._article, self._footnotes = [], [], False, 0

    def handle_starttag(self, tag, attrs):
        self._article = self._article or tag == "article"
        if not self._article:
            return
        if tag == "div" and ("class", "footnote") in attrs or self._footnotes and tag == "div":
            self._footnotes += 1
        if self._footnotes:
            return
        if tag in ("ol", "ul"):
            self._open.append(len(self.lists) if tag == "ol" else None)
            if tag == "ol":
                self.lists.append(0)
        elif tag == "li" and self._open and self._open[-1] is not None:
            self.lists[self._open[-1]] += 1

    def handle_endtag(self, tag):
        if self._footnotes:
            self._footnotes -= tag == "div"
            return
        if tag == "article":
            self._article = False
        elif tag in ("ol", "ul") and self._article and self._open:
            self._open.pop()


def test_ordered_lists_are_counted_like_python_markdown():
    text = (
        "1. a\n    $$x$$\n2. b\n\n- c\n\n1. one\n\n    more of one\n\n2. two\n"
        "    1. nested\n    2. nested\n\nafter\n\n```\n1. code\n```\n"
    )
    assert ordered_lists(text) == [(1, 2), (7, 2), (12, 2)]


@pytest.mark.docs
def test_ordered_lists_render_every_item(site):
    """An ordered list in a page renders as one ``<li>`` per item of the source.

    A list item that holds display math or several paragraphs must be followed by a blank line;
    otherwise Python-Markdown reads the next ``2.`` as part of the item's last paragraph.
    """
    problems = []
    for page in sorted(DOCS.rglob("*.md")):
        rel = page.relative_to(DOCS)
        if rel.parts[0] == "api":  # docstrings and generated help, not the page's own lists
            continue
        html = site / (rel.with_suffix("") if rel.stem != "index" else rel.parent) / "index.html"
        counter = _ListCounter()
        counter.feed(html.read_text())
        source = ordered_lists(page.read_text())
        if [n for _, n in source] != counter.lists:
            problems.append(
                f"docs/{rel}: ordered lists (line, items) {source} render as "
                f"{counter.lists} <li> items"
            )
    assert not problems, (
        "ordered lists that lose items when rendered (put a blank line between "
        "items that hold display math):\n" + "\n".join(problems)
    )


def _chromium() -> str | None:
    for exe in (
        os.environ.get("PYG_NEGDIFF_CHROMIUM"),
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ):
        if exe and shutil.which(exe):
            return shutil.which(exe)
    return None


def _run_chromium(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--window-size=1280,2000",
        "--virtual-time-budget=10000",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def _screenshot(exe: str, tmp_path: Path, url: str, name: str) -> Path:
    """Screenshots ``url``; kept as ``dir/<stem>-<name>.png`` when
    ``PYG_NEGDIFF_DOCS_SCREENSHOT=dir/<stem>.png`` is set."""
    keep = os.environ.get("PYG_NEGDIFF_DOCS_SCREENSHOT")
    shot = (
        Path(keep).with_name(f"{Path(keep).stem}-{name}.png")
        if keep
        else tmp_path / f"api-{name}.png"
    ).resolve()
    shot.parent.mkdir(parents=True, exist_ok=True)
    proc = _run_chromium(exe, tmp_path / "profile", f"--screenshot={shot}", url)
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-3000:]
    # A blank page compresses to ~12 kB; a rendered one is several hundred.
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    return shot


@pytest.mark.docs
@pytest.mark.parametrize("topic", ["sampling", "training"])
def test_api_page_renders_in_chromium(site, tmp_path, topic):
    """An API page opened in headless Chromium: its classes listed, its math typeset by MathJax.

    The samplers' page has the longest class list; the training page has math at the top, so
    its screenshot shows both.
    """
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium; or .ci/chromium.sh)")
    vendored = (site / "javascripts" / "vendor" / "mathjax" / "tex-svg-full.js").is_file()
    url = (site / "api" / topic / "index.html").as_uri()
    proc = _run_chromium(exe, tmp_path / "profile", "--dump-dom", url)
    assert proc.returncode == 0, proc.stderr[-3000:]
    dom = proc.stdout

    # The class list: a heading (with its "class" badge) per class documented on the page.
    entries = [path for page, path in api_entries() if page == f"{topic}.md"]
    classes = [path for path in entries if isinstance(_resolve(path), type)]
    assert classes
    for path in classes:
        assert f'id="{path}"' in dom, f"{path} is not on the rendered page"
    assert dom.count("doc-symbol-class") >= len(classes)

    # The math: every arithmatex element typeset by MathJax, without TeX errors.
    math = dom.count('class="arithmatex"')
    assert math > 0
    if not vendored:
        pytest.skip("MathJax could not be fetched from npm at build time; the page uses the CDN")
    rendered = dom.count("<mjx-container")
    errors = re.findall(r'data-mjx-error="([^"]*)"', dom)
    assert not errors, f"MathJax errors: {errors[:5]}"
    assert rendered == math, f"{rendered} of {math} math elements typeset by MathJax"

    _screenshot(exe, tmp_path, url, topic)


@pytest.mark.docs
@pytest.mark.parametrize("page", ["shifts/popularity", "shifts/random", "shifts/mixed"])
def test_step_lists_render_in_chromium(site, tmp_path, page):
    """The numbered construction steps of the shift pages, as a browser shows them: one list item
    per step of the source (these lists once collapsed into their first item), math typeset.
    ``PYG_NEGDIFF_DOCS_SCREENSHOT=dir/api.png`` keeps ``dir/api-<page>.png`` as well."""
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium; or .ci/chromium.sh)")
    url = (site / page / "index.html").as_uri()
    proc = _run_chromium(exe, tmp_path / "profile", "--dump-dom", url)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counter = _ListCounter()
    counter.feed(proc.stdout)
    source = ordered_lists((DOCS / f"{page}.md").read_text())
    assert source and counter.lists == [n for _, n in source], (source, counter.lists)
    assert "data-mjx-error" not in proc.stdout

    _screenshot(exe, tmp_path, url, page.replace("/", "-"))


def _serve_with_404(folder: Path, not_found: Path):
    """A static server of ``folder`` that answers a missing path with the site's 404.html (as
    GitHub Pages and most static hosts do) and records each request's path and status."""
    import functools
    import http.server
    import threading

    log: list[tuple[str, int]] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def send_error(self, code, message=None, explain=None):
            if code != 404:
                return super().send_error(code, message, explain)
            body = not_found.read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_request(self, code="-", size="-"):
            log.append((self.path, int(code) if str(code).isdigit() else 0))

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, log


@pytest.mark.docs
def test_404_page_works_below_any_base_path(site, tmp_path):
    """The site served from a sub-folder it was not built for: a missing page deep below it gets
    the 404 page with its stylesheets and a working link home."""
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium; or .ci/chromium.sh)")
    hosted = tmp_path / "www"
    shutil.copytree(site, hosted / "docs" / "v0")
    server, log = _serve_with_404(hosted, hosted / "docs" / "v0" / "404.html")
    try:
        port = server.server_address[1]
        proc = _run_chromium(
            exe,
            tmp_path / "profile",
            "--dump-dom",
            f"http://127.0.0.1:{port}/docs/v0/no/such/page/",
        )
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr[-3000:]
    dom = proc.stdout
    assert '<base href="/docs/v0/">' in dom, "the 404 page did not find the site root"
    # Every stylesheet the page links is served from the site root (Chromium's preload scanner
    # may also try them below the missing page before the <base> script has run: harmless 404s).
    linked = set(
        re.findall(r'<link rel="stylesheet" href="([^"]+\.css)"', (site / "404.html").read_text())
    )
    served = {path for path, code in log if code == 200}
    assert linked and {f"/docs/v0/{href}" for href in linked} <= served, (linked, log)
    assert "404 - Not found" in dom
