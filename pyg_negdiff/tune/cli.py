"""``pyg-negdiff tune`` (one study, any number of workers) and ``pyg-negdiff run`` (the main job)."""
from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import Any

import optuna

__all__ = ["add_tune_commands", "cmd_tune", "cmd_run"]

#: Test parts shown by ``run``: the IID test (training distribution) and the shifted one.
PARTS = {"test": "IID", "test_ood": "OOD"}


def _storage_label(url: str | None) -> str:
    from pyg_negdiff.tune.study import DEFAULT_DB

    url = url or f"sqlite:///{DEFAULT_DB}"
    scheme, sep, rest = url.partition("://")
    # Never print a password: hide everything up to the last "@" (a password may hold "@"
    # or "/"), and a password given as a query parameter.
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    rest = re.sub(r"(?i)([?&]password=)[^&]*", r"\1***", rest)
    return scheme + sep + rest


def _open_study(args: argparse.Namespace, name: str, attrs: dict[str, Any], n_startup_trials: int = 10):
    """Loads or creates the study, checks that it is about ``attrs``, prints its state."""
    from pyg_negdiff.tune.study import check_study_attrs, finished_trials, load_study, running_trials

    sampler_seed = args.seed if args.sampler_seed is None else args.sampler_seed
    study = load_study(name, args.storage, seed=sampler_seed, pruner=args.pruner, pruner_warmup=args.pruner_warmup,
                       n_startup_trials=n_startup_trials, heartbeat_interval=args.heartbeat_interval,
                       grace_period=args.grace_period)
    check_study_attrs(study, attrs)
    done = finished_trials(study)
    where = _storage_label(args.storage)
    if done >= args.trials:
        print(f"study {name!r} in {where}: resuming, it already holds {done} finished trials "
              f"(requested {args.trials}); nothing left to run")
    elif done or study.trials:
        print(f"study {name!r} in {where}: resuming, {done} of {args.trials} trials already finished")
    else:
        print(f"study {name!r} in {where}: new, {args.trials} trials")
    running = running_trials(study)
    if running:
        print(f"note: trial(s) {[t.number for t in running]} are RUNNING: another worker is running "
              f"them, or a killed worker left them; the latter become FAIL (and are re-queued) once "
              f"their heartbeat is {args.grace_period} s old")
    return study


def _data_attrs(args: argparse.Namespace) -> dict[str, Any]:
    return {"data": str(args.data), "shift": args.shift, "data_seed": args.seed}


def cmd_tune(args: argparse.Namespace) -> int:
    """Runs (or resumes, or joins) one study and exports its best parameters."""
    from pyg_negdiff.cli import format_table, load_data, run_config_from_args
    from pyg_negdiff.tune.objective import Objective
    from pyg_negdiff.tune.space import SearchSpace
    from pyg_negdiff.tune.study import export_best, run_study

    optuna.logging.set_verbosity(optuna.logging.INFO if args.verbose else optuna.logging.WARNING)
    space = SearchSpace(args.model, args.sampler, tune_penalty=args.tune_penalty,
                        tune_size=not args.fixed_size)
    base = run_config_from_args(args)
    name = args.study_name or f"{Path(args.data).name}-{args.shift}-{args.model}-{args.sampler}"
    study = _open_study(args, name, {**_data_attrs(args), "model": args.model, "sampler": args.sampler,
                                     "tune_penalty": args.tune_penalty, "fixed_size": args.fixed_size})
    data = load_data(args)
    print(data.summary())
    run_study(study, Objective(data, space, base), args.trials, show_progress_bar=not args.no_progress)
    export = args.export or Path("runs") / f"{name}.best.json"
    best = export_best(study, export)
    print(f"\nbest trial #{best['trial']}: val {base.monitor} = {best['value']:.4f} "
          f"({best['finished_trials']} finished trials)")
    print(f"params: {best['params']}")
    if best["test"]:  # read at the best validation epoch, never used to choose
        print(format_table(best["test"], ["recall@20", "ndcg@20", "recall@10", "ndcg@10"]))
    print(f"best parameters and configuration written to {export}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """The main job: tune a sampler on the bundled data, re-train the best, compare with uniform."""
    from pyg_negdiff.cli import format_table, load_data
    from pyg_negdiff.experiment import RunConfig, run
    from pyg_negdiff.tune.objective import Objective
    from pyg_negdiff.tune.space import SearchSpace
    from pyg_negdiff.tune.study import export_best, finished_trials, run_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.perf_counter()
    space = SearchSpace(args.model, args.sampler, tune_size=False)
    base = RunConfig(model=args.model, embedding_dim=args.embedding_dim, num_layers=args.num_layers,
                     sampler=args.sampler, lr=1e-2, l2=1e-4, batch_size=args.batch_size,
                     epochs=args.epochs, patience=args.patience, seed=args.seed)
    name = args.study_name or f"run-{Path(args.data).name}-{args.shift}-{args.model}-{args.sampler}"
    study = _open_study(args, name, {**_data_attrs(args), "model": args.model, "sampler": args.sampler,
                                     "embedding_dim": args.embedding_dim, "num_layers": args.num_layers,
                                     "epochs": args.epochs}, n_startup_trials=max(2, args.trials // 2))
    data = load_data(args)
    print(data.summary())
    if finished_trials(study) < args.trials:
        print(f"tuning lr, l2 and the constants of {args.sampler!r} on validation NDCG@20 "
              f"({args.model}, dim {args.embedding_dim}, {args.num_layers} layers, <= {args.epochs} epochs)")
    run_study(study, Objective(data, space, base), args.trials, show_progress_bar=not args.no_progress)
    out = Path(args.out)
    best = export_best(study, out / f"{name}.best.json")
    print(f"best trial #{best['trial']} (val ndcg@20 {best['value']:.4f}): "
          + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in best["params"].items()))

    tuned = RunConfig.from_dict(best["config"])
    # The baseline keeps every tuned setting and swaps the sampler only.
    baseline = RunConfig.from_dict({**best["config"], "sampler": "uniform", "sampler_kwargs": {}})
    rows: dict[str, dict[str, float]] = {}
    for label, config in ((f"{args.sampler} (tuned)", tuned), ("uniform (same lr/l2)", baseline)):
        print(f"re-training {label} ...")
        result = run(config, data, progress=not args.no_progress)
        rows[label] = {f"{PARTS.get(part, part)} {metric}": value
                       for part, metrics in result.test.items()
                       for metric, value in metrics.items() if metric in ("recall@20", "ndcg@20")}
    columns = [f"{p} {m}" for p in PARTS.values() for m in ("recall@20", "ndcg@20")]
    print()
    print(format_table(rows, [c for c in columns if any(c in r for r in rows.values())]))
    print(f"\nIID: test drawn like the training data; OOD: the shifted test. "
          f"Best configuration in {out / f'{name}.best.json'}. Done in {time.perf_counter() - start:.0f} s.")
    print("Re-running this command resumes the study; pass --trials N to extend it.")
    return 0


def _add_study_arguments(parser: argparse.ArgumentParser, trials: int, warmup: int) -> None:
    parser.add_argument("--trials", type=int, default=trials,
                        help=f"finished (complete or pruned) trials the study should hold (default: {trials})")
    parser.add_argument("--storage", default=None,
                        help="RDB URL shared by all workers, e.g. postgresql+psycopg2://user@host/db "
                             "(default: sqlite:///runs/pyg_negdiff.db)")
    parser.add_argument("--study-name", default=None, help="the study to create or resume")
    parser.add_argument("--pruner", default="median", choices=["median", "hyperband", "none"],
                        help="Optuna pruner over the per-epoch validation NDCG@20 (default: median)")
    parser.add_argument("--pruner-warmup", type=int, default=warmup,
                        help=f"epochs before a trial can be pruned (default: {warmup})")
    parser.add_argument("--sampler-seed", type=int, default=None,
                        help="seed of Optuna's TPE sampler (default: --seed); give each parallel "
                             "worker its own, and the same --seed (it also seeds the data split)")
    parser.add_argument("--heartbeat-interval", type=int, default=10,
                        help="seconds between heartbeats of a running trial (default: 10)")
    parser.add_argument("--grace-period", type=int, default=30,
                        help="seconds without heartbeat before a killed worker's trial is failed "
                             "and re-queued (default: 30)")


def add_tune_commands(sub: argparse._SubParsersAction) -> None:
    """Adds ``tune`` and ``run`` to the ``pyg-negdiff`` command."""
    from pyg_negdiff.cli import add_data_arguments, add_run_arguments

    tune = sub.add_parser("tune", help="run, resume or join an Optuna study for one sampler and backbone",
                          description="Tunes one (data, shift, backbone, sampler) on validation NDCG@20. "
                                      "Several workers given the same --storage and --study-name share "
                                      "the study; re-running resumes it.")
    add_data_arguments(tune)
    add_run_arguments(tune)
    _add_study_arguments(tune, trials=20, warmup=5)
    tune.add_argument("--tune-penalty", action="store_true",
                      help="also tune the environment penalty weight and environment count")
    tune.add_argument("--fixed-size", action="store_true",
                      help="keep --dim and --layers; tune only lr, l2 and the sampler's constants")
    tune.add_argument("--export", default=None,
                      help="JSON file for the best parameters (default: runs/<study>.best.json)")
    tune.add_argument("--verbose", action="store_true", help="Optuna's per-trial log lines")
    tune.set_defaults(func=cmd_tune)

    main = sub.add_parser("run", help="the main job: tune a sampler on the bundled synthetic data, "
                                      "re-train the best, compare with uniform on IID and OOD tests",
                          description="A small Optuna study (SQLite, resumable), then the best "
                                      "configuration re-trained and compared with uniform sampling.")
    add_data_arguments(main)
    main.add_argument("--model", default="lightgcn", choices=["lightgcn", "ngcf", "mf"])
    main.add_argument("--sampler", default="cnsdiff")
    main.add_argument("--dim", dest="embedding_dim", type=int, default=32)
    main.add_argument("--layers", dest="num_layers", type=int, default=2)
    main.add_argument("--epochs", type=int, default=40)
    main.add_argument("--patience", type=int, default=8,
                      help="validations without improvement before a run stops (default: 8)")
    main.add_argument("--batch-size", type=int, default=4096)
    _add_study_arguments(main, trials=10, warmup=12)
    main.add_argument("--out", default="runs", help="folder of the exported best configuration")
    main.add_argument("--no-progress", action="store_true", help="hide progress bars")
    main.set_defaults(func=cmd_run)
