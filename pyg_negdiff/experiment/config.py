"""`RunConfig`: every setting of one training run, and the checks it makes before any work."""

from __future__ import annotations

import inspect
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# torch and the samplers are imported inside the checks that need them: the command line reads
# RunConfig's defaults for its --help, which must not wait for torch (issue 24).


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
        penalty_weight (float): $\\lambda$ of the environment penalty (0 = off).
        penalty (str): The penalty, a key of `pyg_negdiff.causal.PENALTIES`: ``"vrex"``
            (variance of the risks), ``"irm"`` (IRMv1), ``"margin-vrex"`` (variance of the
            mean BPR margins) or ``"balanced"`` (the environment-balanced risk alone).
        environments (str): Environment strategy when the penalty or the
            environment condition is on.
        num_environments (int): Number of environments $K$.
        condition_on_environment (bool): Condition the diffusion sampler's denoiser
            on the environments (CNSDiff, ADAR in ``"denoise"`` mode).
        environment_kwargs (dict): Extra arguments of `EnvironmentInference`
            (``update_every``, ``warmup`` and the strategy's own options).
        penalty_kwargs (dict): Extra arguments of the penalty
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
    penalty: str = "vrex"
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
            pyg_negdiff.experiment.config.ConfigError: embedding_dim=0: must be an integer >= 1
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
        # The strategy says whether it takes the neighbour-sampling options (a new one needs no
        # edit here); the refusal names every registered strategy that does.
        if PROPAGATIONS[self.propagation].samples_neighbors:
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
            takers = [repr(k) for k, cls in PROPAGATIONS.items() if cls.samples_neighbors]
            only = f"applies to --propagation {' or '.join(takers)} only"
            check("num_neighbors", not self.num_neighbors, only)
            check("sparse_gradients", self.sparse_gradients, only)
        self._validate_environments()
        self._validate_sampler()
        self._validate_device()
        return self

    def _validate_environments(self) -> None:
        from pyg_negdiff.causal import PENALTIES, STRATEGIES

        if not isinstance(self.penalty, str) or self.penalty.lower() not in PENALTIES:
            raise ConfigError(
                "penalty", self.penalty, f"unknown penalty; choose from {', '.join(PENALTIES)}"
            )

        if (
            self.penalty_weight > 0 or self.condition_on_environment
        ) and self.environments.lower() not in STRATEGIES:
            raise ConfigError(
                "environments",
                self.environments,
                f"unknown environment strategy; choose from {', '.join(STRATEGIES)}",
            )

    def _validate_sampler(self) -> None:
        from pyg_negdiff.sampling import SAMPLERS
        from pyg_negdiff.sampling.arguments import argument_problem

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
        import torch

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
                    f"only {count} CUDA device(s): use cuda:0 to cuda:{count - 1}",
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
