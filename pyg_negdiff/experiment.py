"""From a flat configuration to a trained model: the one recipe the CLI and Optuna share."""
from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.metrics import Evaluator
from pyg_negdiff.nn import build_model
from pyg_negdiff.nn.base import Recommender
from pyg_negdiff.sampling import SAMPLERS, build_sampler
from pyg_negdiff.sampling.base import NegativeSampler
from pyg_negdiff.train import EpochCallback, Trainer, TrainResult, seed_everything


@dataclass
class RunConfig:
    """Every setting of one training run, as plain values (JSON- and Optuna-friendly).

    Attributes:
        model (str): Backbone name: ``"lightgcn"``, ``"ngcf"`` or ``"mf"``.
        embedding_dim (int): Layer-0 embedding size.
        num_layers (int): Propagation layers (ignored by MF).
        sampler (str): Sampler name, a key of ``pyg_negdiff.sampling.SAMPLERS``.
        sampler_kwargs (dict): Extra constructor arguments of the sampler.
        lr (float): Adam learning rate.
        l2 (float): Weight of the batch L2 term.
        batch_size (int): Training interactions per step.
        epochs (int): Maximum epochs.
        patience (int, optional): Early-stopping patience in evaluations.
        eval_every (int): Epochs between validations.
        monitor (str): Validation metric that selects the best epoch.
        penalty_weight (float): $\\lambda$ of the environment variance penalty (0 = off).
        environments (str): Environment strategy when the penalty or the
            environment condition is on.
        num_environments (int): Number of environments $K$.
        condition_on_environment (bool): Condition the diffusion sampler's denoiser
            on the environments (CNSDiff, ADAR in ``"denoise"`` mode).
        environment_kwargs (dict): Extra arguments of `EnvironmentInference`
            (``update_every``, ``warmup`` and the strategy's own options).
        penalty_kwargs (dict): Extra arguments of `VarianceRiskPenalty`
            (``reduction``, ``warmup_steps``).
        seed (int): Seed of everything random in the run.
        device (str): Torch device.
        propagation (str): ``"full"`` (whole graph every step) or ``"neighbor"``
            (sampled subgraph of the batch, see `pyg_negdiff.propagation`).
        num_neighbors (list[int], optional): Fan-out per layer of ``"neighbor"``
            propagation (``-1``: all neighbours).
    """

    model: str = "lightgcn"
    embedding_dim: int = 64
    num_layers: int = 3
    sampler: str = "uniform"
    sampler_kwargs: dict[str, Any] = field(default_factory=dict)
    lr: float = 1e-2
    l2: float = 1e-4
    batch_size: int = 2048
    epochs: int = 50
    patience: int | None = 10
    eval_every: int = 1
    monitor: str = "ndcg@20"
    penalty_weight: float = 0.0
    environments: str = "popularity"
    num_environments: int = 3
    condition_on_environment: bool = False
    environment_kwargs: dict[str, Any] = field(default_factory=dict)
    penalty_kwargs: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    device: str = "cpu"
    propagation: str = "full"
    num_neighbors: list[int] | None = None

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        """Builds a config, refusing unknown keys (a typo must not pass silently)."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown configuration keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sampler_from_config(config: RunConfig, data: InteractionData, model: Recommender) -> NegativeSampler:
    """Builds the configured sampler, passing it the context its constructor asks for.

    A sampler declares what it needs by naming it in its constructor:
    ``train_pairs``, ``item_popularity``, ``embedding_dim`` (the size of the
    backbone's pooled output) or ``num_layers``.
    """
    if config.sampler.lower() not in SAMPLERS:
        raise ValueError(f"unknown sampler {config.sampler!r}; choose from {sorted(SAMPLERS)}")
    context = {"item_popularity": data.item_popularity(), "embedding_dim": model.output_dim,
               "num_layers": config.num_layers}
    params = inspect.signature(SAMPLERS[config.sampler.lower()]).parameters
    kwargs = {k: v for k, v in context.items() if k in params}
    if config.condition_on_environment:
        if "num_environments" not in params:
            raise ValueError(f"condition_on_environment: sampler {config.sampler!r} has no denoiser to "
                             f"condition; use 'cnsdiff' or 'adar'")
        kwargs["num_environments"] = config.num_environments
    kwargs.update(config.sampler_kwargs)
    return build_sampler(config.sampler, data.train_pairs(), **kwargs)


def build_environments(config: RunConfig, data: InteractionData):
    """The environment inference and penalty of the configured run.

    Environments are built when the penalty or the environment condition is on,
    the penalty when ``penalty_weight > 0``; each is ``None`` otherwise.
    """
    if config.penalty_weight <= 0 and not config.condition_on_environment:
        return None, None
    from pyg_negdiff.causal import EnvironmentInference, VarianceRiskPenalty

    env = EnvironmentInference(config.environments, num_environments=config.num_environments,
                               seed=config.seed, **config.environment_kwargs)
    env.fit(data)
    penalty = (VarianceRiskPenalty(weight=config.penalty_weight, **config.penalty_kwargs)
               if config.penalty_weight > 0 else None)
    return env, penalty


def make_trainer(config: RunConfig, data: InteractionData, *, callbacks: Sequence[EpochCallback] = (),
                 evaluator: Evaluator | None = None, checkpoint_path: str | Path | None = None,
                 progress: bool = True, fhn: bool = False) -> Trainer:
    """Seeds, then builds the model, sampler, environments and trainer of ``config``."""
    seed_everything(config.seed)
    model = build_model(config.model, data.num_users, data.num_items,
                        **_model_kwargs(config))
    sampler = sampler_from_config(config, data, model)
    environments, penalty = build_environments(config, data)
    fhn_reference = None
    if fhn:
        from pyg_negdiff.data.pairs import PairSet
        truth = data.true_positives if data.true_positives is not None else data.parts.get("test")
        if truth is not None:
            fhn_reference = PairSet(truth, data.num_users, data.num_items)
    propagation = None
    if config.propagation != "full" or config.num_neighbors:
        from pyg_negdiff.data.graph import bipartite_edge_index
        from pyg_negdiff.propagation import build_propagation

        propagation = build_propagation(config.propagation, bipartite_edge_index(data.train, data.num_users),
                                        data.num_users, data.num_items, config.num_neighbors)
    return Trainer(model, sampler, data, lr=config.lr, l2=config.l2, batch_size=config.batch_size,
                   epochs=config.epochs, eval_every=config.eval_every, patience=config.patience,
                   monitor=config.monitor, evaluator=evaluator, environments=environments,
                   penalty=penalty, fhn_reference=fhn_reference, device=config.device,
                   seed=config.seed, checkpoint_path=checkpoint_path, callbacks=callbacks,
                   progress=progress, propagation=propagation)


def _model_kwargs(config: RunConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"embedding_dim": config.embedding_dim}
    if config.model != "mf":
        kwargs["num_layers"] = config.num_layers
    return kwargs


def run(config: RunConfig, data: InteractionData, **kwargs: Any) -> TrainResult:
    """Trains ``config`` on ``data`` and returns the result (see `make_trainer`).

    Args:
        config (RunConfig): The run's settings.
        data (InteractionData): The split dataset (with a ``"train"`` part and the
            parts the evaluation reads).
        **kwargs: Passed on to `make_trainer` (``callbacks``, ``evaluator``,
            ``checkpoint_path``, ``progress``, ``fhn``).

    Returns:
        TrainResult: The training result, its ``config`` updated with
        ``config.to_dict()``.
    """
    result = make_trainer(config, data, **kwargs).fit()
    result.config.update(config.to_dict())
    return result
