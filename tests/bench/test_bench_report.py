import math

import pytest

from pyg_negdiff.bench.report import across_scenarios, markdown, markdown_across, summarize


def seed_record(row, seed, ood, val, iid=0.1, scenario="s"):
    return {
        "scenario": scenario,
        "kind": "seed",
        "row": row,
        "selection": "iid",
        "seed": seed,
        "val": {"ndcg@20": val},
        "test": {
            "test": {"ndcg@20": iid, "recall@20": iid},
            "test_ood": {"ndcg@20": ood, "recall@20": 2 * ood},
        },
        "best_epoch": 5,
        "epochs": 12,
        "epoch_time": 0.1,
        "head@20": 0.3,
        "diagnostics": {},
        "oracle": {"epoch": [0, 5], "select": [0.1, 0.2], "eval": [ood / 2, ood]},
        "config": {"lr": 1e-3, "l2": 1e-4, "sampler_kwargs": {}},
        "budget": {"epochs": 12},
        "cpu_s": 36.0,
    }


RECORDS = (
    [seed_record("uniform", s, ood, 0.30) for s, ood in enumerate([0.10, 0.20, 0.30])]
    # dns: best heuristic by validation although its test is worse than popularity's
    + [seed_record("dns", s, ood, 0.35) for s, ood in enumerate([0.11, 0.18, 0.33])]
    + [seed_record("popularity", s, ood, 0.20) for s, ood in enumerate([0.20, 0.40, 0.60])]
    + [seed_record("cnsdiff", s, ood, 0.25) for s, ood in enumerate([0.12, 0.22, 0.30])]
    # the other two heuristics: worse on validation and on the test
    + [seed_record(h, s, 0.01, 0.1) for h in ("mixgcf", "ahns") for s in range(3)]
    + [
        {
            "scenario": "s",
            "kind": "reference",
            "row": "popularity ranking",
            "seed": 0,
            "val": {"ndcg@20": 0.05},
            "test": {
                "test": {"ndcg@20": 0.2, "recall@20": 0.2},
                "test_ood": {"ndcg@20": 0.0, "recall@20": 0.0},
            },
            "head@20": 1.0,
            "oracle_scores": {"select": 0.0, "eval": 0.0},
        }
    ]
    + [{"scenario": "s", "kind": "trial", "row": "dns", "cpu_s": 72.0}]
)


def test_best_heuristic_is_chosen_on_validation_not_on_the_test():
    summary = summarize(RECORDS, "s")
    assert summary["best_heuristic"] == "dns"
    assert summary["best_sampler"] == "dns"
    assert summary["cpu_hours"] == pytest.approx((18 * 36.0 + 72.0) / 3600)


def test_paired_differences_equal_a_naive_per_seed_loop():
    rows = {r["row"]: r for r in summarize(RECORDS, "s")["rows"]}
    c, u, h = [0.12, 0.22, 0.30], [0.10, 0.20, 0.30], [0.11, 0.18, 0.33]
    diffs = [a - b for a, b in zip(c, u)]
    mean = sum(diffs) / 3
    std = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 3)
    assert rows["cnsdiff"]["vs_uniform"]["abs"] == pytest.approx((mean, std))
    rel = [(a - b) / b for a, b in zip(c, h)]
    assert rows["cnsdiff"]["vs_best_heuristic"]["rel"][0] == pytest.approx(sum(rel) / 3)
    assert "vs_best_heuristic" not in rows["dns"]  # not against itself
    assert rows["cnsdiff"]["oracle_ndcg"][0] == pytest.approx(sum(c) / 3)
    assert rows["popularity ranking"]["kind"] == "reference"


def test_markdown_has_reference_rows_and_both_selection_columns():
    text = markdown(summarize(RECORDS, "s"))
    assert "*popularity ranking*" in text and "dns (best heuristic)" in text
    assert "oracle selection" in text and "val. selection" in text
    assert "Best sampler by validation: **dns**" in text


def test_across_scenarios_mean_and_standard_error():
    a = summarize(RECORDS, "s")
    b = summarize([{**r, "scenario": "t"} for r in RECORDS], "t")
    table = across_scenarios([a, b])
    per = next(r for r in a["rows"] if r["row"] == "cnsdiff")["vs_uniform"]["rel"]
    assert table["cnsdiff"]["mean"][0] == pytest.approx(per[0])
    assert table["cnsdiff"]["mean"][1] == pytest.approx(math.sqrt(2 * per[1] ** 2 / 3) / 2)
    assert "| cnsdiff |" in markdown_across([a, b])


def test_run_log_drops_a_partial_last_line_and_appends_after_it(tmp_path):
    from pyg_negdiff.bench.protocol import RunLog

    path = tmp_path / "runs.jsonl"
    path.write_text('{"kind": "seed", "seed": 0}\n{"kind": "se')  # killed mid-write
    log = RunLog(path)
    assert log.records == [{"kind": "seed", "seed": 0}]
    log.append({"kind": "seed", "seed": 1})
    assert [r["seed"] for r in RunLog(path).records] == [0, 1]
    path.write_text(
        '{"kind": "se\n{"kind": "seed", "seed": 0}\n'
    )  # damage inside the file is refused
    with pytest.raises(ValueError, match="line 1 is not JSON"):
        RunLog(path)


def test_the_strongest_heuristic_is_the_best_on_the_test_and_only_a_diagnostic():
    summary = summarize(RECORDS, "s")
    # validation picks dns; the OOD test is best for popularity
    assert (summary["best_heuristic"], summary["strongest_heuristic"]) == ("dns", "popularity")
    cns = next(r for r in summary["rows"] if r["row"] == "cnsdiff")
    naive = [(c - p) / p for c, p in zip([0.12, 0.22, 0.30], [0.20, 0.40, 0.60])]
    assert cns["vs_strongest_heuristic"]["rel"][0] == pytest.approx(sum(naive) / 3)
    table = across_scenarios([summary], "strongest_heuristic")
    assert "popularity" not in table and table["cnsdiff"]["mean"][0] == pytest.approx(
        sum(naive) / 3
    )
    assert "strongest heuristic" in markdown_across([summary])


def test_a_row_with_fewer_than_three_seeds_stays_out_of_the_cross_scenario_mean():
    partial = [r for r in RECORDS if not (r.get("row") == "cnsdiff" and r.get("seed") == 2)]
    table = across_scenarios([summarize(partial, "s")], "uniform")
    assert "cnsdiff" not in table and "dns" in table


def test_a_scenario_without_every_heuristic_stays_out_of_the_heuristic_means():
    partial = [r for r in RECORDS if r.get("row") != "ahns"]
    summary = summarize(partial, "s")
    assert summary["heuristics_run"] == ["popularity", "dns", "mixgcf"]
    assert across_scenarios([summary], "best_heuristic") == {}
    assert across_scenarios([summary], "strongest_heuristic") == {}
    assert "cnsdiff" in across_scenarios([summary], "uniform")
