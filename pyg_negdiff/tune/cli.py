"""``pyg-negdiff tune`` (one study) and ``pyg-negdiff run`` (the main job on the bundled data)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import optuna


def _study_name(args: argparse.Namespace) -> str:
    return args.study_name or f"{Path(args.data).name}-{args.shift}-{args.model}-{args.sampler}"


def cmd_tune(args: argparse.Namespace) -> int:
    from pyg_negdiff.cli import format_table, load_data, run_config_from_args
    from pyg_negdiff.tune.objective import Objective
    from pyg_negdiff.tune.space import SearchSpace
    from pyg_negdiff.tune.study import export_best, finished_trials, load_study, run_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = load_data(args)
    print(data.summary())
    study = load_study(_study_name(args), args.storage, seed=args.seed, pruner=args.pruner)
    done = finished_trials(study)
    if done:
        print(f"resuming study {study.study_name!r}: {done} of {args.trials} trials already finished")
    space = SearchSpace(args.model, args.sampler, tune_penalty=args.tune_penalty)
    run_study(study, Objective(data, space, run_config_from_args(args)), args.trials,
              show_progress_bar=not args.no_progress)
    best = export_best(study, args.export or f"runs/{study.study_name}.best.json")
    print(f"\nbest trial #{best['trial']}: val {args.monitor_name} = {best['value']:.4f}")
    print(f"params: {best['params']}")
    print(format_table(best["test"]))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Tune the sampler on the data, re-train the best configuration, compare with uniform."""
    from pyg_negdiff.cli import format_table, load_data
    from pyg_negdiff.experiment import RunConfig, run
    from pyg_negdiff.tune.objective import Objective
    from pyg_negdiff.tune.space import SearchSpace
    from pyg_negdiff.tune.study import export_best, finished_trials, load_study, run_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.perf_counter()
    data = load_data(args)
    print(data.summary())
    base = RunConfig(model="lightgcn", embedding_dim=32, num_layers=2, sampler=args.sampler, lr=5e-3,
                     l2=1e-4, batch_size=2048, epochs=args.epochs, patience=5, seed=args.seed)
    name = args.study_name or f"run-{Path(args.data).name}-{args.sampler}"
    study = load_study(name, args.storage, seed=args.seed)
    done = finished_trials(study)
    print(f"\nOptuna study {name!r} in {args.storage or 'sqlite:///runs/pyg_negdiff.db'}: "
          + (f"resuming, {done} of {args.trials} trials already finished" if done else "new"))
    # Backbone settings stay at the base values: the sampler's own constants are what is tuned.
    space = SearchSpace(base.model, args.sampler, tune_backbone=False)
    run_study(study, Objective(data, space, base), args.trials, show_progress_bar=not args.no_progress)
    best = export_best(study, Path("runs") / f"{name}.best.json")
    print(f"best trial #{best['trial']} (val ndcg@20 {best['value']:.4f}): {best['params']}")

    rows: dict[str, dict[str, float]] = {}
    for label, config in ((f"{args.sampler} (tuned)", RunConfig.from_dict(best["config"])),
                          ("uniform", RunConfig.from_dict({**base.to_dict(), "sampler": "uniform"}))):
        config.seed = args.seed
        result = run(config, data, progress=not args.no_progress)
        for part, metrics in result.test.items():
            rows[f"{label}: {part}"] = metrics
    print()
    print(format_table(rows, ["recall@20", "ndcg@20", "recall@10", "ndcg@10"]))
    print(f"\n'test' follows the training distribution; 'test_ood' is the shifted test. "
          f"Done in {time.perf_counter() - start:.0f} s.")
    return 0


def add_tune_commands(sub: argparse._SubParsersAction) -> None:
    """Adds ``tune`` and ``run`` to the ``pyg-negdiff`` command."""
    from pyg_negdiff.cli import add_data_arguments, add_run_arguments

    tune = sub.add_parser("tune", help="run (or resume) an Optuna study for one sampler and backbone")
    add_data_arguments(tune)
    add_run_arguments(tune)
    tune.add_argument("--trials", type=int, default=20, help="finished trials the study should hold")
    tune.add_argument("--storage", default=None,
                      help="RDB URL shared by all workers (default: sqlite:///runs/pyg_negdiff.db)")
    tune.add_argument("--study-name", default=None)
    tune.add_argument("--pruner", default="median", choices=["median", "hyperband", "none"])
    tune.add_argument("--tune-penalty", action="store_true", help="also tune the environment penalty")
    tune.add_argument("--export", default=None, help="JSON file for the best parameters")
    tune.set_defaults(func=cmd_tune, monitor_name="ndcg@20")

    main = sub.add_parser("run", help="the main job: tune a sampler on the bundled synthetic data, "
                                      "re-train the best, compare with uniform on IID and OOD tests")
    add_data_arguments(main)
    main.set_defaults(sampler="cnsdiff")
    main.add_argument("--sampler", default="cnsdiff")
    main.add_argument("--trials", type=int, default=6)
    main.add_argument("--epochs", type=int, default=15)
    main.add_argument("--storage", default=None)
    main.add_argument("--study-name", default=None)
    main.add_argument("--no-progress", action="store_true")
    main.set_defaults(func=cmd_run)
