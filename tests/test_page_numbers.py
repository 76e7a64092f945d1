"""Every figure in the prose of the README, home, Benchmarks, Choosing a sampler, FAQ and Scaling
out pages is generated from ``benchmarks/results/`` (``benchmarks/page_numbers.py``)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


@pytest.fixture()
def numbers():
    spec = importlib.util.spec_from_file_location(
        "page_numbers", ROOT / "benchmarks" / "page_numbers.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pages_agree_with_their_result_files(numbers):
    found = numbers.problems()
    assert not found, "rerun `python benchmarks/page_numbers.py`:\n" + "\n".join(found)


def test_every_page_has_generated_figures(numbers):
    for page in numbers.PAGES:
        assert numbers.MARKER.search(
            (ROOT / page).read_text()
        ), f"{page}: no <!-- num:... --> figure"


def test_changing_a_result_file_without_regenerating_fails(numbers, tmp_path, monkeypatch):
    copy = tmp_path / "results"
    shutil.copytree(RESULTS, copy)
    report = json.loads((copy / "ablation" / "ablation.json").read_text())
    row = next(
        r for r in report["rows"] if r["scenario"] == "ml-1m" and r["row"] == "cnsdiff-f-default"
    )
    row["OOD ndcg@20 - uniform"][0] += 0.01
    (copy / "ablation" / "ablation.json").write_text(json.dumps(report))
    monkeypatch.setattr(numbers, "RESULTS", copy)
    found = numbers.problems()
    assert any("abl/ml-1m/cnsdiff-f-default/dU" in p for p in found), found
    assert any("page_numbers.lock" in p for p in found), found

    # A change no page quotes is caught by the lock alone.
    report = json.loads((RESULTS / "ablation" / "ablation.json").read_text())
    report["commits"].append("0000000")
    (copy / "ablation" / "ablation.json").write_text(json.dumps(report))
    assert [p for p in numbers.problems() if "page_numbers.lock" in p]


def test_no_figure_inside_math_or_code(numbers):
    """A marker inside `$...$` or backticks would be shown as text: keep figures outside them."""
    for page in numbers.PAGES:
        for line in (ROOT / page).read_text().splitlines():
            for span in _MATH.findall(line) + _CODE.findall(line):
                assert "<!-- num:" not in span, f"{page}: a figure inside {span[:60]!r}"


def test_an_unknown_key_is_an_error(numbers):
    with pytest.raises(numbers.KeyError_):
        numbers.value("abl/ml-1m/no-such-row/dU")
    with pytest.raises(numbers.KeyError_):
        numbers.value("nonsense/x")


#: Generated blocks (written by the benchmark scripts, checked by their own tests), code and the
#: generated figures themselves are left out of the hand-typed-number check.
_BLOCK = re.compile(r"<!-- ([\w-]+):start -->.*?<!-- \1:end -->", flags=re.S)
_FENCE = re.compile(r"^(```|~~~).*?^\1", flags=re.S | re.M)
_CODE = re.compile(r"`[^`\n]*`")
_MATH = re.compile(r"\$[^$\n]*\$")
#: A measured-looking figure: two or more decimals (0.93, 0.0532, +0.0065), a percentage, or a
#: number with a unit of time, memory or a multiple (12 s, 393 MiB, 41.8 times, × 16, 5 minutes).
_FIGURE = re.compile(
    r"(?<![\w.])[+−-]?\d+\.\d{2,}(?![\w.])|(?<![\w.])\d+(?:\.\d+)?%"
    r"|(?<![\w.])\d+(?:[.,]\d+)?\s?(?:×|x\b|times\b|s\b|ms\b|seconds?\b|min\b|minutes?\b"
    r"|hours?\b|MiB\b|GiB\b|MB\b|GB\b)|×\s?\d+"
)


#: Figures of the protocol, not measurements: what the head items are, the accuracy threshold.
ALLOWED = {
    "10%",  # head@20 counts the 10% most popular training items; split shares
    "20%",  # the split table: the last 20% of time
    "5%",  # Scaling out: "within 5%" of full mode's recall
    "4 times",  # README: the id-remapping rule (largest id over 4 times the distinct count)
    "2 MiB",  # Benchmarks: the size of a 141-user score block, computed, not measured
}
_ARXIV = re.compile(r"\b\d{4}\.\d{5}\b")


def _prose(numbers, text: str) -> str:
    for pattern in (_BLOCK, _FENCE, numbers.MARKER, _CODE, _MATH, _ARXIV):
        text = pattern.sub(" ", text)
    return text


@pytest.mark.parametrize(
    "typed",
    [
        "23× a uniform epoch",
        "7-8 s for the sampler",
        "0.189",
        "+12%",
        "393 MiB",
        "41.8 times",
        "× 16",
    ],
)
def test_a_hand_typed_figure_is_recognised(numbers, typed):
    assert [m.group(0) for m in _FIGURE.finditer(_prose(numbers, typed))], typed


def test_no_hand_typed_figures_in_the_prose(numbers):
    problems = []
    for page in numbers.PAGES:
        for m in _FIGURE.finditer(_prose(numbers, (ROOT / page).read_text())):
            if m.group(0) not in ALLOWED:
                problems.append(f"{page}: {m.group(0)!r}")
    assert not problems, (
        "figures typed by hand (put them in a <!-- num:KEY --> marker, or remove "
        "them):\n" + "\n".join(problems)
    )


_CITED = re.compile(
    r"(?:benchmarks/results/[\w./<>*-]*[\w>*]|`[\w.<>*-]+\.(?:json|jsonl|md|csv|png)`)"
)


def _exists(token: str) -> bool:
    token = token.strip("`")
    pattern = re.sub(r"<[^>]+>", "*", token)
    if "/" in pattern:
        return any(ROOT.glob(pattern))
    return (
        any(RESULTS.rglob(pattern))
        or any(ROOT.glob(pattern))
        or any((ROOT / "docs").rglob(pattern))
        or any((ROOT / "benchmarks").glob(pattern))
    )


def test_pages_cite_only_result_files_that_exist(numbers):
    missing = []
    for page in numbers.PAGES:
        text = (ROOT / page).read_text()
        for m in _CITED.finditer(text):
            if not _exists(m.group(0)):
                line = text.count("\n", 0, m.start()) + 1
                missing.append(f"{page}:{line}: {m.group(0)}")
    assert not missing, "pages cite result files that do not exist:\n" + "\n".join(missing)
