"""From a flat configuration to a trained model: the one recipe the CLI and Optuna share."""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence

import torch

from pyg_negdiff.data.interactions import InteractionData
from pyg_negdiff.metrics import Evaluator
from pyg_negdiff.nn import build_model
from pyg_negdiff.nn.base import Recommender
from pyg_negdiff.sampling import SAMPLERS, build_sampler
from pyg_negdiff.sampling.arguments import argument_problem
from pyg_negdiff.sampling.base import NegativeSampler
from pyg_negdiff.train import EpochCallback, Trainer, TrainResult, seed_everything


class ConfigError(ValueError):
    """A setting of a `RunConfig` that cannot work, found before any training.

    Args:
        key (str): The offending `RunConfig` field (the CLI names its option instead).
        value (Any): The value given.
        problem (str): What is wrong with it, and what to do.

    Examples:
        >>> str(ConfigError("embedding_dim", 0, "must be an integer >= 1"))
        'embedding_dim=0: must be an integer >= 1'
    """

    def __init__(self, key: str, value: Any, problem: str) -> None:
        self.key, self.value, self.problem = key, value, problem
        super().__init__(f"{key}={value!r}: {problem}")


#: Sampler constructor arguments the run fills in itself (never given by the user).
CONTEXT_ARGUMENTS = (
    "train_pairs",
    "item_popularity",
    "embedding_dim",
    "num_layers",
    "num_environments",
)


@dataclass
class RunConfig:
    """Every setting of one training run, as plain values (JSON- and Optuna-friendly).

    Attributes:
        model (str): Backbone name, a key of `pyg_negdiff.nn.MODELS` (``"lightgcn"``,
            ``"ngcf"``, ``"mf"``).
        embedding_dim (int): Layer-0 embedding size.
        num_layers (int): Propagation layers (ignored by a backbone without
            layers, ``has_layers = False``, such as MF).
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
        propagation (str): A key of `pyg_negdiff.propagation.PROPAGATIONS`: ``"full"``
            (whole graph every step) or ``"neighbor"`` (sampled subgraph of the
            batch, see `pyg_negdiff.propagation`).
        num_neighbors (list[int], optional): Fan-out per layer of ``"neighbor"``
            propagation (``-1``: all neighbours).
        neighbor_engine (str): Neighbour-sampling engine of ``"neighbor"``
            propagation: ``"auto"``, ``"pyg"`` (PyG's ``NeighborSampler``) or
            ``"torch"`` (see `NeighborPropagation`).
        sparse_gradients (bool): ``"neighbor"`` propagation gathers the
            subgraph's embedding rows with sparse gradients (SparseAdam);
            ``False``: dense gradients and Adam.
    """

    model: str = "lightgcn"
    embedding_dim: int = 64
    num_layers: int = 3
    sampler: str = "uniform"
    sampler_kwargs: dict[str, Any] = field(default_factory=dict)
    # Chosen on the real scenarios (benchmarks/training_defaults.py): at 1e-2 the best epoch can
    # fall in the first tenth of the budget; 3e-3 never did.
    lr: float = 3e-3
    l2: float = 1e-4
    batch_size: int = 2048
    epochs: int = 100
    patience: int | None = 15
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
    neighbor_engine: str = "auto"
    sparse_gradients: bool = True

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        """Builds a config, refusing unknown keys (a typo must not pass silently).

        Args:
            values (dict): Field names to values.

        Returns:
            RunConfig: The config.
        """
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(
                f"unknown configuration keys {sorted(unknown)}; known: {sorted(known)}"
            )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> "RunConfig":
        """Checks every setting before any work: ranges, names, sampler arguments, device.

        Returns:
            RunConfig: ``self``, so that ``RunConfig(...).validate()`` chains.

        Raises:
            ConfigError: On the first setting that cannot work, saying which and why.

        Examples:
            >>> RunConfig(embedding_dim=0).validate()
            Traceback (most recent call last):
            ...
            pyg_negdiff.experiment.ConfigError: embedding_dim=0: must be an integer >= 1
        """
        from pyg_negdiff.metrics import METRICS
        from pyg_negdiff.nn import MODELS
        from pyg_negdiff.propagation import PROPAGATIONS

        def check(key: str, ok: bool, problem: str) -> None:
            if not ok:
                raise ConfigError(key, getattr(self, key), problem)

        def integer(key: str, low: int) -> None:
            value = getattr(self, key)
            check(
                key,
                isinstance(value, int) and not isinstance(value, bool) and value >= low,
                f"must be an integer >= {low}",
            )

        def number(key: str, low: float, *, strict: bool = False) -> None:
            value = getattr(self, key)
            fine = (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and math.isfinite(value)
            )
            check(
                key,
                fine and (value > low if strict else value >= low),
                f"must be a finite number {'>' if strict else '>='} {low:g}",
            )

        check(
            "model",
            self.model.lower() in MODELS,
            f"unknown backbone; choose from {', '.join(MODELS)}",
        )
        integer("embedding_dim", 1)
        integer("num_layers", 1 if MODELS[self.model.lower()].has_layers else 0)
        number("lr", 0.0, strict=True)
        number("l2", 0.0)
        integer("batch_size", 1)
        integer("epochs", 1)
        if self.patience is not None:
            integer("patience", 1)
        integer("eval_every", 1)
        metric, _, k = self.monitor.partition("@")
        check(
            "monitor",
            metric in METRICS and k.isdigit() and int(k) >= 1,
            f"must be <metric>@<k> with a metric of {', '.join(METRICS)}, e.g. ndcg@20",
        )
        number("penalty_weight", 0.0)
        integer("num_environments", 1)
        integer("seed", 0)
        check(
            "propagation",
            self.propagation in PROPAGATIONS,
            f"choose {' or '.join(repr(name) for name in PROPAGATIONS)}",
        )
        if self.propagation == "neighbor":
            fanout = self.num_neighbors or []
            check(
                "num_neighbors",
                bool(fanout) and all(isinstance(k, int) and (k >= 1 or k == -1) for k in fanout),
                "give one fan-out per layer, each >= 1 or -1 for all neighbours (e.g. 20 10)",
            )
            from pyg_negdiff.propagation import resolve_engine

            try:
                resolve_engine(self.neighbor_engine)
            except ValueError as exc:
                check("neighbor_engine", False, str(exc))
        else:
            check(
                "num_neighbors", not self.num_neighbors, "applies to --propagation 'neighbor' only"
            )
            check(
                "sparse_gradients",
                self.sparse_gradients,
                "applies to --propagation 'neighbor' only",
            )
        self._validate_environments()
        self._validate_sampler()
        self._validate_device()
        return self

    def _validate_environments(self) -> None:
        from pyg_negdiff.causal import STRATEGIES

        if (
            self.penalty_weight > 0 or self.condition_on_environment
        ) and self.environments.lower() not in STRATEGIES:
            raise ConfigError(
                "environments",
                self.environments,
                f"unknown environment strategy; choose from {', '.join(STRATEGIES)}",
            )

    def _validate_sampler(self) -> None:
        name = self.sampler.lower()
        if name not in SAMPLERS:
            raise ConfigError(
                "sampler", self.sampler, f"unknown sampler; choose from {', '.join(SAMPLERS)}"
            )
        params = inspect.signature(SAMPLERS[name]).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            valid = [
                n
                for n, p in params.items()
                if n not in CONTEXT_ARGUMENTS
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            ]
            for key in self.sampler_kwargs:
                if key in CONTEXT_ARGUMENTS:
                    raise ConfigError(
                        "sampler_kwargs",
                        {key: self.sampler_kwargs[key]},
                        f"{key!r} is set by the run itself (from the data, --dim, --layers "
                        f"or --num-environments), not as a sampler argument",
                    )
                if key not in valid:
                    raise ConfigError(
                        "sampler_kwargs",
                        {key: self.sampler_kwargs[key]},
                        f"sampler {name!r} has no argument {key!r}; its arguments are "
                        f"{', '.join(valid) or 'none'}",
                    )
                default, value = params[key].default, self.sampler_kwargs[key]
                if isinstance(default, bool) and not isinstance(value, bool):
                    raise ConfigError(
                        "sampler_kwargs", {key: value}, f"{key!r} takes true or false"
                    )
                if (
                    isinstance(default, (int, float))
                    and not isinstance(default, bool)
                    and (isinstance(value, bool) or not isinstance(value, (int, float)))
                ):
                    raise ConfigError(
                        "sampler_kwargs",
                        {key: value},
                        f"{key!r} takes a number (default {default!r})",
                    )
                problem = argument_problem(SAMPLERS[name], key, value)  # its type hint
                if problem:
                    raise ConfigError("sampler_kwargs", {key: value}, problem)
        for key, value in self.sampler_kwargs.items():
            if not _finite(value):
                raise ConfigError(
                    "sampler_kwargs", {key: value}, "must be a finite number (not NaN or inf)"
                )

    def _validate_device(self) -> None:
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError):
            raise ConfigError(
                "device", self.device, "not a torch device; use e.g. cpu, cuda or cuda:0"
            ) from None
        if device.type == "cuda":
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if count == 0:
                raise ConfigError(
                    "device",
                    self.device,
                    "this PyTorch build sees no CUDA device "
                    f"(torch {torch.__version__}, CUDA {torch.version.cuda}); use cpu",
                )
            if device.index is not None and device.index >= count:
                raise ConfigError(
                    "device",
                    self.device,
                    f"only {count} CUDA device(s): use cuda:0 to " f"cuda:{count - 1}",
                )
        elif device.type == "mps" and not torch.backends.mps.is_available():
            raise ConfigError("device", self.device, "MPS is not available here; use cpu")
        elif device.type not in ("cpu", "cuda", "mps"):
            if not getattr(getattr(torch, device.type, None), "is_available", lambda: False)():
                raise ConfigError(
                    "device", self.device, f"no {device.type} device is available; use cpu"
                )


def _finite(value: Any) -> bool:
    """Whether every number in ``value`` (nested lists, tuples, dicts) is finite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


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


def build_environments(config: RunConfig, data: InteractionData):
    """The environment inference and penalty of the configured run.

    Environments are built when the penalty or the environment condition is on,
    the penalty when ``penalty_weight > 0``; each is ``None`` otherwise. Some
    environments left without a training interaction give a warning; most of
    them (``num_environments`` above twice the filled ones) a `ConfigError`.
    """
    if config.penalty_weight <= 0 and not config.condition_on_environment:
        return None, None
    from pyg_negdiff.causal import EnvironmentInference, VarianceRiskPenalty

    env = EnvironmentInference(
        config.environments,
        num_environments=config.num_environments,
        seed=config.seed,
        **config.environment_kwargs,
    )
    labels = env.fit(data)
    mass = (
        labels.sum(0) if labels.dim() == 2 else labels.bincount(minlength=config.num_environments)
    )
    used = int((mass > 0).sum())
    if used < config.num_environments:
        problem = (
            f"only {used} of the {config.num_environments} {config.environments!r} environments "
            f"hold a training interaction on {data.name} ({data.num_users} users, "
            f"{data.num_items} items); use at most {used}"
        )
        if (
            2 * used < config.num_environments
        ):  # mostly empty: the setting is wrong, not the data small
            raise ConfigError("num_environments", config.num_environments, problem)
        warnings.warn(
            f"num_environments={config.num_environments}: {problem}", UserWarning, stacklevel=2
        )
    penalty = (
        VarianceRiskPenalty(weight=config.penalty_weight, **config.penalty_kwargs)
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
    return Trainer.from_config(
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
