r"""What the diffusion samplers (`CNSDiffSampler`, `ADARSampler`) share: the
embedding space they diffuse in, the parts built from one `DiffusionConfig`,
how their denoiser learns, the uniform warm-up and the nearest-item probe."""

from __future__ import annotations

import inspect
import math
import warnings
from contextlib import contextmanager
from typing import Any, ClassVar, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.metrics import head_items, head_share, top_k_items
from pyg_negdiff.sampling.base import NegativeSample, NegativeSampler, SamplerState
from pyg_negdiff.sampling.diffusion_config import (  # noqa: F401 (DenoiserTraining: re-exported)
    ClassSignature,
    DenoiserTraining,
    DiffusionConfig,
    flat_signature,
)


def to_unit_rms(x: Tensor, eps: float = 1e-12) -> tuple[Tensor, Tensor]:
    r"""Scales every row to unit root-mean-square, $z = x / r$ with $r = \lVert x \rVert_2 / \sqrt{D}$.

    Returns ``(z, r)`` with ``r`` of shape ``[..., 1]``, so that ``z * r``
    gives ``x`` back. The diffusion runs on $z$: its noise is then measured
    against the row itself, whatever the scale the backbone's embeddings have
    reached, and the variance-preserving forward process keeps
    $\mathbb{E}\lVert x_t \rVert^2 = D$ at every step.

    Examples:
        >>> z, r = to_unit_rms(torch.tensor([[3.0, 4.0]]))
        >>> z.pow(2).mean().item(), torch.allclose(z * r, torch.tensor([[3.0, 4.0]]))
        (1.0, True)
    """
    scale = x.norm(dim=-1, keepdim=True).clamp_min(eps) / math.sqrt(x.size(-1))
    return x / scale, scale


def nearest_items(
    query: Tensor,
    item_emb: Tensor,
    users: Tensor | None = None,
    exclude: PairSet | None = None,
    chunk_size: int = 2**22,
) -> Tensor:
    r"""The real item nearest (in Euclidean distance) to each query row.

    $\arg\min_i \lVert q - e_i \rVert^2 = \arg\max_i\, [q, 1]^\top [e_i, -\tfrac12 \lVert e_i \rVert^2]$:
    one masked top-1 search (`pyg_negdiff.metrics.top_k_items`) over the
    augmented rows, in blocks of at most ``chunk_size`` scores. With
    ``exclude``, the pairs ``(users[n], i)`` in it are skipped.

    Args:
        query (torch.Tensor): ``[N, D]`` synthesized rows.
        item_emb (torch.Tensor): ``[I, D]`` item embeddings.
        users (torch.Tensor, optional): ``[N]`` user of each row (needed with ``exclude``).
        exclude (PairSet, optional): (user, item) pairs never returned.
        chunk_size (int): Scores computed per block.

    Returns:
        torch.Tensor: ``[N]`` item ids.

    Examples:
        >>> items = torch.tensor([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]])
        >>> nearest_items(torch.tensor([[0.9, 1.2], [4.0, 4.0]]), items).tolist()
        [1, 2]
    """
    with torch.no_grad():
        q = torch.cat([query.detach(), query.new_ones(query.size(0), 1)], dim=-1)
        e = item_emb.detach()
        e = torch.cat([e, -0.5 * e.pow(2).sum(-1, keepdim=True)], dim=-1)
        if users is None:
            users = torch.zeros(q.size(0), dtype=torch.long, device=q.device)
        rows = max(1, chunk_size // max(1, e.size(0)))
        return torch.cat(
            [
                top_k_items(q[s : s + rows], e, exclude, users[s : s + rows], 1)[:, 0]
                for s in range(0, q.size(0), rows)
            ]
        )


class DiffusionSampler(NegativeSampler):
    r"""Base class of the samplers that synthesize negatives with a Gaussian diffusion.

    **Diffusion space.** The batch's item rows are scaled to unit RMS
    (`to_unit_rms`) before the diffusion and scaled back by the same factor
    afterwards, so a noise level means the same relative displacement at the
    start of training and at the end, for any backbone and any pooled size
    $D'$. Only the batch's rows are touched: $O(B \cdot D')$ memory per step.

    **Denoiser training.** The denoiser learns from stop-gradient copies of the
    batch's positive item rows with the loss of `GaussianDiffusion.loss`, every
    training batch, warm-up included:

    - ``"alternate"`` (default): the sampler steps an Adam optimizer of its own
      inside `forward`, before synthesizing; the trainer's optimizer never sees
      the denoiser (`joint_parameters` is empty).
    - ``"joint"``: the loss goes into ``aux_loss`` and the trainer's optimizer,
      which steps `joint_parameters`, trains the denoiser with the model.
    - ``"frozen"``: the denoiser keeps its initial weights, as in the authors'
      published code, whose optimizer never steps it (a reference row only).

    In both modes ``aux_loss`` holds $\lambda_d \mathcal{L}_{\text{diff}}$
    (``diffusion_weight`` $= \lambda_d$) as a value, while the denoiser's
    gradient is $\nabla_\theta \mathcal{L}_{\text{diff}}$ at full weight: the
    joint term is $\lambda_d\,\mathrm{sg}(\mathcal{L}) + \mathcal{L} - \mathrm{sg}(\mathcal{L})$.
    As the loss is computed on stop-gradient embeddings it cannot move the
    model, so a small $\lambda_d$ (CNSDiff publishes $10^{-6}$) could only
    have shrunk the denoiser's own steps (which, with no optimizer step at all,
    is why the published denoiser never learned).

    **Sampling** runs with the denoiser in eval mode and without gradients;
    the synthesized rows are constants for the model's loss.

    **Environment conditioning.** With ``num_environments`` $= K$, the
    denoiser's condition gains an `EnvironmentEmbedding` $c_e = W^\top q_{ui}$
    of the environment $q_{ui}$ of each (user, positive) pair, read from
    `SamplerState.environments` (hard labels or soft weights, as
    `pyg_negdiff.causal.EnvironmentInference` assigns them), so the reverse
    process models $p(x_0 \mid x_t, c_u, E)$ rather than $p(x_0 \mid x_t, c_u)$:
    the causal conditioning of CNSDiff, $p(z_T \mid \mathrm{do}(z_0), E)$. A
    negative is synthesized in the environment of its positive, so the
    confounder that defines the environment (popularity, exposure) cannot tell
    the two apart. $W$ learns with the denoiser, from the diffusion loss only;
    the trainer must then be given ``environments``.

    **Construction.** The schedule, the process (``diffusion``), the denoiser
    and the environment embedding are built from one `DiffusionConfig`,
    recorded as ``diffusion_config`` beside the subclass's own arguments
    (``init_options``, see `register_to_config`); ``repr`` shows the recorded
    values that differ from the defaults, as the flat keywords that rebuild the sampler.

    Args:
        train_pairs (PairSet): Training positives.
        diffusion (DiffusionConfig): The shared settings (schedule, process,
            denoiser and its training, warm-up, probe).
        embedding_dim (int, optional): Size $D'$ of the rows the denoiser
            denoises; ``None`` builds no denoiser (the sampler never denoises).
        user_dim (int, optional): Columns of the user condition of the
            denoiser; ``None`` without one.

    **Diagnostics.** Every training batch logs, beside the sampler's own values
    (see `diagnose`): ``hard_above_pos``, the share of pairs whose synthesized
    row $\mathbf{h}$ scores at least as high as the positive,
    $s_{uh} \ge s_{ui}$; ``neg_sigmoid``, the mean $\sigma(s_{u}^{-} - s_{ui})$
    of the BPR negatives (the size of every BPR gradient: near $0.5$ when the
    margin cannot be won); ``neg_grad_norm``, the gradient norm reaching the
    real negatives' embedding rows (summed loss, mean per row; filled during
    the backward pass): positives are pushed up in proportion to their
    training frequency and real negatives pushed down uniformly, so a
    synthesized row that takes BPR weight from the real negative without
    passing its gradient to a real item tilts the model towards popular
    items; ``cos_hard_pos``, $\cos(\mathbf{h}, \mathbf{e}_i)$; and once
    per epoch ``head_share@20``, the share of the batch users' top-20 lists
    (training items masked) taken by the 10% most popular items
    (`pyg_negdiff.metrics.head_share`).
    """

    #: The shared settings a subclass starts from (its defaults of the flat keywords).
    diffusion_defaults: ClassVar[DiffusionConfig] = DiffusionConfig()
    #: Arguments the run fills in from its data (arrays, not settings): left out of ``repr``.
    context_arguments: ClassVar[tuple[str, ...]] = ()
    #: Former names of option values, still accepted: ``{argument: {old: new}}`` (`resolve`
    #: translates them; the command line's argument check reads them too).
    value_aliases: ClassVar[dict[str, dict[str, str]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # `inspect.signature(cls)` lists the flat keywords, which RunConfig validates against.
        # A subclass with an undecorated __init__ of its own gets the plain signature of it.
        recorded = hasattr(cls.__init__, "own_options")
        cls.__signature__ = ClassSignature(flat_signature(cls)) if recorded else None

    def __init__(
        self,
        train_pairs: PairSet,
        diffusion: DiffusionConfig,
        *,
        embedding_dim: int | None = None,
        user_dim: int | None = None,
    ) -> None:
        super().__init__(train_pairs)
        if diffusion.num_environments and embedding_dim is None:
            raise ValueError("environment conditioning needs a denoiser to condition")
        self.diffusion = diffusion.build_process()
        self.denoiser = (
            diffusion.build_denoiser(embedding_dim, user_dim) if embedding_dim is not None else None
        )
        self.env_embedding = diffusion.build_env_embedding() if embedding_dim is not None else None
        self.denoiser_training = diffusion.denoiser_training
        self.denoiser_lr = diffusion.denoiser_lr
        self.diffusion_weight = diffusion.diffusion_weight
        self.warmup_epochs = diffusion.warmup_epochs
        self.probe = diffusion.probe
        # Copies the chain reads each batch (benchmarks vary them on a built sampler).
        self.sampling_noise = diffusion.sampling_noise
        self.reverse_steps = diffusion.reverse_steps
        self._optimizer = None
        if self.denoiser is not None and self.denoiser_training == "alternate":
            self._optimizer = torch.optim.Adam(
                list(self.denoiser_parameters()), lr=self.denoiser_lr
            )
        self._joint_steps = 0
        self._joint_fingerprint: float | None = None
        self.sampling_dropout = diffusion.sampling_dropout
        # The head (10% most popular training items) of the popularity diagnostic.
        popularity = torch.bincount(train_pairs.col.cpu(), minlength=train_pairs.num_items)
        self.register_buffer("head", head_items(popularity), persistent=False)
        self._diagnose_head = False
        self.init_options: dict[str, Any] = {}
        self.option_defaults: dict[str, Any] = {}
        self.diffusion_config = diffusion

    @classmethod
    def resolve(
        cls, options: dict[str, Any], diffusion: DiffusionConfig
    ) -> tuple[dict[str, Any], DiffusionConfig]:
        """Hook of `register_to_config`: the final own arguments and shared settings of a
        call (a preset fills them here). Returns them unchanged by default.

        Args:
            options (dict): The subclass's own arguments, defaults filled in.
            diffusion (DiffusionConfig): The shared settings.

        Returns:
            tuple: ``(options, diffusion)``.
        """
        return options, diffusion

    def __repr__(self) -> str:
        # The recorded call, as the flat keywords that rebuild it: the values that differ from
        # the defaults (so a new option leaves the repr of existing settings unchanged).
        unset = inspect.Parameter.empty
        own = {
            k: v
            for k, v in self.init_options.items()
            if k not in self.context_arguments
            and (self.option_defaults[k] is unset or v != self.option_defaults[k])
        }
        shared = {
            k: v
            for k, v in vars(self.diffusion_config).items()
            if v != getattr(self.diffusion_defaults, k)
        }
        options = {**own, **shared}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in options.items())})"

    def denoiser_parameters(self) -> Iterator[torch.nn.Parameter]:
        """What the diffusion loss trains: the denoiser and the environment embedding."""
        for module in (self.denoiser, self.env_embedding):
            if module is not None:
                yield from module.parameters()

    def reset_parameters(self) -> None:
        for module in (self.denoiser, self.env_embedding):
            if module is not None:
                module.reset_parameters()
        if self._optimizer is not None:
            self._optimizer.state.clear()

    # The denoiser's own Adam (alternate mode) travels in the sampler's state_dict, so a
    # checkpoint (and the trainer's restore after a non-finite loss) resumes it too.
    def get_extra_state(self) -> dict:
        return {"optimizer": self._optimizer.state_dict() if self._optimizer is not None else None}

    def set_extra_state(self, state: dict) -> None:
        if self._optimizer is not None and state.get("optimizer") is not None:
            self._optimizer.load_state_dict(state["optimizer"])

    def joint_parameters(self) -> Iterator[torch.nn.Parameter]:
        """The denoiser's parameters in ``"joint"`` mode, nothing otherwise."""
        if self.denoiser is not None and self.denoiser_training == "joint":
            yield from self.denoiser_parameters()

    def condition(self, user_rows: Tensor | None, state: SamplerState) -> Tensor | None:
        r"""The denoiser's condition: $[\mathrm{sg}(\mathbf{e}_u / r_u) \Vert c_e]$, or ``None``.

        Args:
            user_rows (torch.Tensor, optional): ``[B, D']`` user rows, which this
                scales to unit RMS and detaches; ``None`` when the user is not a condition.
            state (SamplerState): Carries the batch's ``environments`` when the
                sampler is environment-conditioned.
        """
        parts = [] if user_rows is None else [to_unit_rms(user_rows.detach())[0]]
        if self.env_embedding is not None:
            if state.environments is None:
                raise ValueError(
                    f"{type(self).__name__} conditions its denoiser on environments "
                    f"(num_environments={self.env_embedding.num_environments}), but the batch has none: "
                    "give the Trainer environments=EnvironmentInference(...) (a penalty is optional)"
                )
            parts.append(
                self.env_embedding(state.environments.to(self.env_embedding.weight.device))
            )
        return torch.cat(parts, dim=-1) if parts else None

    # ------------------------------------------------------------ training
    def fit_denoiser(
        self, x0: Tensor, cond: Tensor | None, generator: torch.Generator | None
    ) -> tuple[Tensor | None, dict[str, float]]:
        """Trains the denoiser on one batch of rows; returns the ``aux_loss`` share and logs.

        ``x0`` is detached here; ``cond`` comes from `condition`, whose user part
        is detached and whose environment part must keep its gradient (the
        embedding learns from this loss). Nothing is trained outside training
        mode, with gradients disabled, or with a ``"frozen"`` denoiser.

        Args:
            x0 (torch.Tensor): ``[B, D']`` unit-RMS positive rows.
            cond (torch.Tensor, optional): ``[B, C]`` denoiser conditions.
            generator (torch.Generator, optional): Source of the diffusion noise.

        Returns:
            tuple: The ``aux_loss`` share (``None`` when nothing was trained) and the logs.
        """
        if (
            self.denoiser is None
            or self.denoiser_training == "frozen"
            or not self.training
            or not torch.is_grad_enabled()
        ):
            return None, {}
        self.denoiser.train()
        loss = self.diffusion.loss(self.denoiser, x0.detach(), cond, generator=generator).mean()
        value = loss.detach()
        logs = {"diffusion_loss": float(value)}
        if self._optimizer is not None:
            self._optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self._optimizer.step()
            return self.diffusion_weight * value, logs  # a constant: reported, not trained on
        self._joint_steps += 1
        return self.diffusion_weight * value + (loss - value), logs

    def start_epoch(self, epoch: int, num_epochs: int) -> None:
        """Schedules the epoch's popularity diagnostic, and warns when, in joint
        mode, a training epoch left the denoiser unchanged.

        That happens when the trainer's optimizer does not include
        `joint_parameters`: the published CNSDiff failure this sampler avoids.

        Args:
            epoch (int): The epoch about to start, counted from 0.
            num_epochs (int): Planned number of epochs.
        """
        self._diagnose_head = True
        if self.denoiser is None or self.denoiser_training != "joint":
            return
        with torch.no_grad():
            fingerprint = float(sum(p.double().abs().sum() for p in self.denoiser_parameters()))
        if self._joint_steps > 0 and fingerprint == self._joint_fingerprint:
            warnings.warn(
                f"{self.__class__.__name__}: the denoiser did not change over "
                f"{self._joint_steps} training batches. With denoiser_training='joint' the "
                "trainer's optimizer must step sampler.joint_parameters().",
                stacklevel=2,
            )
        self._joint_fingerprint, self._joint_steps = fingerprint, 0

    @contextmanager
    def sampling(self) -> Iterator[None]:
        """No gradients, and the denoiser in eval mode (restored afterwards)."""
        was_training = self.denoiser.training if self.denoiser is not None else False
        if self.denoiser is not None:
            self.denoiser.train(self.sampling_dropout)
        try:
            with torch.no_grad():
                yield
        finally:
            if self.denoiser is not None:
                self.denoiser.train(was_training)

    # ---------------------------------------------------------- diagnostics
    def diagnose(
        self,
        logs: dict[str, float],
        users: Tensor,
        emb_user: Tensor,
        emb_item: Tensor,
        user_emb: Tensor,
        pos_emb: Tensor,
        hard: Tensor,
        neg_scores: Tensor,
        real_emb: Tensor | None,
    ) -> None:
        r"""Adds the mechanism diagnostics (see the class description) to ``logs``.

        Args:
            logs (dict): The batch's logs, updated in place (``neg_grad_norm``
                during the backward pass).
            users (torch.Tensor): ``[B]`` user ids.
            emb_user (torch.Tensor): ``[U, D']`` all user rows (for ``head_share@20``).
            emb_item (torch.Tensor): ``[I, D']`` all item rows.
            user_emb (torch.Tensor): ``[B, D']`` the batch's user rows.
            pos_emb (torch.Tensor): ``[B, D']`` the positives' rows.
            hard (torch.Tensor): ``[B, D']`` the synthesized rows $\mathbf{h}$.
            neg_scores (torch.Tensor): ``[B]`` or ``[B, K]`` scores $s_u^-$ of the BPR negatives.
            real_emb (torch.Tensor, optional): ``[B, D']`` rows of the real
                negatives, whose gradient is measured.
        """
        with torch.no_grad():
            u, i, h = user_emb.detach(), pos_emb.detach(), hard.detach()
            s_ui = (u * i).sum(-1)
            margin = neg_scores.detach() - (s_ui.unsqueeze(-1) if neg_scores.dim() == 2 else s_ui)
            logs.update(
                {
                    "hard_above_pos": float(((u * h).sum(-1) >= s_ui).float().mean()),
                    "neg_sigmoid": float(torch.sigmoid(margin).mean()),
                    "cos_hard_pos": float(F.cosine_similarity(h, i, dim=-1).mean()),
                }
            )
            # Only on the full item table (a neighbour subgraph renumbers the items).
            if self._diagnose_head and emb_item.size(0) == self.head.numel():
                self._diagnose_head = False
                sample = torch.unique(users)[:512]
                logs["head_share@20"] = head_share(
                    emb_user.detach(), emb_item.detach(), self.head, sample, self.train_pairs, k=20
                )
        if real_emb is not None and real_emb.requires_grad:

            def record(grad: Tensor) -> None:
                # Rows of a mean loss: scale by B so the value does not depend on the batch size.
                logs["neg_grad_norm"] = float(grad.norm(dim=-1).mean() * grad.size(0))

            real_emb.register_hook(record)

    # ------------------------------------------------------------ helpers
    def in_warmup(self, state: SamplerState) -> bool:
        """Whether the batch falls in the uniform warm-up.

        Args:
            state (SamplerState): The batch's state (its ``epoch``).

        Returns:
            bool: ``True`` during the first ``warmup_epochs`` epochs.
        """
        return state.epoch < self.warmup_epochs

    def with_probe(
        self,
        sample: NegativeSample,
        users: Tensor,
        synthesized: Tensor,
        item_emb: Tensor,
        real: Tensor | None = None,
    ) -> NegativeSample:
        r"""Sets ``probe_items``, or ``None`` without ``probe`` (a synthesized row
        is not the item it was mixed with).

        The probe of a synthesized row is the nearest item *among the user's
        training non-positives*, the pool a heuristic sampler draws from, so
        that false-hard-negative ratios compare like with like: a negative on
        top of its positive stands for the nearest item the user has not
        interacted with. ``real`` (items returned as negatives as they are)
        goes in front.

        Args:
            sample (NegativeSample): The batch's negatives, updated in place.
            users (torch.Tensor): ``[B]`` user ids.
            synthesized (torch.Tensor): ``[B, D']`` synthesized rows.
            item_emb (torch.Tensor): ``[I, D']`` item rows to search.
            real (torch.Tensor, optional): ``[B]`` real items returned beside them.

        Returns:
            NegativeSample: ``sample``.
        """
        if not self.probe:
            sample.probe_items = None
            return sample
        probe = nearest_items(synthesized, item_emb, users, self.train_pairs)
        sample.probe_items = probe if real is None else torch.stack([real, probe], dim=-1)
        return sample
