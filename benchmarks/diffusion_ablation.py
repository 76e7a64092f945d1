"""The diffusion ablation (issue 13): every CNSDiff / ADAR variant against uniform and the
heuristic samplers, under the library's equal-budget protocol.

Every variant is a row of the library's registry (`pyg_negdiff.bench.rows.ABLATION_ROWS`: one
option changed at a time), so this script is `real_shifts.py` with the ablation's rows as its
default ``--rows`` and its own ``--out``: the same scenarios, budgets, seeds, oracle column and
reference rows, and the same options. ``real_shifts.py --rows cnsdiff-e-band ...`` runs the
same rows.

    python benchmarks/diffusion_ablation.py --scenarios coat ml-100k-temporal
    python benchmarks/diffusion_ablation.py --report --out benchmarks/results/ablation-real

``--report`` on ``benchmarks/results/ablation`` (the archived runs of issue 13, made before the
library's protocol existed, in a record format of their own) regenerates ``ablation.md``,
``ablation.json`` and, with ``--docs docs/benchmarks.md``, the page's ablation block from those
logs (`ablation_archive`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from pyg_negdiff.bench.rows import ABLATION_ROWS, HEURISTICS

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ablation_archive  # noqa: E402
from real_shifts import build_parser, execute  # noqa: E402

#: The rows run by default: each variant against uniform and the heuristics.
DEFAULT_ROWS = ("uniform", *HEURISTICS, *ABLATION_ROWS)


def main(argv: list[str] | None = None) -> None:
    parser = build_parser(
        __doc__.split("\n\n")[0], rows=DEFAULT_ROWS, out="benchmarks/results/ablation-real"
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    if ablation_archive.is_archive(out):
        if not args.report:
            parser.error(f"{out} holds the archived issue-13 runs: run into another --out")
        print(ablation_archive.write_report(out, Path(args.docs) if args.docs else None))
        return
    execute(args, markers=(ablation_archive.DOC_START, ablation_archive.DOC_END))


if __name__ == "__main__":
    main()
