"""The numbers in the prose of the docs and the README, filled from ``benchmarks/results/``.

A figure on a page is written between two markers naming where it comes from::

    CNSDiff beat uniform by <!-- num:abl/ml-1m/cnsdiff-f-default/pctU -->+12%<!-- /num --> on ML-1M.

The marker is invisible on the rendered page and on GitHub. ``python benchmarks/page_numbers.py``
rewrites the text between every pair of markers from the result files and records a hash of each
file it read in ``benchmarks/results/page_numbers.lock``; ``--check`` only reports what differs
(tests/test_page_numbers.py runs it). So a page cannot quote a number its file does not hold, and a
result file cannot change without the pages being regenerated.

Keys (``KEY`` or ``KEY#FORMAT``, FORMAT a Python format spec that replaces the default; not
``|``, which would split a table cell):

- ``abl/<scenario>/<row>/<metric>``: a row of the diffusion ablation
  (``ablation/ablation.json``). Metrics: ``ood``, ``iid``, ``ood-recall`` (means), ``ood±``,
  ``iid±`` (mean ± std), ``dU``, ``dU±``, ``dH``, ``dH±`` (seed-paired OOD NDCG@20 difference
  to uniform / to the best heuristic), ``pctU`` (``dU`` relative to uniform's mean, in %),
  ``lossU`` (the same, unsigned, for "loses by"), ``iid-dU`` (IID difference to uniform),
  ``head`` (head@20), ``time`` (epoch time, × uniform), ``epoch`` (best epoch), ``trials``,
  ``heuristic`` (the scenario's best heuristic), and the sampler diagnostics ``above``
  (s_uh ≥ s_ui), ``sigmoid``, ``grad``, ``cos``.
- ``abl-all/<row>/<metric>/<min|max|mean>``: that metric over the scenarios the row ran on
  (``pctU`` signed, with its ``%``, as for ``abl``).
- ``speed/<file stem>/<sampler>/<field>``: ``sampler_speed_*.json`` and ``sampler_fhn_*.json``.
  Fields: ``epoch`` (s per epoch), ``sampler`` (s in the sampler per epoch), ``ratio``
  (epoch time / uniform's), ``fhn`` (mean FHN ratio), ``fhn-last``, ``fhn-x`` (mean FHN ratio /
  uniform's), ``recall`` / ``recall-ood`` (Recall@20 on ``test`` / ``test_ood``).
- ``speed-range/<sampler>/<field>/<min|max>/<stem>+<stem>...``: a field over several files.
- ``speed-span/<field>/<min|max>/<stem>+<stem>...``: a field over every sampler of several files.
- ``docs/<data>/<sampler>/<metric>``: the tuned-study table (``docs/results.json``); metrics
  ``ood±``, ``ood``, ``iid±``.
- ``scale/<batch>/<fanout a-b-c>/<graph>/<mode>/<field>``: ``scale.json``'s measurements; fields
  ``step`` (s), ``memory`` (step memory, MiB), ``peak`` (peak RSS, MiB), ``peak-gib``,
  ``nodes`` (nodes in a step), ``epoch`` (s, extrapolated).
- ``scale-ratio/<batch>/<fanout>/<graph>/<field>``: neighbour / full (``epoch_time``,
  ``peak_rss``, ``step_memory``); ``scale-growth/<batch>/<fanout>/<mode>/<field>/<graph>/<graph>``:
  the second graph's value over the first's.
- ``acc/<fanout a-b-c>[-dense]/<stat>``: neighbour / full ML-1M Recall@20 per epoch, seed-paired
  mean over the seeds of the accuracy runs; stats ``min``, ``max``, ``seed-min`` (lowest single
  seed), ``seed-min-epoch``, ``epochs``, ``seeds``, ``e<N>`` (epoch N, 1-based).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
LOCK = RESULTS / "page_numbers.lock"
#: The pages whose figures come from result files (issue 25).
PAGES = [
    "README.md",
    "docs/index.md",
    "docs/benchmarks.md",
    "docs/choosing-a-sampler.md",
    "docs/faq.md",
    "docs/scaling.md",
    "docs/real-shifts.md",
]
MARKER = re.compile(r"<!-- num:(?P<key>[^>|]*?) -->(?P<value>.*?)<!-- /num -->", flags=re.S)
MINUS = "\u2212"


class KeyError_(LookupError):
    """A marker names something that is not in the result files."""


def _json(name: str):
    return _load(str(RESULTS / name))


@lru_cache(maxsize=None)
def _load(path: str):
    return json.loads(Path(path).read_text())


def _signed(x: float, spec: str = ".4f") -> str:
    text = format(abs(x), spec)
    if float(text) == 0:
        return "+" + text
    return ("+" if x > 0 else MINUS) + text


def _plain(x: float, spec: str) -> str:
    text = format(x, spec)
    return text.replace("-", MINUS) if text.startswith("-") else text


# ----------------------------------------------------------------------- the diffusion ablation
ABL_FIELDS = {
    "ood": "OOD ndcg@20",
    "iid": "IID ndcg@20",
    "ood-recall": "OOD recall@20",
    "dU": "OOD ndcg@20 - uniform",
    "dH": "OOD ndcg@20 - heuristic",
    "iid-dU": "IID ndcg@20 - uniform",
}
ABL_DIAG = {
    "above": "hard_above_pos",
    "sigmoid": "neg_sigmoid",
    "grad": "neg_grad_norm",
    "cos": "cos_hard_pos",
}


def _abl_row(scenario: str, row: str) -> dict:
    for r in _json("ablation/ablation.json")["rows"]:
        if r["scenario"] == scenario and r["row"] == row:
            return r
    raise KeyError_(f"no ablation row {row!r} on {scenario!r}")


def _abl_value(scenario: str, row: str, metric: str) -> float:
    """The number behind ``abl/<scenario>/<row>/<metric>`` (no formatting)."""
    r = _abl_row(scenario, row)
    base = metric.rstrip("±")
    if base in ABL_FIELDS:
        return r[ABL_FIELDS[base]][0]
    if metric in ("pctU", "lossU"):
        uniform = _abl_row(scenario, "uniform")["OOD ndcg@20"][0]
        return 100 * r["OOD ndcg@20 - uniform"][0] / uniform
    if metric == "head":
        return r["head@20"]
    if metric == "time":
        return r["epoch_time"] / _abl_row(scenario, "uniform")["epoch_time"]
    if metric == "epoch":
        return r["best_epoch"]
    if metric in ABL_DIAG:
        return r["diagnostics"][ABL_DIAG[metric]]
    raise KeyError_(f"unknown ablation metric {metric!r}")


ABL_SPEC = {
    "ood": ".4f",
    "iid": ".4f",
    "ood-recall": ".4f",
    "head": ".2f",
    "time": ".1f",
    "epoch": ".1f",
    "above": ".2f",
    "sigmoid": ".2f",
    "grad": ".2f",
    "cos": ".2f",
    "pctU": ".0f",
    "lossU": ".0f",
}


def _abl(parts: list[str], spec: str | None) -> str:
    scenario, row, metric = parts
    r = _abl_row(scenario, row)
    if metric == "heuristic":
        return r["best_heuristic"]
    if metric == "trials":
        return str(r["trials"])
    base = metric.rstrip("±")
    if metric.endswith("±"):
        mean, std = r[ABL_FIELDS[base]]
        fmt = spec or ".4f"
        head = _signed(mean, fmt) if base.startswith(("dU", "dH", "iid-dU")) else _plain(mean, fmt)
        return f"{head} ± {format(std, fmt)}"
    value = _abl_value(scenario, row, metric)
    if metric in ("dU", "dH", "iid-dU"):
        return _signed(value, spec or ".4f")
    if metric == "pctU":
        return _signed(value, spec or ".0f") + "%"
    if metric == "lossU":
        return format(abs(value), spec or ".0f") + "%"
    return _plain(value, spec or ABL_SPEC.get(metric, ".4f"))


def _abl_all(parts: list[str], spec: str | None) -> str:
    row, metric, stat = parts
    scenarios = sorted(
        {r["scenario"] for r in _json("ablation/ablation.json")["rows"] if r["row"] == row}
    )
    if not scenarios:
        raise KeyError_(f"no ablation row {row!r}")
    values = [_abl_value(s, row, metric) for s in scenarios]
    value = {"min": min, "max": max, "mean": statistics.fmean}[stat](values)
    fmt = spec or ABL_SPEC.get(metric, ".4f")
    if metric in ("dU", "dH", "iid-dU"):
        return _signed(value, fmt)
    if metric == "pctU":
        return _signed(value, fmt) + "%"
    if metric in ("above",) and fmt.endswith("%"):
        return format(value, fmt)
    return _plain(value, fmt)


# ---------------------------------------------------------------- sampler speed and FHN ratios
def _speed_value(stem: str, sampler: str, field: str) -> float:
    results = _json(f"{stem}.json")["results"]
    if sampler not in results:
        raise KeyError_(f"{stem}.json has no sampler {sampler!r}")
    r = results[sampler]
    if field == "epoch":
        return r["epoch_time"]
    if field == "sampler":
        return r["sampler_time"]
    if field == "ratio":
        return r["epoch_time"] / results["uniform"]["epoch_time"]
    if field == "fhn":
        return r["fhn_mean"]
    if field == "fhn-last":
        return r["fhn_last"]
    if field == "fhn-x":
        return r["fhn_mean"] / results["uniform"]["fhn_mean"]
    if field == "recall":
        return r["recall@20"]["test"]
    if field == "recall-ood":
        return r["recall@20"]["test_ood"]
    raise KeyError_(f"unknown speed field {field!r}")


SPEED_SPEC = {
    "epoch": ".2f",
    "sampler": ".2f",
    "ratio": ".2f",
    "fhn": ".3f",
    "fhn-last": ".3f",
    "fhn-x": ".1f",
    "recall": ".4f",
    "recall-ood": ".4f",
}


def _speed(parts: list[str], spec: str | None) -> str:
    stem, sampler, field = parts
    return _plain(_speed_value(stem, sampler, field), spec or SPEED_SPEC[field])


def _speed_span(parts: list[str], spec: str | None) -> str:
    field, stat, stems = parts
    values = [
        _speed_value(stem, sampler, field)
        for stem in stems.split("+")
        for sampler in _json(f"{stem}.json")["results"]
    ]
    return _plain({"min": min, "max": max}[stat](values), spec or SPEED_SPEC[field])


def _speed_range(parts: list[str], spec: str | None) -> str:
    sampler, field, stat, stems = parts
    values = [_speed_value(stem, sampler, field) for stem in stems.split("+")]
    return _plain({"min": min, "max": max}[stat](values), spec or SPEED_SPEC[field])


# ------------------------------------------------------------------------ the tuned studies
def _docs(parts: list[str], spec: str | None) -> str:
    data, sampler, metric = parts
    rows = [
        r
        for r in _json("docs/results.json")["rows"]
        if r["data"] == data and r["sampler"] == sampler
    ]
    if len(rows) != 1:
        raise KeyError_(f"docs/results.json: {len(rows)} rows for {data}/{sampler}")
    (r,) = rows
    fmt = spec or ".4f"
    base = {"ood": "ood_ndcg@20", "iid": "iid_ndcg@20"}[metric.rstrip("±")]
    if metric.endswith("±"):
        return f"{format(r[base + '_mean'], fmt)} ± {format(r[base + '_std'], fmt)}"
    return format(r[base + "_mean"], fmt)


# ------------------------------------------------------------------------------ scaling out
def _scale_run(batch: str, fanout: str) -> dict:
    for run in _json("scale.json")["measure_runs"]:
        if (
            str(run["args"]["batch_size"]) == batch
            and "-".join(map(str, run["args"]["fanout"])) == fanout
        ):
            return run
    raise KeyError_(f"scale.json: no measurement with batch {batch} and fan-out {fanout}")


SCALE_FIELDS = {
    "step": ("step_time_s", ".3f"),
    "memory": ("step_peak_mib", ".0f"),
    "peak": ("peak_rss_mib", ".0f"),
    "nodes": ("subgraph_nodes", ",.0f"),
    "epoch": ("epoch_time_s", ".1f"),
}


def _scale_value(batch: str, fanout: str, graph: str, mode: str, field: str) -> float:
    for m in _scale_run(batch, fanout)["measure"]:
        if m["dataset"] == graph and m["mode"] == mode:
            if field == "peak-gib":
                return m["peak_rss_mib"] / 1024
            if field == "nodes" and mode == "full":
                return m["num_users"] + m["num_items"]
            return m[SCALE_FIELDS[field][0]]
    raise KeyError_(f"scale.json: no {mode} measurement of {graph}")


def _scale(parts: list[str], spec: str | None) -> str:
    batch, fanout, graph, mode, field = parts
    default = ".1f" if field == "peak-gib" else SCALE_FIELDS[field][1]
    return _plain(_scale_value(batch, fanout, graph, mode, field), spec or default)


def _scale_ratio(parts: list[str], spec: str | None) -> str:
    batch, fanout, graph, field = parts
    for ratio in _scale_run(batch, fanout)["ratios"]:
        if ratio["dataset"] == graph:
            return _plain(ratio[field], spec or ".2f")
    raise KeyError_(f"scale.json: no ratios for {graph}")


def _scale_growth(parts: list[str], spec: str | None) -> str:
    batch, fanout, mode, field, first, last = parts
    value = _scale_value(batch, fanout, last, mode, field) / _scale_value(
        batch, fanout, first, mode, field
    )
    return _plain(value, spec or ".1f")


def _accuracy(name: str) -> tuple[list[list[float]], list[int]]:
    """Per seed, neighbour / full Recall@20 at every epoch, for the runs named ``a-b-c[-dense]``."""
    dense = name.endswith("-dense")
    fanout = name.removesuffix("-dense")
    ratios, seeds = [], []
    for run in _json("scale.json")["accuracy_runs"]:
        args = run["args"]
        if "-".join(map(str, args["fanout"])) != fanout or bool(args["dense_gradients"]) != dense:
            continue
        curves = {r["mode"]: [e["recall@20"] for e in r["curve"]] for r in run["results"]}
        ratios.append([n / f for n, f in zip(curves["neighbor"], curves["full"])])
        seeds.append(args["seed"])
    if not ratios:
        raise KeyError_(f"scale.json: no accuracy runs {name!r}")
    return ratios, seeds


def _acc(parts: list[str], spec: str | None) -> str:
    name, stat = parts
    per_seed, seeds = _accuracy(name)
    mean = [statistics.fmean(epoch) for epoch in zip(*per_seed)]
    fmt = spec or ".3f"
    if stat == "epochs":
        return str(len(mean))
    if stat == "seeds":
        return ", ".join(map(str, seeds))
    if stat == "seed-min":
        return format(min(min(s) for s in per_seed), fmt)
    if stat == "seed-min-epoch":
        low = min(min(s) for s in per_seed)
        return str(next(i + 1 for s in per_seed for i, v in enumerate(s) if v == low))
    if stat in ("min", "max"):
        return format({"min": min, "max": max}[stat](mean), fmt)
    if stat.startswith("e"):
        return format(mean[int(stat[1:]) - 1], fmt)
    raise KeyError_(f"unknown accuracy stat {stat!r}")


# ------------------------------------------------------------------- the real-shift benchmark
def _real_summary(scenario: str) -> dict:
    summaries = _json("real/report.json")["scenarios"]
    if scenario not in summaries:
        raise KeyError_(f"no real-shift scenario {scenario!r}")
    return summaries[scenario]


#: The page's names of the paired differences: uniform, best heuristic, strongest heuristic.
_AGAINST = {"pctU": "uniform", "pctH": "best_heuristic", "pctS": "strongest_heuristic"}


def _real_row(scenario: str, row: str) -> dict:
    for r in _real_summary(scenario)["rows"]:
        if r["row"] == row:
            return r
    raise KeyError_(f"no real-shift row {row!r} on {scenario!r}")


def _real(parts: list[str], spec: str | None) -> str:
    """``real/<scenario>/<row>/<metric>``: ``ood``, ``ood±``, ``pctU``/``pctH``/``pctS``
    (seed-paired relative OOD NDCG@20 difference to uniform / the best heuristic by validation /
    the strongest heuristic on the OOD test, %), ``head``, ``iid`` (IID test NDCG@20), ``epoch``
    (the mean best validation epoch); and
    ``real/<scenario>/-/<heuristic|strongest|best>`` (the best heuristic by validation, the
    strongest one on the OOD test, the best sampler by validation); ``kw:<name>`` and
    ``kw-oracle:<name>``: a sampler constant of the configuration that validation / oracle
    selection chose."""
    scenario, row, metric = parts
    if metric == "heuristic":
        return str(_real_summary(scenario)["best_heuristic"])
    if metric == "strongest":
        return str(_real_summary(scenario)["strongest_heuristic"])
    if metric == "best":
        return str(_real_summary(scenario)["best_sampler"])
    r = _real_row(scenario, row)
    if metric in ("ood", "ood±"):
        mean, std = r["ood_ndcg"]
        return _plain(mean, spec or ".4f") + (
            f" ± {format(std, spec or '.4f')}" if metric == "ood±" else ""
        )
    if metric in _AGAINST:
        paired = r.get(f"vs_{_AGAINST[metric]}")
        if not paired or "rel" not in paired:
            raise KeyError_(f"{row!r} on {scenario!r} has no paired difference for {metric}")
        return _signed(100 * paired["rel"][0], spec or ".0f") + "%"
    if metric == "head":
        return _plain(r["head@20"][0], spec or ".2f")
    if metric == "iid":
        return _plain(r["iid_ndcg"][0], spec or ".4f")
    if metric == "epoch":
        return _plain(r["best_epoch"][0], spec or ".0f")
    if metric.startswith(("kw:", "kw-oracle:")):
        # a sampler constant the row's chosen configuration holds (validation or oracle selection)
        which, name = metric.split(":", 1)
        kwargs = r["config" if which == "kw" else "oracle_config"]["sampler_kwargs"]
        if name not in kwargs:
            raise KeyError_(f"{row!r} on {scenario!r} chose no {name!r}")
        return _plain(kwargs[name], spec or ".2f")
    raise KeyError_(f"unknown real-shift metric {metric!r}")


def _real_all(parts: list[str], spec: str | None) -> str:
    """``real-all/<row>/<pctU|pctH|pctS>``: the mean over the real scenarios of the seed-paired relative
    difference (± its standard error), as the Real shifts page's cross-scenario table gives it."""
    sys.path.insert(0, str(ROOT))
    from pyg_negdiff.bench import REAL_SCENARIOS, across_scenarios

    row, metric = parts
    summaries = [
        s for name, s in _json("real/report.json")["scenarios"].items() if name in REAL_SCENARIOS
    ]
    if metric not in _AGAINST:
        raise KeyError_(f"unknown cross-scenario metric {metric!r} (one of {', '.join(_AGAINST)})")
    table = across_scenarios(summaries, _AGAINST[metric])
    if row not in table:
        raise KeyError_(f"no cross-scenario {metric} for {row!r}")
    mean, sem = table[row]["mean"]
    return _signed(100 * mean, spec or ".1f") + f"% ± {format(100 * sem, spec or '.1f')}"


FAMILIES = {
    "real": (_real, lambda p: ["real/report.json"]),
    "real-all": (_real_all, lambda p: ["real/report.json"]),
    "abl": (_abl, lambda p: ["ablation/ablation.json"]),
    "abl-all": (_abl_all, lambda p: ["ablation/ablation.json"]),
    "speed": (_speed, lambda p: [f"{p[0]}.json"]),
    "speed-range": (_speed_range, lambda p: [f"{s}.json" for s in p[3].split("+")]),
    "speed-span": (_speed_span, lambda p: [f"{s}.json" for s in p[2].split("+")]),
    "docs": (_docs, lambda p: ["docs/results.json"]),
    "scale": (_scale, lambda p: ["scale.json"]),
    "scale-ratio": (_scale_ratio, lambda p: ["scale.json"]),
    "scale-growth": (_scale_growth, lambda p: ["scale.json"]),
    "acc": (_acc, lambda p: ["scale.json"]),
}


def _split(key: str) -> tuple[str, list[str], str | None]:
    key, _, spec = key.strip().partition("#")
    family, *parts = key.split("/")
    if family not in FAMILIES:
        raise KeyError_(f"unknown number family {family!r} in {key!r}")
    return family, parts, spec or None


def value(key: str) -> str:
    """The text a ``<!-- num:KEY -->`` marker must hold."""
    family, parts, spec = _split(key)
    try:
        return FAMILIES[family][0](parts, spec)
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise KeyError_(f"{key!r}: {exc!r}") from exc


def sources(key: str) -> list[str]:
    """The result files (relative to benchmarks/results) that ``key`` reads."""
    family, parts, _ = _split(key)
    return FAMILIES[family][1](parts)


def render(text: str) -> str:
    return MARKER.sub(
        lambda m: f"<!-- num:{m.group('key')} -->{value(m.group('key'))}<!-- /num -->", text
    )


def used_sources(root: Path = ROOT) -> set[str]:
    used = set()
    for page in PAGES:
        for m in MARKER.finditer((root / page).read_text()):
            used.update(sources(m.group("key")))
    return used


def digest(name: str) -> str:
    return hashlib.sha256((RESULTS / name).read_bytes()).hexdigest()


def lock_text() -> str:
    return json.dumps({name: digest(name) for name in sorted(used_sources())}, indent=2) + "\n"


def problems() -> list[str]:
    """What differs between the pages and the result files (empty when all agree)."""
    out = []
    for page in PAGES:
        text = (ROOT / page).read_text()
        if text.count("<!-- num:") != len(MARKER.findall(text)):
            out.append(
                f"{page}: a '<!-- num:' marker that is not '<!-- num:KEY -->value<!-- /num -->'"
            )
        for m in MARKER.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            try:
                want = value(m.group("key"))
            except KeyError_ as exc:
                out.append(f"{page}:{line}: {exc}")
                continue
            if m.group("value") != want:
                out.append(
                    f"{page}:{line}: {m.group('key')!r} says {m.group('value')!r}, the file says {want!r}"
                )
    if not LOCK.is_file() or LOCK.read_text() != lock_text():
        out.append(
            f"{LOCK.relative_to(ROOT)} does not match the result files the pages read: "
            "a result file changed without regenerating the pages"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="only report differences (exit 1 if any)"
    )
    args = parser.parse_args(argv)
    if args.check:
        found = problems()
        print("\n".join(found) or "page numbers: all agree with benchmarks/results/")
        return 1 if found else 0
    for page in PAGES:
        path = ROOT / page
        text = path.read_text()
        new = render(text)
        if new != text:
            path.write_text(new)
            print(f"updated {page}")
    LOCK.write_text(lock_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
