"""``pyg-negdiff tune`` (one study, any number of workers) and ``pyg-negdiff run`` (the main job).

The command-line side of `pyg_negdiff.tune` (search spaces, objective, studies), which
imports nothing from here.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

from pyg_negdiff.cli.checks import check_export, check_run_samplers, refuse_tuned_settings
from pyg_negdiff.cli.common import (
    CommandError,
    add_data_arguments,
    add_run_arguments,
    format_table,
    load_data,
    run_config_from_args,
)

__all__ = ["add_tune_commands", "cmd_tune", "cmd_run"]

#: Test parts shown by ``run``: the IID test (training distribution) and the shifted one.
PARTS = {"test": "IID", "test_ood": "OOD"}


def _storage_label(url: str | None) -> str:
    from pyg_negdiff.tune.study import DEFAULT_DB, mask_url

    return mask_url(url or f"sqlite:///{DEFAULT_DB}")  # never print a password


def _open_study(
    args: argparse.Namespace, name: str, attrs: dict[str, Any], n_startup_trials: int = 10
):
    """Loads or creates the study, checks that it is about ``attrs``, prints its state."""
    from pyg_negdiff.tune.study import (
        check_study_attrs,
        finished_trials,
        load_study,
        running_trials,
    )

    for option, value, low in (
        ("--trials", args.trials, 1),
        ("--pruner-warmup", args.pruner_warmup, 0),
        ("--heartbeat-interval", args.heartbeat_interval, 1),
    ):
        if value < low:
            raise CommandError(f"{option} {value}: must be an integer >= {low}")
    sampler_seed = args.seed if args.sampler_seed is None else args.sampler_seed
    study = load_study(
        name,
        args.storage,
        seed=sampler_seed,
        pruner=args.pruner,
        pruner_warmup=args.pruner_warmup,
        n_startup_trials=n_startup_trials,
        heartbeat_interval=args.heartbeat_interval,
        grace_period=args.grace_period,
    )
    check_study_attrs(study, attrs)
    done = finished_trials(study)
    where = _storage_label(args.storage)
    if done >= args.trials:
        print(
            f"study {name!r} in {where}: resuming, it already holds {done} finished trials "
            f"(requested {args.trials}); nothing left to run"
        )
    elif done or study.trials:
        print(
            f"study {name!r} in {where}: resuming, {done} of {args.trials} trials already finished"
        )
    else:
        print(f"study {name!r} in {where}: new, {args.trials} trials")
    running = running_trials(study)
    if running:
        print(
            f"note: trial(s) {[t.number for t in running]} are RUNNING: another worker is running "
            f"them, or a killed worker left them; the latter become FAIL (and are re-queued) once "
            f"their heartbeat is {args.grace_period} s old"
        )
    return study


def _data_attrs(args: argparse.Namespace) -> dict[str, Any]:
    return {"data": str(args.data), "shift": args.shift, "data_seed": args.seed}


def _no_traceback(record: logging.LogRecord) -> bool:
    # "Trial 3 failed ...": the line, not the traceback.
    record.exc_info, record.exc_text = None, None
    return True


def _optuna_logging(args: argparse.Namespace, level: int) -> None:
    """Optuna's log at ``level``; a failed trial logs one line (its traceback only with ``--debug``)."""
    import optuna  # here, not at the top: ``--help`` must not import it

    optuna.logging.set_verbosity(level)
    # On the logger that reports failed trials: Optuna swaps its handlers for the progress bar.
    source = logging.getLogger("optuna.study._optimize")
    if args.debug:
        source.removeFilter(_no_traceback)
    else:
        source.addFilter(_no_traceback)


def _fixed_settings(base, space) -> dict[str, Any]:
    """The settings that change a study's objective without being tuned: a resume must keep them."""
    tuned = {"lr", "l2", "seed", "device", "model", "sampler"}
    if space.tune_size:
        tuned |= {"embedding_dim", "num_layers"}
    if space.tune_penalty:
        tuned |= {"penalty_weight", "num_environments"}
    return {k: v for k, v in base.to_dict().items() if k not in tuned}


def _run_study(study: optuna.Study, objective, args: argparse.Namespace) -> None:
    """`run_study`, with Ctrl-C saying what the study kept."""
    from pyg_negdiff.tune.study import finished_trials, run_study

    try:
        run_study(study, objective, args.trials, show_progress_bar=not args.no_progress)
    except (KeyboardInterrupt, Exception) as exc:
        # A Ctrl-C that lands in Optuna's own bookkeeping after a trial can surface as another
        # error raised while handling it (its "Should not reach." assertion): still a Ctrl-C.
        if not _caused_by_interrupt(exc):
            raise
        raise KeyboardInterrupt(
            f"during tuning; study {study.study_name!r} keeps its {finished_trials(study)} finished trials "
            f"(the interrupted one is not among them): rerun the same command to resume"
        ) from None


def _caused_by_interrupt(exc: BaseException | None) -> bool:
    """Whether ``exc`` is a KeyboardInterrupt or was raised while one was being handled."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def cmd_tune(args: argparse.Namespace) -> int:
    """Runs (or resumes, or joins) one study and exports its best parameters."""
    from pyg_negdiff.tune.objective import Objective
    from pyg_negdiff.tune.space import SearchSpace
    from pyg_negdiff.tune.study import export_best, refuse_distributed

    refuse_distributed()  # under torchrun: before any storage, data or process group
    _optuna_logging(args, logging.INFO if args.verbose else logging.WARNING)
    space = SearchSpace(
        args.model, args.sampler, tune_penalty=args.tune_penalty, tune_size=not args.fixed_size
    )
    base = run_config_from_args(args, tuned_penalty=args.tune_penalty)
    refuse_tuned_settings(args, space, base)
    name = args.study_name or f"{Path(args.data).name}-{args.shift}-{args.model}-{args.sampler}"
    export = check_export(
        Path(args.export or Path("runs") / f"{name}.best.json"), "--export", name, args.overwrite
    )
    study = _open_study(
        args,
        name,
        {
            **_data_attrs(args),
            "model": args.model,
            "sampler": args.sampler,
            "tune_penalty": args.tune_penalty,
            "fixed_size": args.fixed_size,
            **_fixed_settings(base, space),
        },
    )
    data = load_data(args)
    print(data.summary())
    _run_study(study, Objective(data, space, base), args)
    best = export_best(study, export)
    print(
        f"\nbest trial #{best['trial']}: val {base.monitor} = {best['value']:.4f} "
        f"({best['finished_trials']} finished trials)"
    )
    print(f"params: {best['params']}")
    if best["test"]:  # read at the best validation epoch, never used to choose
        print(format_table(best["test"], ["recall@20", "ndcg@20", "recall@10", "ndcg@10"]))
    print(f"best parameters and configuration written to {export}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """The main job: tune the backbone once, then compare the diffusion samplers at their defaults
    with uniform and the best heuristic, all with the same learning rate and L2 weight."""
    from pyg_negdiff.experiment import RunConfig, make_trainer
    from pyg_negdiff.tune.objective import Objective
    from pyg_negdiff.tune.space import backbone_space
    from pyg_negdiff.tune.study import export_best, finished_trials, refuse_distributed

    refuse_distributed()  # under torchrun: before any storage, data or process group
    _optuna_logging(args, logging.WARNING)
    start = time.perf_counter()
    base = RunConfig(
        model=args.model,
        embedding_dim=args.embedding_dim,
        num_layers=args.num_layers,
        sampler="uniform",
        lr=1e-2,
        l2=1e-4,
        batch_size=args.batch_size,
        epochs=args.epochs,
        patience=args.patience,
        seed=args.seed,
    ).validate()
    check_run_samplers(args)  # before the study: a typo must not cost four trained samplers
    name = args.study_name or f"run-{Path(args.data).name}-{args.shift}-{args.model}-backbone"
    check_export(Path(args.out) / f"{name}.best.json", "--out", name, args.overwrite)
    study = _open_study(
        args,
        name,
        {
            **_data_attrs(args),
            "model": args.model,
            "sampler": "uniform",
            "embedding_dim": args.embedding_dim,
            "num_layers": args.num_layers,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "patience": args.patience,
        },
        n_startup_trials=max(2, args.trials // 2),
    )
    data = load_data(args)
    print(data.summary())
    if "test_ood" not in data.parts:  # the table would compare IID scores under OOD's name
        print(
            f"pyg-negdiff: note: --shift {args.shift}: {data.name} has no shifted (OOD) test "
            f"part, so the table shows the IID test only and 'vs' compares IID scores; for an "
            f"OOD test pass --shift popularity, longtail, temporal or exposure",
            file=sys.stderr,
        )
    if finished_trials(study) < args.trials:
        print(
            f"tuning lr and l2 with uniform negatives on validation NDCG@20 "
            f"({args.model}, dim {args.embedding_dim}, {args.num_layers} layers, <= {args.epochs} epochs)"
        )
    space = lambda trial: backbone_space(trial, args.model, tune_size=False)  # noqa: E731
    _run_study(study, Objective(data, space, base), args)
    out = Path(args.out)
    best = export_best(study, out / f"{name}.best.json")
    lr, l2 = best["config"]["lr"], best["config"]["l2"]
    print(
        f"best trial #{best['trial']} (val ndcg@20 {best['value']:.4f}): lr={lr:.3g}, l2={l2:.3g}"
    )

    ood = "test_ood" if "test_ood" in data.parts else "test"
    results: dict[str, dict[str, float]] = {}
    for sampler in ["uniform", *args.heuristics, *args.samplers]:
        print(f"training {sampler} (default constants, lr={lr:.3g}, l2={l2:.3g}) ...")
        trainer = make_trainer(
            RunConfig.from_dict({**base.to_dict(), "sampler": sampler, "lr": lr, "l2": l2}),
            data,
            progress=not args.no_progress,
        )
        result = trainer.fit()
        row = {"val ndcg@20": result.best_val.get("ndcg@20", float("nan"))}
        row.update(
            {
                f"{PARTS.get(part, part)} {metric}": value
                for part, metrics in result.test.items()
                for metric, value in metrics.items()
                if metric in ("recall@20", "ndcg@20")
            }
        )
        row["head@20"] = trainer.evaluator.head_share(trainer.embeddings(), ood)
        results[sampler] = row
    best_heuristic = (
        max(args.heuristics, key=lambda h: results[h]["val ndcg@20"]) if args.heuristics else None
    )
    key = f"{PARTS.get(ood, ood)} ndcg@20"
    for sampler in args.samplers:
        results[sampler]["vs uniform"] = results[sampler][key] - results["uniform"][key]
        if best_heuristic is not None:
            results[sampler]["vs best heuristic"] = (
                results[sampler][key] - results[best_heuristic][key]
            )
    rows = {(f"{s} (best heuristic)" if s == best_heuristic else s): r for s, r in results.items()}
    # Reference rows: a model below the popularity ranking has learned little beyond popularity.
    from pyg_negdiff.bench.rows import REFERENCES

    for name, ranker in REFERENCES.items():
        emb = ranker(data, args.seed)
        row = (
            {"val ndcg@20": trainer.evaluator.evaluate(emb, "val")["ndcg@20"]}
            if "val" in data.parts
            else {}
        )
        row.update(
            {
                f"{PARTS.get(part, part)} {metric}": value
                for part in data.eval_parts
                if part != "val"
                for metric, value in trainer.evaluator.evaluate(emb, part).items()
                if metric in ("recall@20", "ndcg@20")
            }
        )
        row["head@20"] = trainer.evaluator.head_share(emb, ood)
        rows[f"({name})"] = row
    columns = ["val ndcg@20"] + [
        f"{p} {m}" for p in PARTS.values() for m in ("recall@20", "ndcg@20")
    ]
    columns += ["head@20", "vs uniform", "vs best heuristic"]
    print()
    print(format_table(rows, [c for c in columns if any(c in r for r in rows.values())]))
    print(
        f"\nIID: test drawn like the training data; OOD: the shifted test. head@20: share of the top-20 "
        f"lists taken by the 10% most popular items; rows in brackets are rankings without a model. vs: {key} difference (one seed: see the benchmarks "
        f"page for the seeded comparison). The best heuristic is chosen on validation NDCG@20. "
        f"Done in {time.perf_counter() - start:.0f} s."
    )
    print("Re-running this command resumes the study; pass --trials N to extend it.")
    return 0


def _add_study_arguments(parser: argparse.ArgumentParser, trials: int, warmup: int) -> None:
    parser.add_argument(
        "--trials",
        type=int,
        default=trials,
        help=f"finished (complete or pruned) trials the study should hold, counted over all "
        f"workers (default: {trials})",
    )
    parser.add_argument(
        "--storage",
        default=None,
        help="RDB URL shared by all workers, e.g. postgresql+psycopg2://user@host/db "
        "(default: sqlite:///runs/pyg_negdiff.db)",
    )
    parser.add_argument("--study-name", default=None, help="the study to create or resume")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing export file that is not this study's own earlier export",
    )
    parser.add_argument(
        "--pruner",
        default="median",
        choices=["median", "hyperband", "none"],
        help="Optuna pruner over the per-epoch validation NDCG@20 (default: median)",
    )
    parser.add_argument(
        "--pruner-warmup",
        type=int,
        default=warmup,
        help=f"epochs before a trial can be pruned (default: {warmup})",
    )
    parser.add_argument(
        "--sampler-seed",
        type=int,
        default=None,
        help="seed of Optuna's TPE sampler (default: --seed); give each parallel "
        "worker its own, and the same --seed (it also seeds the data split)",
    )
    parser.add_argument(
        "--heartbeat-interval",
        type=int,
        default=10,
        help="seconds between heartbeats of a running trial (default: 10)",
    )
    parser.add_argument(
        "--grace-period",
        type=int,
        default=30,
        help="seconds without heartbeat before a killed worker's trial is failed "
        "and re-queued (default: 30)",
    )


def add_tune_commands(sub: argparse._SubParsersAction) -> None:
    """Adds ``tune`` and ``run`` to the ``pyg-negdiff`` command."""
    tune = sub.add_parser(
        "tune",
        help="run, resume or join an Optuna study for one sampler and backbone",
        description="Tunes one (data, shift, backbone, sampler) on validation NDCG@20. "
        "Several workers given the same --storage and --study-name share "
        "the study; re-running resumes it.",
    )
    add_data_arguments(tune)
    add_run_arguments(tune)
    _add_study_arguments(tune, trials=20, warmup=5)
    tune.add_argument(
        "--tune-penalty",
        action="store_true",
        help="also tune the environment penalty weight and environment count",
    )
    tune.add_argument(
        "--fixed-size",
        action="store_true",
        help="keep --dim and --layers; tune only lr, l2 and the sampler's constants",
    )
    tune.add_argument(
        "--export",
        default=None,
        help="JSON file for the best parameters (default: runs/<study>.best.json)",
    )
    tune.add_argument("--verbose", action="store_true", help="Optuna's per-trial log lines")
    tune.set_defaults(func=cmd_tune)

    main = sub.add_parser(
        "run",
        help="the main job: tune the backbone on the bundled synthetic data, then "
        "compare CNSDiff and ADAR with uniform and the best heuristic",
        description="A small Optuna study of the learning rate and L2 weight with uniform "
        "negatives (SQLite, resumable), then CNSDiff and ADAR at their defaults "
        "compared with uniform and the best heuristic (chosen on validation) "
        "on the IID and OOD tests.",
    )
    from pyg_negdiff.cli.names import MODELS

    add_data_arguments(main)
    main.add_argument("--model", default="lightgcn", choices=list(MODELS))
    main.add_argument(
        "--samplers",
        nargs="+",
        default=["cnsdiff", "adar"],
        help="samplers compared at their default constants (default: cnsdiff adar)",
    )
    from pyg_negdiff.cli.names import HEURISTICS

    main.add_argument(
        "--heuristics",
        nargs="*",
        default=list(HEURISTICS),
        help="heuristic samplers, the best of which (on validation) is the reference "
        f"(default: {' '.join(HEURISTICS)})",
    )
    main.add_argument("--dim", dest="embedding_dim", type=int, default=32)
    main.add_argument("--layers", dest="num_layers", type=int, default=2)
    main.add_argument("--epochs", type=int, default=40)
    main.add_argument(
        "--patience",
        type=int,
        default=8,
        help="validations without improvement before a run stops (default: 8)",
    )
    main.add_argument("--batch-size", type=int, default=4096)
    _add_study_arguments(main, trials=10, warmup=12)
    main.add_argument("--out", default="runs", help="folder of the exported best configuration")
    main.add_argument("--no-progress", action="store_true", help="hide progress bars")
    main.set_defaults(func=cmd_run)
