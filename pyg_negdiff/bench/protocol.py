r"""The equal-budget protocol on one scenario, resumable from its run log.

Per scenario (one fixed split):

1. **Backbone once.** The learning rate and L2 weight are tuned with uniform
   negatives: ``backbone_trials`` TPE trials on validation NDCG@20, the first at
   `RunConfig`'s defaults. They are then fixed for every row.
2. **Equal budgets.** Every row with constants of its own gets the same
   ``trials`` TPE trials over them (`pyg_negdiff.bench.rows.Row.space`); the
   training budget (epochs, patience, batch) is the scenario's, for every row.
3. **Seeds.** The configuration with the best validation NDCG@20 is re-trained
   with every seed; each run reads its test parts once, at its own best
   validation epoch (*training-distribution selection*).
4. **Oracle selection** (a diagnostic, `pyg_negdiff.bench.oracle`): every run
   also scores both halves of the shifted test's users after each validation;
   the configuration (among the row's trials) and the epoch with the best score
   on the selection half are re-trained over the same seeds and scored on the
   evaluation half.
5. **Reference rows**: a popularity ranking and a random ranking, no training.

Every finished run is one JSON line of ``<out>/runs.jsonl``; the Optuna studies
live in ``<out>/optuna-journal.log`` (Optuna's `JournalStorage`, a text file),
so an interrupted benchmark resumes where it stopped and both files can be
committed as they grow.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import optuna

from pyg_negdiff.bench.oracle import OracleSelection, oracle_choice
from pyg_negdiff.bench.rows import DEFAULT_ROWS, REFERENCES, Row, resolve_rows
from pyg_negdiff.bench.scenarios import Budget
from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.experiment import RunConfig, make_trainer
from pyg_negdiff.train import NonFiniteLossError
from pyg_negdiff.metrics import Evaluator
from pyg_negdiff.tune.objective import Objective

__all__ = ["Plan", "RunLog", "run_scenario", "train_run", "backbone_space"]

#: Sampler diagnostics kept in the run log (mean over the last three epochs).
DIAGNOSTICS = (
    "hard_above_pos",
    "neg_sigmoid",
    "neg_grad_norm",
    "cos_hard_pos",
    "mix_ratio",
    "hard_level",
    "hard_distance",
    "head_share@20",
    "transition_at_1",
    "transition_at_T",
    "hardness",
)


def backbone_space(trial: optuna.Trial) -> dict[str, Any]:
    r"""The backbone's learning rate in $[3 \cdot 10^{-4}, 3 \cdot 10^{-2}]$ and L2 weight in
    $[10^{-6}, 10^{-2}]$, both log-uniform: wide enough that long, slow schedules are
    reachable (at $10^{-2}$ real data overfit within the first epochs).

    Examples:
        >>> import optuna
        >>> backbone_space(optuna.trial.FixedTrial({"lr": 1e-3, "l2": 1e-4}))
        {'lr': 0.001, 'l2': 0.0001}
    """
    return {
        "lr": trial.suggest_float("lr", 3e-4, 3e-2, log=True),
        "l2": trial.suggest_float("l2", 1e-6, 1e-2, log=True),
    }


@dataclass(frozen=True)
class Plan:
    """What to run on a scenario, and at which budget.

    Args:
        rows (tuple[str, ...]): Row names (`pyg_negdiff.bench.rows.ROWS`).
        trials (int): TPE trials per row over its own constants.
        backbone_trials (int): TPE trials of lr and L2 with uniform.
        seeds (tuple[int, ...]): Seeds of the re-runs.
        budget (Budget, optional): Overrides the scenario's training budget.
        model (str): Backbone.
        embedding_dim (int): Embedding size.
        num_layers (int): Propagation layers.
        oracle (bool): Also run oracle selection (re-runs the oracle's configuration
            when it differs from the validation one).
        device (str): Torch device.
    """

    rows: tuple[str, ...] = DEFAULT_ROWS
    trials: int = 8
    backbone_trials: int = 12
    seeds: tuple[int, ...] = (0, 1, 2)
    budget: Budget | None = None
    model: str = "lightgcn"
    embedding_dim: int = 64
    num_layers: int = 2
    oracle: bool = True
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rows"], out["seeds"] = list(self.rows), list(self.seeds)
        return out


class RunLog:
    """The append-only JSON-lines log of a benchmark folder (one line per finished run).

    Args:
        path (str or os.PathLike): The ``runs.jsonl`` file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.records: list[dict[str, Any]] = []
        if not self.path.exists():
            return
        text = self.path.read_text()
        lines = text.splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                self.records.append(json.loads(line))
            except json.JSONDecodeError:
                if number != len(lines) or text.endswith("\n"):
                    raise ValueError(f"{self.path}: line {number} is not JSON") from None
                # A run killed mid-write leaves a partial last line: drop it (the run is redone),
                # so that the next record does not land on the same line.
                self.path.write_text(text[: len(text) - len(line)])

    def append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(record, default=float) + "\n")
        self.records.append(record)

    def find(self, **match: Any) -> dict[str, Any] | None:
        """The last record whose fields equal ``match``."""
        for record in reversed(self.records):
            if all(record.get(k) == v for k, v in match.items()):
                return record
        return None

    def select(self, **match: Any) -> list[dict[str, Any]]:
        return [r for r in self.records if all(r.get(k) == v for k, v in match.items())]


def train_run(
    config: RunConfig,
    data: InteractionData,
    oracle: OracleSelection | None = None,
    trial: optuna.Trial | None = None,
    fhn: bool = False,
) -> dict[str, Any]:
    """One seeded run: its validation choice, test parts, oracle curves, head@20 and diagnostics.

    Args:
        config (RunConfig): The run.
        data (InteractionData): Split data.
        oracle (OracleSelection, optional): Scores its halves after every validation.
        trial (optuna.Trial, optional): Reports validation NDCG@20 and prunes.
        fhn (bool): Log the false-hard-negative ratio (data with known true positives).

    Returns:
        dict: The record's measurements (``val``, ``test``, ``best_epoch``, ...).
    """
    callbacks: list[Callable[[int, dict[str, float]], None]] = []
    tracker = oracle.tracker() if oracle is not None else None
    if tracker is not None:
        callbacks.append(tracker)  # before the pruning report, so a pruned epoch is still scored
    if trial is not None:

        def report(epoch: int, val: dict[str, float]) -> None:
            trial.report(val[config.monitor], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        callbacks.append(report)
    wall, cpu = time.perf_counter(), time.process_time()
    trainer = make_trainer(config, data, callbacks=callbacks, progress=False, fhn=fhn)
    if tracker is not None:
        tracker.trainer = trainer
    try:
        result, diverged = trainer.fit(), None
    except NonFiniteLossError as exc:  # the restored last good weights still make a result
        if exc.result is None:
            raise
        result, diverged = exc.result, str(exc)
    ood = "test_ood" if "test_ood" in data.parts else "test"
    tail = result.history[-3:]
    logs = {
        k: float(np.mean([h.sampler_logs[k] for h in tail if k in h.sampler_logs]))
        for k in DIAGNOSTICS
        if any(k in h.sampler_logs for h in tail)
    }
    fhn_values = [h.fhn_ratio for h in tail if h.fhn_ratio is not None]
    return {
        "val": result.best_val,
        "test": result.test,
        "best_epoch": result.best_epoch,
        "epochs": len(result.history),
        "stopped_early": result.stopped_early,
        "epoch_time": result.epoch_time,
        "head@20": trainer.evaluator.head_share(trainer.embeddings(), ood),
        "diagnostics": logs,
        "fhn_ratio": float(np.mean(fhn_values)) if fhn_values else None,
        "oracle": tracker.curves if tracker is not None else None,
        "diverged": diverged,
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
    }


class _TrialObjective(Objective):
    """`Objective` whose trials log a full record (oracle curves included) and return val NDCG@20."""

    def __init__(
        self,
        data: InteractionData,
        space: Callable[[optuna.Trial], dict[str, Any]],
        base: RunConfig,
        oracle: OracleSelection | None,
        log: RunLog,
        context: dict[str, Any],
        fhn: bool,
    ) -> None:
        super().__init__(data, space, base)
        self.oracle, self.log, self.context, self.fhn = oracle, log, context, fhn

    def __call__(self, trial: optuna.Trial) -> float:
        config = self.config(trial)
        trial.set_user_attr("config", config.to_dict())
        try:
            record = train_run(config, self.data, self.oracle, trial=trial, fhn=self.fhn)
        except optuna.TrialPruned:
            # Counted in the budget like a finished trial; its partial run measures nothing.
            self.log.append(
                {
                    **self.context,
                    "kind": "trial",
                    "trial": trial.number,
                    "pruned": True,
                    "config": config.to_dict(),
                }
            )
            raise
        if record["oracle"] is not None:
            trial.set_user_attr("oracle_select", oracle_choice(record["oracle"]).get("select"))
        self.log.append(
            {
                **self.context,
                "kind": "trial",
                "trial": trial.number,
                "config": config.to_dict(),
                **record,
            }
        )
        return record["val"][config.monitor]


def _study(
    storage: optuna.storages.BaseStorage, name: str, seed: int, budget: Budget
) -> optuna.Study:
    return optuna.create_study(
        study_name=name,
        storage=storage,
        load_if_exists=True,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=4),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=4, n_warmup_steps=max(1, budget.epochs // 4)
        ),
    )


def _tune(study: optuna.Study, objective: _TrialObjective, trials: int) -> None:
    done = len([t for t in study.trials if t.state.is_finished()])
    if done < trials:
        # A diverged trial is a failed trial (it counts against the budget); the study goes on.
        study.optimize(objective, n_trials=trials - done, catch=(NonFiniteLossError,))


def _best_config(study: optuna.Study, key: str = "value") -> dict[str, Any] | None:
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if key != "value":
        complete = [t for t in complete if t.user_attrs.get(key) is not None]
    if not complete:
        return None
    best = max(
        complete, key=lambda t: (t.value if key == "value" else t.user_attrs[key], -t.number)
    )
    return best.user_attrs["config"]


def study_trials(out: str | Path, scenario: str) -> dict[str, int]:
    """Finished (complete, pruned or failed) trials per row of ``scenario``, from the Optuna journal.

    Args:
        out (str or os.PathLike): The benchmark folder.
        scenario (str): The scenario label.
    """
    path = Path(out) / "optuna-journal.log"
    if not path.exists():
        return {}
    storage = journal_storage(path)
    counts = {}
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        name, _, row = summary.study_name.rpartition("/")
        if name == scenario:
            study = optuna.load_study(study_name=summary.study_name, storage=storage)
            counts[row] = sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))
    return counts


def journal_storage(path: str | Path) -> optuna.storages.BaseStorage:
    """Optuna's file journal at ``path`` (text, append-only: resumable and committable)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def run_scenario(
    name: str,
    data: InteractionData,
    plan: Plan,
    out: str | Path,
    *,
    budget: Budget,
    commit: str = "unknown",
    fhn: bool = False,
    progress: Callable[[str], None] | None = None,
) -> RunLog:
    """Runs (or resumes) the protocol of `Plan` on one scenario; returns its run log.

    Args:
        name (str): The scenario's label in the log.
        data (InteractionData): Its split data (with ``"val"``).
        plan (Plan): Rows, trials, seeds, backbone.
        out (str or os.PathLike): The benchmark folder (``runs.jsonl``, ``optuna-journal.log``).
        budget (Budget): The training budget (``plan.budget`` overrides it).
        commit (str): The code's git commit, written into every record.
        fhn (bool): Log the false-hard-negative ratio (synthetic data).
        progress (callable, optional): Called with one line per finished run.
    """
    out = Path(out)
    budget = plan.budget or budget
    log = RunLog(out / "runs.jsonl")
    storage = journal_storage(out / "optuna-journal.log")
    say = progress or (lambda line: None)
    oracle = OracleSelection(data) if plan.oracle else None
    base = RunConfig(
        model=plan.model,
        embedding_dim=plan.embedding_dim,
        num_layers=plan.num_layers,
        sampler="uniform",
        epochs=budget.epochs,
        patience=budget.patience,
        batch_size=budget.batch_size,
        device=plan.device,
    ).validate()
    context = {"scenario": name, "commit": commit, "budget": asdict(budget)}

    # 1. references
    evaluator = Evaluator(data, ks=(20,), metrics=("ndcg", "recall"))
    ood = "test_ood" if "test_ood" in data.parts else "test"
    for ref, ranker in REFERENCES.items():
        for seed in (plan.seeds if ref == "random ranking" else plan.seeds[:1]):
            if log.find(scenario=name, kind="reference", row=ref, seed=seed):
                continue
            emb = ranker(data, seed)
            record = {
                "val": evaluator.evaluate(emb, "val"),
                "test": {p: evaluator.evaluate(emb, p) for p in data.eval_parts if p != "val"},
                "head@20": evaluator.head_share(emb, ood),
                "oracle_scores": oracle.scores(emb) if oracle is not None else None,
            }
            log.append({**context, "kind": "reference", "row": ref, "seed": seed, **record})
        say(
            f"[{name}] {ref}: OOD ndcg@20 {log.find(scenario=name, kind='reference', row=ref)['test'][ood]['ndcg@20']:.4f}"
        )

    # 2. the backbone, with uniform
    study = _study(storage, f"{name}/uniform", 0, budget)
    if not study.trials:  # the library's default is always one of the candidates
        defaults = RunConfig()
        study.enqueue_trial({"lr": defaults.lr, "l2": defaults.l2})
    backbone_ctx = {**context, "row": "uniform", "sampler": "uniform"}
    _tune(
        study,
        _TrialObjective(data, backbone_space, base, oracle, log, backbone_ctx, fhn),
        plan.backbone_trials,
    )
    best = _best_config(study) or base.to_dict()
    lr, l2 = best["lr"], best["l2"]
    say(f"[{name}] backbone: lr={lr:.3g}, l2={l2:.3g} ({len(study.trials)} trials)")

    # 3. rows
    for row in resolve_rows(list(plan.rows)):
        row_base = RunConfig.from_dict(
            {
                **base.to_dict(),
                **row.config,
                "sampler": row.sampler,
                "sampler_kwargs": dict(row.fixed),
                "lr": lr,
                "l2": l2,
            }
        )
        row_ctx = {**context, "row": row.name, "sampler": row.sampler}
        if row.name == "uniform":
            row_study = study
        elif row.tunes:
            row_study = _study(storage, f"{name}/{row.name}", 0, budget)
            space = lambda trial, row=row: {"sampler_kwargs": row.space(trial)}  # noqa: E731
            _tune(
                row_study,
                _TrialObjective(data, space, row_base, oracle, log, row_ctx, fhn),
                plan.trials,
            )
        else:
            row_study = None
        chosen = {"iid": (_best_config(row_study) if row_study else None) or row_base.to_dict()}
        if oracle is not None:
            chosen["oracle"] = (
                _best_config(row_study, "oracle_select") if row_study else None
            ) or chosen["iid"]
        for selection, config in chosen.items():
            if selection == "oracle" and _same_run(config, chosen["iid"]):
                continue  # the oracle's configuration is validation's: its seed runs serve both
            for seed in plan.seeds:
                if log.find(
                    scenario=name, kind="seed", row=row.name, selection=selection, seed=seed
                ):
                    continue
                run_config = RunConfig.from_dict({**config, "seed": seed})
                record = train_run(run_config, data, oracle, fhn=fhn)
                log.append(
                    {
                        **row_ctx,
                        "kind": "seed",
                        "selection": selection,
                        "seed": seed,
                        "config": run_config.to_dict(),
                        **record,
                    }
                )
                say(
                    f"[{name}] {row.name} ({selection} selection) seed {seed}: OOD ndcg@20 "
                    f"{record['test'][ood]['ndcg@20']:.4f}, best epoch {record['best_epoch']} "
                    f"of {record['epochs']}"
                )
    return log


def _same_run(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two configurations differ only in their seed."""
    return {k: v for k, v in a.items() if k != "seed"} == {
        k: v for k, v in b.items() if k != "seed"
    }
