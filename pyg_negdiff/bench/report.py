r"""Tables from a benchmark's run log: both selection rules, paired differences, reference rows.

For a row $r$ and seeds $s = 1..S$ (each with its own best-validation epoch),
the table gives the OOD NDCG@20 mean $\pm$ std over seeds, and the seed-paired
differences against uniform and against the best heuristic,

$$
\Delta_s = x_{r,s} - x_{\text{ref},s}, \qquad
\delta_s = \frac{x_{r,s} - x_{\text{ref},s}}{x_{\text{ref},s}},
$$

as mean $\pm$ std over seeds (absolute, and relative in %). The best heuristic
(of the popularity sampler, DNS, MixGCF and AHNS) and the best sampler are the
rows with the highest mean validation NDCG@20. Beside it, as a diagnostic only,
the *strongest* heuristic is the one with the highest mean OOD NDCG@20 (an
oracle choice: validation can pick a heuristic that the shift then punishes).
Across scenarios, the mean of the per-scenario relative differences
$\bar\delta = \frac1n \sum_c \bar\delta_c$ is given with the standard error that
the seeds leave, $\sqrt{\sum_c \mathrm{std}_c^2 / S_c} / n$, over the scenarios
where the row has at least `MIN_SEEDS` seed-paired runs.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from pyg_negdiff.bench.oracle import oracle_choice
from pyg_negdiff.bench.rows import HEURISTICS, REFERENCES, ROWS

__all__ = ["summarize", "markdown", "across_scenarios", "markdown_across"]

Stat = tuple[float, float]

#: Seed-paired runs a row needs on a scenario to enter the cross-scenario mean.
MIN_SEEDS = 3
#: The comparisons `across_scenarios` knows: name -> the key of a row's paired difference.
AGAINST = {
    "uniform": "vs_uniform",
    "best_heuristic": "vs_best_heuristic",
    "strongest_heuristic": "vs_strongest_heuristic",
}


def _ood(record: dict[str, Any]) -> str:
    return "test_ood" if "test_ood" in record["test"] else "test"


def _stat(values: Sequence[float]) -> Stat | None:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return (float(np.mean(values)), float(np.std(values))) if values else None


def _paired(mine: dict[int, float], ref: dict[int, float]) -> dict[str, Stat]:
    common = sorted(set(mine) & set(ref))
    if not common:
        return {}
    diff = np.array([mine[s] - ref[s] for s in common])
    out = {"abs": (float(diff.mean()), float(diff.std())), "seeds": len(common)}
    rel = [(mine[s] - ref[s]) / ref[s] for s in common if ref[s] > 0]
    if rel:
        out["rel"] = (float(np.mean(rel)), float(np.std(rel)))
    return out


def _oracle_value(record: dict[str, Any]) -> float | None:
    if record.get("oracle"):
        return oracle_choice(record["oracle"]).get("eval")
    return None


def summarize(
    records: list[dict[str, Any]], scenario: str, trials: dict[str, int] | None = None
) -> dict[str, Any]:
    """One scenario's table as data.

    Args:
        records (list[dict]): The run log's records (any scenarios: ``scenario`` is picked).
        scenario (str): The scenario.
        trials (dict[str, int], optional): Finished trials per row, as the Optuna
            studies count them (`pyg_negdiff.bench.protocol.study_trials`); by
            default the trials the run log holds.

    Returns:
        dict: ``rows`` (one entry per trained and reference row), ``best_heuristic``,
        ``best_sampler``, ``budget`` and the CPU time spent.
    """
    mine = [r for r in records if r.get("scenario") == scenario]
    seeds: dict[str, dict[str, dict[int, dict[str, Any]]]] = {}
    for r in mine:
        if r["kind"] == "seed":
            seeds.setdefault(r["row"], {}).setdefault(r["selection"], {})[r["seed"]] = r
    if trials is None:
        trials = {}
        for r in mine:
            if r["kind"] == "trial":
                trials[r["row"]] = trials.get(r["row"], 0) + 1

    def val(row: str) -> float:
        return float(np.mean([r["val"]["ndcg@20"] for r in seeds[row]["iid"].values()]))

    trained = [name for name in ROWS if name in seeds and "iid" in seeds[name]]
    heuristics = [h for h in HEURISTICS if h in trained]
    best_heuristic = max(heuristics, key=val) if heuristics else None
    best_sampler = max(trained, key=val) if trained else None

    def ood_by_seed(row: str) -> dict[int, float]:
        return {s: r["test"][_ood(r)]["ndcg@20"] for s, r in seeds[row]["iid"].items()}

    def ood(row: str) -> float:
        return float(np.mean(list(ood_by_seed(row).values())))

    strongest = max(heuristics, key=ood) if heuristics else None

    rows = []
    for name in trained:
        iid = seeds[name]["iid"]
        oracle_runs = seeds[name].get("oracle", iid)
        first = next(iter(iid.values()))
        entry: dict[str, Any] = {
            "row": name,
            "kind": ROWS[name].kind,
            "seeds": sorted(iid),
            "ood_ndcg": _stat(ood_by_seed(name).values()),
            "ood_recall": _stat([r["test"][_ood(r)]["recall@20"] for r in iid.values()]),
            "iid_ndcg": _stat(
                [
                    r["test"]["test"]["ndcg@20"]
                    for r in iid.values()
                    if _ood(r) == "test_ood" and "test" in r["test"]
                ]
            ),
            "val_ndcg": _stat([r["val"]["ndcg@20"] for r in iid.values()]),
            "oracle_ndcg": _stat([_oracle_value(r) for r in oracle_runs.values()]),
            "iid_on_eval_half": _stat(
                [
                    oracle_choice(r["oracle"], r["best_epoch"]).get("eval_at")
                    for r in iid.values()
                    if r.get("oracle")
                ]
            ),
            "head@20": _stat([r["head@20"] for r in iid.values()]),
            "best_epoch": _stat([r["best_epoch"] for r in iid.values()]),
            "epochs_run": _stat([r["epochs"] for r in iid.values()]),
            "epoch_time": _stat([r["epoch_time"] for r in iid.values()]),
            "fhn_ratio": _stat([r.get("fhn_ratio") for r in iid.values()]),
            "diagnostics": {
                k: float(
                    np.mean([r["diagnostics"][k] for r in iid.values() if k in r["diagnostics"]])
                )
                for k in sorted({k for r in iid.values() for k in r.get("diagnostics", {})})
            },
            "trials": trials.get(name, 0),
            "config": {k: first["config"][k] for k in ("lr", "l2", "sampler_kwargs")},
            # what oracle selection chose instead (a diagnostic: which constants the shift wants)
            "oracle_config": {
                k: next(iter(oracle_runs.values()))["config"][k]
                for k in ("lr", "l2", "sampler_kwargs")
            },
        }
        if name != "uniform" and "uniform" in seeds:
            entry["vs_uniform"] = _paired(ood_by_seed(name), ood_by_seed("uniform"))
        if best_heuristic is not None and name != best_heuristic:
            entry["vs_best_heuristic"] = _paired(ood_by_seed(name), ood_by_seed(best_heuristic))
        if strongest is not None and name != strongest:
            entry["vs_strongest_heuristic"] = _paired(ood_by_seed(name), ood_by_seed(strongest))
        rows.append(entry)
    for ref in REFERENCES:
        refs = [r for r in mine if r["kind"] == "reference" and r["row"] == ref]
        if not refs:
            continue
        rows.append(
            {
                "row": ref,
                "kind": "reference",
                "seeds": sorted(r["seed"] for r in refs),
                "ood_ndcg": _stat([r["test"][_ood(r)]["ndcg@20"] for r in refs]),
                "ood_recall": _stat([r["test"][_ood(r)]["recall@20"] for r in refs]),
                "iid_ndcg": _stat(
                    [
                        r["test"]["test"]["ndcg@20"]
                        for r in refs
                        if _ood(r) == "test_ood" and "test" in r["test"]
                    ]
                ),
                "val_ndcg": _stat([r["val"]["ndcg@20"] for r in refs]),
                "oracle_ndcg": _stat([(r.get("oracle_scores") or {}).get("eval") for r in refs]),
                "head@20": _stat([r["head@20"] for r in refs]),
            }
        )
    runs = [r for r in mine if r["kind"] in ("trial", "seed") and not r.get("pruned")]
    budget = next((r["budget"] for r in runs), None)
    return {
        "scenario": scenario,
        "rows": rows,
        "best_heuristic": best_heuristic,
        "strongest_heuristic": strongest,
        # A comparison with "the best heuristic" needs all of them, each with its seeds.
        "heuristics_run": [h for h in heuristics if len(seeds[h]["iid"]) >= MIN_SEEDS],
        "best_sampler": best_sampler,
        "budget": budget,
        "trials_per_row": trials,
        "cpu_hours": sum(r.get("cpu_s", 0.0) for r in runs) / 3600,
        "commits": sorted({r.get("commit", "unknown") for r in mine}),
    }


def _pm(stat: Stat | None, digits: int = 4) -> str:
    return "-" if stat is None else f"{stat[0]:.{digits}f} ± {stat[1]:.{digits}f}"


def _delta(paired: dict[str, Any] | None) -> str:
    if not paired:
        return "-"
    text = f"{paired['abs'][0]:+.4f} ± {paired['abs'][1]:.4f}"
    if "rel" in paired:
        text += f" ({100 * paired['rel'][0]:+.0f}% ± {100 * paired['rel'][1]:.0f})"
    return text


def _oracle_cell(row: dict[str, Any]) -> str:
    """The oracle's score on the evaluation half, beside validation's choice scored on that half."""
    text = _pm(row.get("oracle_ndcg"))
    if row.get("iid_on_eval_half") is not None:
        text += f" (val. sel. {row['iid_on_eval_half'][0]:.4f})"
    return text


def markdown(summary: dict[str, Any]) -> str:
    """One scenario's table in Markdown (the benchmark report and the docs block)."""
    budget = summary.get("budget") or {}
    lines = [
        f"### {summary['scenario']}",
        "",
        f"Best sampler by validation: **{summary['best_sampler']}**; best heuristic (of "
        f"{', '.join(HEURISTICS)}, by validation): **{summary['best_heuristic']}**; strongest "
        f"heuristic on the OOD test (a diagnostic): **{summary.get('strongest_heuristic')}**. "
        f"Budget: up to {budget.get('epochs', '-')} epochs, patience {budget.get('patience', '-')}, "
        f"batch {budget.get('batch_size', '-')}; {summary['cpu_hours']:.2f} CPU hours.",
        "",
        "| row | OOD NDCG@20 (val. selection) | Δ vs uniform | Δ vs best heuristic "
        "| OOD NDCG@20, evaluation half: oracle selection (val. selection) | IID NDCG@20 | val NDCG@20 | OOD Recall@20 | head@20 "
        "| best epoch / run | trials | seeds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary["rows"]:
        name = r["row"] if r["kind"] != "reference" else f"*{r['row']}*"
        if r["row"] == summary["best_heuristic"]:
            name += " (best heuristic)"
        epochs = (
            "-"
            if r.get("best_epoch") is None
            else f"{r['best_epoch'][0]:.0f} / {r['epochs_run'][0]:.0f}"
        )
        head = "-" if r.get("head@20") is None else f"{r['head@20'][0]:.2f}"
        lines.append(
            f"| {name} | {_pm(r['ood_ndcg'])} | {_delta(r.get('vs_uniform'))} "
            f"| {_delta(r.get('vs_best_heuristic'))} | {_oracle_cell(r)} "
            f"| {_pm(r.get('iid_ndcg'))} | {_pm(r.get('val_ndcg'))} | {_pm(r.get('ood_recall'))} "
            f"| {head} | {epochs} | {r.get('trials', '-')} | {len(r['seeds'])} |"
        )
    diagnosed = [r for r in summary["rows"] if r.get("diagnostics")]
    if diagnosed:
        lines += [
            "",
            "Mechanism diagnostics (mean over each run's last three epochs, then over seeds): "
            "$s_{uh} \\ge s_{ui}$ is the share of synthesized negatives scored at or above the positive, "
            "σ(−margin) the mean $\\sigma(s^-_u - s_{ui})$ of the BPR negative, ‖∇e_j‖ the gradient norm "
            "reaching the real negative's row, λ the mix share, t* the chosen level.",
            "",
            "| row | s_uh ≥ s_ui | σ(−margin) | ‖∇e_j‖ | cos(h, e_i) | λ | t* | hardness |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in diagnosed:
            d = r["diagnostics"]

            def cell(key: str) -> str:
                return f"{d[key]:.3f}" if key in d else "-"

            lines.append(
                f"| {r['row']} | {cell('hard_above_pos')} | {cell('neg_sigmoid')} | {cell('neg_grad_norm')} "
                f"| {cell('cos_hard_pos')} | {cell('mix_ratio')} | {cell('hard_level')} "
                f"| {cell('hardness')} |"
            )
    return "\n".join(lines) + "\n"


def across_scenarios(
    summaries: list[dict[str, Any]], against: str = "uniform"
) -> dict[str, dict[str, Any]]:
    r"""Per row, the seed-paired relative OOD NDCG@20 difference on each scenario and their mean.

    Args:
        summaries (list[dict]): `summarize` of each scenario (real ones only, to decide).
        against (str): A key of `AGAINST`: ``"uniform"``, ``"best_heuristic"`` (chosen by
            validation) or ``"strongest_heuristic"`` (by OOD score, a diagnostic).

    Returns:
        dict: row -> ``{"per_scenario": {scenario: (mean, std, seeds)}, "mean": (mean, sem)}``;
        a scenario where the row has fewer than `MIN_SEEDS` paired seeds is left out, and,
        against a heuristic, one where not every heuristic has its seeds yet (the best of
        those run would be a weaker reference).
    """
    key = AGAINST[against]
    out: dict[str, dict[str, Any]] = {}
    for summary in summaries:
        if against != "uniform" and set(HEURISTICS) - set(
            summary.get("heuristics_run", HEURISTICS)
        ):
            continue
        for r in summary["rows"]:
            paired = r.get(key)
            if paired and "rel" in paired and paired["seeds"] >= MIN_SEEDS:
                out.setdefault(r["row"], {"per_scenario": {}})["per_scenario"][
                    summary["scenario"]
                ] = (paired["rel"][0], paired["rel"][1], paired["seeds"])
    for row, entry in out.items():
        values = list(entry["per_scenario"].values())
        n = len(values)
        entry["mean"] = (
            float(np.mean([v[0] for v in values])),
            float(math.sqrt(sum(v[1] ** 2 / v[2] for v in values)) / n),
        )
    return out


def markdown_across(summaries: list[dict[str, Any]]) -> str:
    """The cross-scenario table: relative Δ vs uniform and vs the best heuristic, per scenario and mean."""
    names = [s["scenario"] for s in summaries]
    lines = []
    titles = {
        "uniform": "uniform",
        "best_heuristic": "the best heuristic (chosen by validation)",
        "strongest_heuristic": (
            "the strongest heuristic (the one with the best OOD score: an oracle choice, a "
            "diagnostic only)"
        ),
    }
    for against, title in titles.items():
        table = across_scenarios(summaries, against)
        if not table:
            continue
        lines += [
            f"Seed-paired relative OOD NDCG@20 difference against {title} (mean over seeds, %; "
            f"a scenario counts once the row has {MIN_SEEDS} seeds there):",
            "",
            "| row | " + " | ".join(names) + " | mean ± s.e. | scenarios in the mean |",
            "|---|" + "---|" * (len(names) + 2),
        ]
        for row in ROWS:
            if row not in table:
                continue
            cells = [
                (
                    f"{100 * table[row]['per_scenario'][n][0]:+.1f}"
                    if n in table[row]["per_scenario"]
                    else "-"
                )
                for n in names
            ]
            mean = table[row]["mean"]
            lines.append(
                f"| {row} | "
                + " | ".join(cells)
                + f" | {100 * mean[0]:+.1f} ± {100 * mean[1]:.1f} "
                f"| {len(table[row]['per_scenario'])} of {len(names)} |"
            )
        lines.append("")
    return "\n".join(lines)
