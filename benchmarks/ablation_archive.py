"""The archived run logs of the issue-13 diffusion ablation, read back into the page's tables.

The runs in ``benchmarks/results/ablation/runs-*.jsonl`` were made by the ablation's own
protocol script (commits 9a579df and 9b89052) before the library had `pyg_negdiff.bench`. Their
records are one line per ``(scenario, row, seed)`` (plus a ``_backbone`` line per scenario), not
`pyg_negdiff.bench.RunLog`'s, and their table has the ablation's own columns (the samplers'
mechanism diagnostics, the epoch time against uniform). This module keeps those tables
reproducible from the committed logs, unchanged; new ablation runs go through the library's
protocol (``benchmarks/diffusion_ablation.py`` without ``--report``) and its report.

Nothing here runs a model: the logs are frozen, and so are the row order, the scenarios and the
heuristics below (the popularity sampler was not yet a heuristic).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import replace_block  # noqa: E402

#: The archive's rows, in its table's order (the rows of `pyg_negdiff.bench.rows.ABLATION_ROWS`).
ROW_ORDER = (
    "uniform",
    "dns",
    "mixgcf",
    "ahns",
    "cnsdiff-a-before",
    "cnsdiff-b-published",
    "cnsdiff-c-straight-through",
    "cnsdiff-d-separate",
    "cnsdiff-e-band",
    "cnsdiff-f-default",
    "cnsdiff-f2-linear",
    "cnsdiff-g-cl-only",
    "cnsdiff-h-default-causal",
    "adar-before",
    "adar-clipped",
    "adar-denoise",
    "adar-mean",
    "adar-default",
)
HEURISTICS = ("dns", "mixgcf", "ahns")
SCENARIOS = ("synthetic", "coat", "yahoo-r3", "ml-100k", "ml-1m")
DIAGNOSTICS = (
    "hard_above_pos",
    "neg_sigmoid",
    "neg_grad_norm",
    "cos_hard_pos",
    "head_share@20",
    "transition_at_1",
    "transition_at_T",
    "mix_ratio",
)
METRICS = ("ndcg@20", "recall@20")
DOC_START, DOC_END = "<!-- ablation:start -->", "<!-- ablation:end -->"


def is_archive(out: Path) -> bool:
    """Whether ``out`` holds archived logs (``runs*.jsonl`` at its top, not per scenario)."""
    return any(out.glob("runs*.jsonl"))


def archived_runs(out_dir: Path) -> dict[tuple, dict[str, Any]]:
    """Every run in ``out_dir/runs*.jsonl`` (one file per process), keyed by (scenario, row, seed)."""
    out = {}
    for log in sorted(out_dir.glob("runs*.jsonl")):
        for line in log.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                out[(r["scenario"], r["row"], r["seed"])] = r
    return out


def _parts(record: dict[str, Any]) -> dict[str, str]:
    return {
        "OOD": "test_ood" if "test_ood" in record["test"] else "test",
        "IID": "test" if "test_ood" in record["test"] else None,
    }


def summarize(records: dict[tuple, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (scenario, row): means, stds and seed-paired differences."""
    by: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
    for (scenario, row, seed), r in records.items():
        if row != "_backbone":
            by.setdefault((scenario, row), {})[seed] = r
    table = []
    for scenario in SCENARIOS:
        rows = {row: seeds for (s, row), seeds in by.items() if s == scenario}
        if not rows:
            continue
        heur = [h for h in HEURISTICS if h in rows]
        best_heur = (
            max(heur, key=lambda h: np.mean([r["val"]["ndcg@20"] for r in rows[h].values()]))
            if heur
            else None
        )
        for row in ROW_ORDER:
            if row not in rows:
                continue
            seeds = rows[row]
            entry: dict[str, Any] = {
                "scenario": scenario,
                "row": row,
                "seeds": sorted(seeds),
                "best_heuristic": best_heur,
            }
            for label in ("OOD", "IID"):
                for m in METRICS:
                    vals = {
                        s: r["test"][p][m]
                        for s, r in seeds.items()
                        if (p := _parts(r)[label]) is not None and p in r["test"]
                    }
                    if not vals:
                        continue
                    key = f"{label} {m}"
                    entry[key] = (
                        float(np.mean(list(vals.values()))),
                        float(np.std(list(vals.values()))),
                    )
                    for ref_name, ref in (("uniform", "uniform"), ("heuristic", best_heur)):
                        if ref is None or ref not in rows:
                            continue
                        common = [s for s in vals if s in rows[ref]]
                        ref_vals = [
                            rows[ref][s]["test"][_parts(rows[ref][s])[label]][m] for s in common
                        ]
                        diff = np.array([vals[s] for s in common]) - np.array(ref_vals)
                        if len(diff):
                            entry[f"{key} - {ref_name}"] = (float(diff.mean()), float(diff.std()))
            entry["head@20"] = float(np.mean([r["head@20"] for r in seeds.values()]))
            entry["epoch_time"] = float(np.mean([r["epoch_time"] for r in seeds.values()]))
            entry["best_epoch"] = float(np.mean([r["best_epoch"] for r in seeds.values()]))
            diag = {}
            for k in DIAGNOSTICS:
                vals = [
                    r["diagnostics"][k] for r in seeds.values() if k in r.get("diagnostics", {})
                ]
                if vals:
                    diag[k] = float(np.mean(vals))
            entry["diagnostics"] = diag
            entry["sampler_kwargs"] = next(iter(seeds.values()))["sampler_kwargs"]
            entry["trials"] = next(iter(seeds.values()))["trials"]
            table.append(entry)
    return table


def _pm(value: tuple[float, float] | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value[0]:.{digits}f} ± {value[1]:.{digits}f}"


def _signed(value: tuple[float, float] | None) -> str:
    return "-" if value is None else f"{value[0]:+.4f} ± {value[1]:.4f}"


def markdown(table: list[dict[str, Any]]) -> str:
    lines = []
    for scenario in SCENARIOS:
        rows = [r for r in table if r["scenario"] == scenario]
        if not rows:
            continue
        uniform_time = next((r["epoch_time"] for r in rows if r["row"] == "uniform"), None)
        lines += [
            f"### {scenario}",
            "",
            f"Best heuristic (highest mean validation NDCG@20): **{rows[0]['best_heuristic']}**; "
            f"seeds {rows[0]['seeds']}; {rows[0]['trials']} trials per row.",
            "",
            "| row | OOD NDCG@20 | Δ vs uniform | Δ vs best heuristic | IID NDCG@20 | OOD Recall@20 "
            "| IID Recall@20 | head@20 | s_uh ≥ s_ui | σ(−margin) | ‖∇e_j‖ | cos(h, e_i) | best epoch "
            "| epoch time (× uniform) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            d = r["diagnostics"]

            def g(k: str) -> str:
                return f"{d[k]:.2f}" if k in d else "-"

            ratio = f"{r['epoch_time'] / uniform_time:.2f}" if uniform_time else "-"
            lines.append(
                f"| {r['row']} | {_pm(r.get('OOD ndcg@20'))} | {_signed(r.get('OOD ndcg@20 - uniform'))} "
                f"| {_signed(r.get('OOD ndcg@20 - heuristic'))} | {_pm(r.get('IID ndcg@20'))} "
                f"| {_pm(r.get('OOD recall@20'))} | {_pm(r.get('IID recall@20'))} | {r['head@20']:.2f} "
                f"| {g('hard_above_pos')} | {g('neg_sigmoid')} | {g('neg_grad_norm')} | {g('cos_hard_pos')} "
                f"| {r['best_epoch']:.1f} | {ratio} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_report(out: Path, docs: Path | None = None) -> str:
    """Writes ``out/ablation.md`` and ``out/ablation.json`` from the archived logs and, with
    ``docs``, the page's ablation block (with the archive's committed figure,
    ``out/ood_ndcg.png``, copied next to the page); returns the tables."""
    records = archived_runs(out)
    table = summarize(records)
    text = markdown(table)
    commits = sorted(
        {
            r.get("commit", "unknown")[:7]
            + ("-dirty" if r.get("commit", "").endswith("-dirty") else "")
            for r in records.values()
        }
    )
    (out / "ablation.json").write_text(json.dumps({"commits": commits, "rows": table}, indent=2))
    (out / "ablation.md").write_text(text)
    if docs is not None:
        assets = docs.parent / "ablation"
        assets.mkdir(parents=True, exist_ok=True)
        shutil.copy(out / "ood_ndcg.png", assets / "ood_ndcg.png")
        block = (
            f"Produced by `python benchmarks/diffusion_ablation.py --report --out {out} --docs {docs}` "
            f"from runs of commit(s) {', '.join(commits)}.\n\n![ablation](ablation/ood_ndcg.png)\n\n"
            + text.strip()
        )
        replace_block(docs, DOC_START, DOC_END, block)
    return text
