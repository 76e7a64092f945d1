"""The equal-budget benchmark: scenarios, rows, the protocol, oracle selection and the report.

``pyg-negdiff bench --data ...`` runs it on any data; ``benchmarks/real_shifts.py`` runs it on
the built-in real scenarios (`REAL_SCENARIOS`) and writes the docs table.
"""

from pyg_negdiff.bench.oracle import OracleSelection, OracleTracker, oracle_choice
from pyg_negdiff.bench.protocol import Plan, RunLog, run_scenario, train_run
from pyg_negdiff.bench.report import across_scenarios, markdown, markdown_across, summarize
from pyg_negdiff.bench.rows import DEFAULT_ROWS, HEURISTICS, REFERENCES, ROWS, Row, resolve_rows
from pyg_negdiff.bench.scenarios import REAL_SCENARIOS, SCENARIOS, Budget, Scenario

__all__ = [
    "Budget",
    "Scenario",
    "SCENARIOS",
    "REAL_SCENARIOS",
    "Row",
    "ROWS",
    "HEURISTICS",
    "DEFAULT_ROWS",
    "REFERENCES",
    "resolve_rows",
    "Plan",
    "RunLog",
    "run_scenario",
    "train_run",
    "OracleSelection",
    "OracleTracker",
    "oracle_choice",
    "summarize",
    "markdown",
    "across_scenarios",
    "markdown_across",
]
