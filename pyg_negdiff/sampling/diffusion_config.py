r"""The settings the diffusion samplers share, recorded once.

`CNSDiffSampler` and `ADARSampler` diffuse in the same way: a noise schedule,
a Gaussian process over it and (optionally) a denoiser trained on the batch's
positives. `DiffusionConfig` holds those settings; `DiffusionSampler` builds
the three parts from it. A sampler's constructor takes its own arguments and
the shared ones either as one ``diffusion=DiffusionConfig(...)`` or as flat
keywords (``num_steps=...``, what ``--sampler-arg`` and
``RunConfig.sampler_kwargs`` pass); `register_to_config` sorts them apart and
records both, as diffusers' decorator of the same name does, so the sampler's
``repr`` and its class signature come from that record.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Literal

from pyg_negdiff.diffusion import (
    EnvironmentEmbedding,
    GaussianDiffusion,
    MLPDenoiser,
    NoiseSchedule,
)
from pyg_negdiff.diffusion import Prediction, ScheduleMode

DenoiserTraining = Literal["alternate", "joint", "frozen"]

#: Which real rows the BPR gradient of a synthesized negative reaches, in every
#: diffusion sampler: none (``"detach"``), the row it starts from (``"anchor"``),
#: the real negative drawn beside it (``"reference"``), or every real row of its
#: noise-free start point in proportion (``"linear"``). A sampler accepts those it implements.
Gradient = Literal["detach", "anchor", "reference", "linear"]

#: How a synthesized negative meets the real one in BPR, in every diffusion sampler:
#: one convex mixture (``"mix"``), two BPR terms (``"separate"``), or in its place
#: (``"replace"``). A sampler accepts those it implements.
Combine = Literal["mix", "separate", "replace"]


@dataclass(frozen=True)
class DiffusionConfig:
    r"""The noise schedule, the process, the denoiser and how it learns.

    Each sampler class states its own defaults (``diffusion_defaults``):
    CNSDiff diffuses over 20 ``"linear-var"`` steps of scale 10, ADAR over 50
    cosine steps, so that $\sqrt{\bar\alpha_t}$ sweeps $(0, 1)$.

    Attributes:
        num_steps (int): Diffusion steps $T$.
        schedule (str): ``"linear"``, ``"linear-var"`` or ``"cosine"`` (`NoiseSchedule`).
        noise_scale (float): Schedule scale.
        beta_min (float): Lower noise bound of the linear modes.
        beta_max (float): Upper noise bound of the linear modes.
        prediction (str): Denoiser target, ``"x0"`` or ``"epsilon"``.
        reweight (bool): Timestep reweighting of the diffusion loss.
        sampling_noise (bool): Posterior noise in the reverse chain.
        reverse_steps (int, optional): Denoiser calls per reverse chain (the chain is
            respaced to this many jumps); ``None`` takes every step.
        hidden_channels (int): Denoiser width.
        dropout (float): Denoiser input dropout while training.
        sampling_dropout (bool): Keep that dropout on while sampling (the published
            CNSDiff code does).
        num_environments (int, optional): $K$: condition the denoiser on the
            batch's environments; ``None``: no environment condition.
        environment_dim (int): Size of the environment embedding.
        denoiser_training (str): ``"alternate"``, ``"joint"`` or ``"frozen"``
            (see `DiffusionSampler`).
        denoiser_lr (float): Learning rate of the denoiser's own Adam (alternate mode).
        diffusion_weight (float): $\lambda_d$, the diffusion loss's weight in the reported loss.
        warmup_epochs (int): Epochs of uniform sampling first.
        probe (bool): Report the real item nearest each synthesized negative.

    Examples:
        >>> config = DiffusionConfig(num_steps=4, schedule="cosine")
        >>> config.build_process().schedule.num_steps
        4
        >>> config.replace(num_steps=8).num_steps, config.num_steps
        (8, 4)
    """

    num_steps: int = 50
    schedule: ScheduleMode = "cosine"
    noise_scale: float = 1.0
    beta_min: float = 1e-4
    beta_max: float = 0.02
    prediction: Prediction = "x0"
    reweight: bool = False
    sampling_noise: bool = False
    reverse_steps: int | None = 2
    hidden_channels: int = 64
    dropout: float = 0.0
    sampling_dropout: bool = False
    num_environments: int | None = None
    environment_dim: int = 16
    denoiser_training: DenoiserTraining = "alternate"
    denoiser_lr: float = 1e-3
    diffusion_weight: float = 1e-6
    warmup_epochs: int = 0
    probe: bool = False

    def __post_init__(self) -> None:
        if self.denoiser_training not in ("alternate", "joint", "frozen"):
            raise ValueError(
                f"denoiser_training must be 'alternate', 'joint' or 'frozen', "
                f"got {self.denoiser_training!r}"
            )
        if self.warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be >= 0, got {self.warmup_epochs}")
        if self.num_environments is not None and self.num_environments < 1:
            raise ValueError(f"num_environments must be >= 1, got {self.num_environments}")

    def replace(self, **changes: Any) -> DiffusionConfig:
        """A copy with ``changes`` applied (`dataclasses.replace`).

        Args:
            **changes (optional): Fields and their new values.

        Returns:
            DiffusionConfig: The new record.
        """
        return dataclasses.replace(self, **changes)

    def build_process(self) -> GaussianDiffusion:
        """The Gaussian process over this schedule.

        Returns:
            GaussianDiffusion: Its `NoiseSchedule` holds the schedule's buffers.
        """
        schedule = NoiseSchedule(
            self.num_steps, self.schedule, self.noise_scale, self.beta_min, self.beta_max
        )
        return GaussianDiffusion(schedule, prediction=self.prediction, reweight=self.reweight)

    def condition_dim(self, user_dim: int | None) -> int | None:
        """The denoiser's ``cond_dim``: ``user_dim`` columns of user condition (``None``:
        none) and, with ``num_environments``, ``environment_dim`` more; ``None`` without
        any condition.

        Args:
            user_dim (int, optional): Columns of the user condition.

        Returns:
            int or None: The condition's width.
        """
        total = (user_dim or 0) + (self.environment_dim if self.num_environments else 0)
        return total or None

    def build_denoiser(self, embedding_dim: int, user_dim: int | None) -> MLPDenoiser:
        """The denoiser of ``embedding_dim``-wide rows, conditioned as `condition_dim` says.

        Args:
            embedding_dim (int): Size $D'$ of the rows it denoises.
            user_dim (int, optional): Columns of the user condition; ``None`` without one.

        Returns:
            MLPDenoiser: A freshly initialized network.
        """
        return MLPDenoiser(
            embedding_dim,
            self.hidden_channels,
            cond_dim=self.condition_dim(user_dim),
            dropout=self.dropout,
        )

    def build_env_embedding(self) -> EnvironmentEmbedding | None:
        """The environment embedding, or ``None`` without ``num_environments``.

        Returns:
            EnvironmentEmbedding or None: $W \\in \\mathbb{R}^{K \\times d_e}$.
        """
        return (
            EnvironmentEmbedding(self.num_environments, self.environment_dim)
            if self.num_environments
            else None
        )


#: The `DiffusionConfig` fields, in order.
FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(DiffusionConfig))


def register_to_config(init: Callable[..., None]) -> Callable[..., None]:
    """Decorates a `DiffusionSampler` subclass's ``__init__`` so that it records its call.

    The decorated constructor takes, besides its own arguments, an optional
    ``diffusion`` (a `DiffusionConfig`; default: the class's
    ``diffusion_defaults``) and any `DiffusionConfig` field as a flat keyword,
    which overrides that field. Its own arguments, bound with their defaults,
    and the resolved config go through the class's ``resolve`` hook (presets)
    and are recorded as ``init_options`` and ``diffusion_config`` (with the
    defaults of the own arguments as ``option_defaults``); the wrapped
    ``__init__`` is then called with ``diffusion`` set to the config.

    Args:
        init (callable): ``__init__(self, train_pairs, ..., *, ..., diffusion)``.

    Returns:
        callable: The recording constructor.
    """
    signature = inspect.signature(init)
    own = [
        n
        for n, p in signature.parameters.items()
        if n not in ("self", "train_pairs", "diffusion")
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]

    defaults = {n: signature.parameters[n].default for n in own}

    @functools.wraps(init)
    def recording_init(
        self, train_pairs, *args: Any, diffusion: DiffusionConfig | None = None, **kwargs: Any
    ) -> None:
        shared = {k: kwargs.pop(k) for k in list(kwargs) if k in FIELDS and k not in own}
        try:
            bound = signature.bind(self, train_pairs, *args, diffusion=None, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{type(self).__name__}: {exc}") from None
        bound.apply_defaults()
        options = {k: bound.arguments[k] for k in own}
        config = (diffusion if diffusion is not None else type(self).diffusion_defaults).replace(
            **shared
        )
        options, config = type(self).resolve(options, config)
        init(self, train_pairs, **options, diffusion=config)
        self.init_options, self.diffusion_config = dict(options), config
        self.option_defaults = defaults

    recording_init.own_options = tuple(own)
    return recording_init


class ClassSignature:
    """A ``__signature__`` seen on the class only: an instance (a module called as
    ``sampler(users, ...)``) keeps the signature of its ``forward``.

    Args:
        signature (inspect.Signature): The class's call signature.
    """

    def __init__(self, signature: inspect.Signature) -> None:
        self.signature = signature

    def __get__(self, obj: Any, owner: type | None = None) -> inspect.Signature | None:
        return self.signature if obj is None else None


def flat_signature(cls: type) -> inspect.Signature:
    """The signature of ``cls(...)`` with every `DiffusionConfig` field as a keyword.

    ``inspect.signature(CNSDiffSampler)`` then lists ``num_steps`` and the rest
    with the class's defaults, as `pyg_negdiff.experiment.RunConfig` reads it to
    check ``sampler_kwargs``.

    Args:
        cls (type): A `DiffusionSampler` subclass whose ``__init__`` is decorated
            with `register_to_config`.

    Returns:
        inspect.Signature: Without ``self``.
    """
    params = [
        p
        for n, p in inspect.signature(inspect.unwrap(cls.__init__)).parameters.items()
        if n not in ("self", "diffusion")
    ]
    hints = {f.name: f.type for f in dataclasses.fields(DiffusionConfig)}
    taken = {p.name for p in params}
    params += [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=getattr(cls.diffusion_defaults, name),
            annotation=hints[name],
        )
        for name in FIELDS
        if name not in taken
    ]
    params.append(
        inspect.Parameter(
            "diffusion",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation="DiffusionConfig | None",
        )
    )
    return inspect.Signature(params)


__all__ = [
    "Combine",
    "DenoiserTraining",
    "Gradient",
    "DiffusionConfig",
    "FIELDS",
    "flat_signature",
    "register_to_config",
]
