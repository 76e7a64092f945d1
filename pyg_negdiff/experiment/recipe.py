"""From a flat configuration to a trained model: the one recipe the CLI and Optuna share."""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path
from typing import Any, Sequence

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.experiment.config import ConfigError, RunConfig
from pyg_negdiff.metrics import Evaluator
from pyg_negdiff.nn import build_model
from pyg_negdiff.nn.base import Recommender
from pyg_negdiff.sampling import SAMPLERS, build_sampler
from pyg_negdiff.sampling.base import NegativeSampler
from pyg_negdiff.train import EpochCallback, Trainer, TrainResult, seed_everything


def check_negatives_exist(data: InteractionData) -> None:
    """Refuses data where a user owns every item in training: no negative exists for them.

    Args:
        data (InteractionData): The split data.

    Raises:
        ValueError: Naming the first such users.
    """
    pairs = data.train_pairs()
    full = (pairs.degree() >= data.num_items).nonzero().view(-1)
    if full.numel():
        raise ValueError(
            f"{data.name}: {full.numel()} user(s) (ids {full[:5].tolist()}) interacted with "
            f"all {data.num_items} items in training, so no negative item exists for them; "
            f"remove them from the data or hold some of their items out"
        )


def sampler_from_config(
    config: RunConfig, data: InteractionData, model: Recommender
) -> NegativeSampler:
    """Builds the configured sampler, passing it the context its constructor asks for.

    A sampler declares what it needs by naming it in its constructor:
    ``train_pairs``, ``item_popularity``, ``embedding_dim`` (the size of the
    backbone's pooled output) or ``num_layers``.
    """
    if config.sampler.lower() not in SAMPLERS:
        raise ValueError(f"unknown sampler {config.sampler!r}; choose from {sorted(SAMPLERS)}")
    context = {
        "item_popularity": data.item_popularity(),
        "embedding_dim": model.output_dim,
        "num_layers": config.num_layers,
    }
    params = inspect.signature(SAMPLERS[config.sampler.lower()]).parameters
    kwargs = {k: v for k, v in context.items() if k in params}
    if config.condition_on_environment:
        if "num_environments" not in params:
            raise ValueError(
                f"condition_on_environment: sampler {config.sampler!r} has no denoiser to "
                f"condition; use 'cnsdiff' or 'adar'"
            )
        kwargs["num_environments"] = config.num_environments
    kwargs.update(config.sampler_kwargs)
    try:
        return build_sampler(config.sampler, data.train_pairs(), **kwargs)
    except (TypeError, ValueError) as exc:
        if not config.sampler_kwargs:
            raise
        raise ConfigError(
            "sampler_kwargs",
            config.sampler_kwargs,
            f"sampler {config.sampler!r} refused them: {exc}",
        ) from exc


def environments_used(env) -> int:
    """The number of environments that hold a training interaction in ``env``'s assignment.

    Args:
        env (EnvironmentInference): Fitted environments.

    Returns:
        int: Environments with a non-zero training mass (soft assignments: any weight).
    """
    assignment = env.assignment
    if assignment.dim() == 2:
        return int((assignment.sum(0) > 0).sum())
    return int(assignment.unique().numel())


def build_environments(config: RunConfig, data: InteractionData):
    """The environment inference and penalty of the configured run.

    Environments are built when the penalty or the environment condition is on,
    the penalty when ``penalty_weight > 0``; each is ``None`` otherwise. Some
    environments left without a training interaction give a warning; most of
    them (``num_environments`` above twice the filled ones) a `ConfigError`.
    """
    if config.penalty_weight <= 0 and not config.condition_on_environment:
        return None, None
    from pyg_negdiff.causal import PENALTIES, EnvironmentInference

    env = EnvironmentInference(
        config.environments,
        num_environments=config.num_environments,
        seed=config.seed,
        **config.environment_kwargs,
    )
    env.fit(data)
    used = environments_used(env)
    if used < config.num_environments:
        problem = (
            f"only {used} of the {config.num_environments} {config.environments!r} environments "
            f"hold a training interaction on {data.name} ({data.num_users} users, "
            f"{data.num_items} items); use at most {used}"
        )
        # Mostly empty: the setting is wrong, not the data small.
        if 2 * used < config.num_environments:
            raise ConfigError("num_environments", config.num_environments, problem)
        warnings.warn(
            f"num_environments={config.num_environments}: {problem}; the run goes on with "
            f"{used} (recorded as num_environments_used)",
            UserWarning,
            stacklevel=2,
        )
    penalty = (
        PENALTIES[config.penalty.lower()](weight=config.penalty_weight, **config.penalty_kwargs)
        if config.penalty_weight > 0
        else None
    )
    return env, penalty


def make_trainer(
    config: RunConfig,
    data: InteractionData,
    *,
    callbacks: Sequence[EpochCallback] = (),
    evaluator: Evaluator | None = None,
    checkpoint_path: str | Path | None = None,
    progress: bool = True,
    fhn: bool = False,
    validated: bool = False,
) -> Trainer:
    """Validates, seeds, then builds the model, sampler, environments, graph and trainer of ``config``.

    Args:
        config (RunConfig): The run's settings.
        data (InteractionData): The split dataset.
        callbacks (Sequence[callable]): `Trainer` callbacks, ``fn(epoch, val_metrics)``.
        evaluator (Evaluator, optional): Defaults to ``Evaluator(data)``.
        checkpoint_path (str or Path, optional): Where the trainer writes its checkpoint.
        progress (bool): Show progress bars.
        fhn (bool): Log the false-hard-negative ratio against the true (or test) positives.
        validated (bool): ``config`` was validated already (`RunConfig.validate`), e.g.
            by the command line: it is not checked again.

    Returns:
        Trainer: The trainer (`Trainer.from_config`), its graph built once here.
    """
    if not validated:
        config.validate()
    check_negatives_exist(data)
    seed_everything(config.seed)
    model = build_model(config.model, data.num_users, data.num_items, **_model_kwargs(config))
    sampler = sampler_from_config(config, data, model)
    environments, penalty = build_environments(config, data)
    fhn_reference = None
    if fhn:
        from pyg_negdiff.data.pairs import PairSet

        truth = data.true_positives if data.true_positives is not None else data.parts.get("test")
        if truth is not None:
            fhn_reference = PairSet(truth, data.num_users, data.num_items)
    from pyg_negdiff.data.graph import bipartite_edge_index
    from pyg_negdiff.propagation import build_propagation

    # The one place the run's graph is built: the trainer gets it inside its propagation.
    propagation = build_propagation(
        config.propagation,
        bipartite_edge_index(data.train, data.num_users),
        data.num_users,
        data.num_items,
        config.num_neighbors,
        engine=config.neighbor_engine,
        sparse_gradients=config.sparse_gradients,
    )
    trainer = Trainer.from_config(
        config,
        model,
        sampler,
        data,
        evaluator=evaluator,
        environments=environments,
        penalty=penalty,
        fhn_reference=fhn_reference,
        checkpoint_path=checkpoint_path,
        callbacks=callbacks,
        progress=progress,
        propagation=propagation,
    )
    if environments is not None:  # what was used, beside what was asked (num_environments)
        trainer.run_config["num_environments_used"] = environments_used(environments)
    return trainer


def _model_kwargs(config: RunConfig) -> dict[str, Any]:
    from pyg_negdiff.nn import MODELS

    kwargs: dict[str, Any] = {"embedding_dim": config.embedding_dim}
    if MODELS[config.model.lower()].has_layers:
        kwargs["num_layers"] = config.num_layers
    return kwargs


def run(
    config: RunConfig, data: InteractionData, *, resume: bool = False, **kwargs: Any
) -> TrainResult:
    """Trains ``config`` on ``data`` and returns the result (see `make_trainer`).

    Args:
        config (RunConfig): The run's settings.
        data (InteractionData): The split dataset (with a ``"train"`` part and the
            parts the evaluation reads).
        resume (bool): Continue from ``checkpoint_path`` (`Trainer.fit`).
        **kwargs: Passed on to `make_trainer` (``callbacks``, ``evaluator``,
            ``checkpoint_path``, ``progress``, ``fhn``, ``validated``).

    Returns:
        TrainResult: The training result; its ``config`` holds ``config.to_dict()``
        (recorded by `Trainer.from_config`).
    """
    return make_trainer(config, data, **kwargs).fit(resume=resume)
