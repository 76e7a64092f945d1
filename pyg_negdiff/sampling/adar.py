r"""ADAR: a negative made by noising the positive up to the point where it stops being preferred."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.sampling.anchors import PooledSampler, PoolName
from pyg_negdiff.sampling.base import NegativeSample, SamplerState
from pyg_negdiff.sampling.diffusion_base import DiffusionSampler, to_unit_rms
from pyg_negdiff.sampling.diffusion_config import DiffusionConfig, register_to_config

#: Earlier names of ``combine`` values, still accepted.
COMBINE_ALIASES = {"add": "separate"}


class ADARSampler(PooledSampler, DiffusionSampler):
    r"""The sampler of ["Adaptive Diffusion-based Augmentation for
    Recommendation"](https://arxiv.org/abs/2601.01448) (ADAR, 2026).

    The positive item is noised forward,
    $\mathbf{x}_t = \sqrt{\bar\alpha_t}\,\mathbf{e}_i + \sqrt{1 - \bar\alpha_t}\, r_i \boldsymbol{\epsilon}$
    (unit-RMS space, $r_i$ the row's RMS, see `to_unit_rms`), so its
    expected score falls as $\mathbb{E}[\mathbf{e}_u^\top \mathbf{x}_t] = \sqrt{\bar\alpha_t}\, s_{ui}$.
    With a uniformly drawn reference negative $j$ and $s_{ui} = \mathbf{e}_u^\top \mathbf{e}_i$,
    $s_{\text{ref}} = \mathbf{e}_u^\top \mathbf{e}_j$, the **transition point** is
    the first step at which the noised positive is, in expectation, no longer
    preferred to the reference:

    $$
    t^* = \min\big\{\, t \in \{1, \ldots, T\} : \sqrt{\bar\alpha_t}\, s_{ui} \le s_{\text{ref}} \,\big\},
    $$

    which for $s_{ui} > 0$ is the smallest $t$ with
    $\sqrt{\bar\alpha_t} \le s_{\text{ref}} / s_{ui}$. The cases:

    - $s_{ui} \le s_{\text{ref}}$ (the positive is not above the reference):
      the boundary is already crossed at $t = 0$, and the hardest step is used,
      $t^* = 1$: the least noise, the negative closest to the positive.
      (For $s_{ui} > 0$ the rule gives $1$ by itself; the case is explicit so
      that it also holds for $s_{ui} \le 0$, where noise raises the expected
      score towards $0$ instead of lowering it.)
    - $s_{ui} > s_{\text{ref}}$ but no step satisfies the rule (the ratio is
      below $\sqrt{\bar\alpha_T}$, which includes every $s_{\text{ref}} \le 0$, and
      every $s_{ui} \le 0$, where noise moves the score away from the
      reference): $t^* = T$, the step closest to the crossing.

    The negative is then $\mathbf{x}_{t^*}$ (``generation="forward"``), or
    $\mathbf{x}_{t^*}$ denoised back from $t^*$ by a denoiser conditioned on the
    user's row (``"denoise"``). It joins the reference as a second negative
    (``combine="separate"``, formerly ``"add"``, still accepted: BPR then averages
    over both) or replaces it
    (``"replace"``). With ``gradient="detach"`` synthesized rows are constants
    for the model's loss, so with ``"replace"`` no embedding of a real
    non-positive item gets a gradient from BPR any more; ``"separate"`` keeps that
    signal. With ``gradient="reference"`` the synthesized row's gradient goes to
    the reference item it stands beside, so every BPR term that pushes a
    positive up also pushes a real item down.

    **Edge cases.** $t^* = 1$ gives a copy of the positive, whose margin
    cannot be won (the positive is then pushed up with a constant force: a
    popularity signal), and $t^* = T$ gives pure noise. Both are logged
    (``transition_at_1``, ``transition_at_T``, before clipping). $t^*$ is
    clipped to $[t_{\min}, t_{\max}]$; with ``skip_edge_cases`` a pair whose
    $t^*$ is an edge case gets no synthesized term, and its whole BPR weight goes
    to the reference (``combine="separate"``; with ``"replace"`` the reference takes
    the synthesized row's place).

    **The reference pool** (``reference_pool``, `pyg_negdiff.sampling.anchors`).
    With a uniform $j$ the reference is often far below the positive: when
    $s_{\text{ref}} / s_{ui} < \sqrt{\bar\alpha_T}$ (every $s_{\text{ref}} \le 0$
    among them) no step meets the rule and $t^* = T$, an edge case. DNS's
    choice, the highest-scoring of $M$ uniform non-positives, raises
    $s_{\text{ref}}$ and so moves $t^*$ off that edge: the synthesized negative
    then sits just where the positive stops being preferred to a *hard* real
    item. ``"popularity"`` draws $j \propto n_j^{\alpha}$ instead, and
    ``"mixture"`` mixes the two (the pools of `CNSDiffSampler`).

    **Defaults.** The published method (``forward_noise=True``,
    ``gradient="detach"``, ``skip_edge_cases=False``) turned every model into a
    popularity ranker in the library's ablation (benchmarks page), for three
    measured reasons: the random direction of $\mathbf{x}_{t^*}$ dominates the
    user's gradient $\sigma(\cdot)(\mathbf{x}_{t^*} - \mathbf{e}_i)$; a constant
    negative pushes positives up (in proportion to their frequency) without
    pushing any real item down; and $t^* = 1$ copies the positive. The defaults
    remove all three: the mean point, the gradient routed to the reference,
    edge cases skipped.

    The rule needs $\sqrt{\bar\alpha_t}$ to sweep $(0, 1)$, so the default
    schedule is cosine over 50 steps ($\sqrt{\bar\alpha_T} \approx 0.001$), not
    CNSDiff's, where $\sqrt{\bar\alpha_t} \ge 0.999$ at every step.

    Args:
        train_pairs (PairSet): Training positives, never drawn as the reference.
        embedding_dim (int, optional): Size $D'$ of the pooled embeddings
            (``model.output_dim``); required for ``generation="denoise"``.
        generation (str): ``"forward"`` or ``"denoise"``. (default: ``"forward"``)
        combine (str): ``"separate"`` (two BPR terms; ``"add"`` is its former name) or
            ``"replace"``, as in `CNSDiffSampler`. (default: ``"separate"``)
        t_min (int): Smallest step used, $t_{\min} \ge 1$. (default: ``1``)
        t_max (int, optional): Largest step used, $t_{\max} \le T$. (default: ``None``, $T$)
        skip_edge_cases (bool): Drop the synthesized term of pairs whose $t^*$ is
            $1$ or $T$ before clipping. (default: ``True``)
        forward_noise (bool): ``False`` takes the mean of the forward process,
            $\mathbf{x}_{t^*} = \sqrt{\bar\alpha_{t^*}}\,\mathbf{e}_i$: the positive shrunk
            until its score meets the reference's, with no random direction for
            the user's gradient to follow. (default: ``False``; the published method: ``True``)
        synthesized_weight (float, optional): With ``combine="separate"``, weigh the
            reference's BPR term $1$ and the synthesized one $w$ instead of
            averaging the two. (default: ``None``, the average)
        gradient (str): ``"detach"``: the synthesized row is a constant;
            ``"reference"``: $\mathbf{n} = \mathbf{e}_j + \mathrm{sg}(\mathbf{x}_{t^*} - \mathbf{e}_j)$,
            its BPR gradient pushes the real reference item down. (default: ``"reference"``)
        reference_pool (str): Where $j$ comes from: ``"uniform"``, ``"popularity"``,
            ``"dns"`` or ``"mixture"`` (`AnchorPool`). (default: ``"uniform"``)
        pool_alpha (float): $\alpha$ of the popularity pool. (default: ``0.75``)
        pool_candidates (int): $M$ of the DNS pool. (default: ``32``)
        pool_mix (float): Share of popularity draws in the mixture. (default: ``0.5``)
        item_popularity (torch.Tensor, optional): ``[I]`` training counts, for the
            popularity and mixture pools (the run passes them; not part of the record).
        diffusion (DiffusionConfig, optional): The shared settings as one record
            (`DiffusionConfig`); the flat keywords below override its fields.
            (default: ``None``, the defaults below)

    Other Parameters:
        num_steps (int): Diffusion steps $T$. (default: ``50``)
        schedule (str): ``"linear"``, ``"linear-var"`` or ``"cosine"``. (default: ``"cosine"``)
        noise_scale (float): Schedule scale. (default: ``1.0``)
        beta_min (float): Lower noise bound of the linear modes. (default: ``1e-4``)
        beta_max (float): Upper noise bound of the linear modes. (default: ``0.02``)
        prediction (str): Denoiser target, ``"x0"`` or ``"epsilon"``. (default: ``"x0"``)
        reweight (bool): Timestep reweighting of the diffusion loss. (default: ``False``)
        sampling_noise (bool): Posterior noise in the reverse chain. (default: ``False``)
        reverse_steps (int, optional): Denoiser calls per negative in ``"denoise"``
            mode: the chain from $t^*$ to $0$ is respaced to this many jumps;
            ``None`` takes all $t^*$ steps. (default: ``2``)
        hidden_channels (int): Denoiser width. (default: ``64``)
        num_environments (int, optional): $K$: in ``"denoise"`` mode, condition the
            denoiser on the batch's environments as well as the user (see
            `DiffusionSampler`; the trainer must be given ``environments``).
            (default: ``None``)
        environment_dim (int): Size of the environment embedding. (default: ``16``)
        dropout (float): Denoiser input dropout while training. (default: ``0.0``)
        sampling_dropout (bool): Keep that dropout on while sampling. (default: ``False``)
        denoiser_training (str): ``"alternate"`` or ``"joint"``. (default: ``"alternate"``)
        denoiser_lr (float): Learning rate of the denoiser in alternate mode. (default: ``1e-3``)
        diffusion_weight (float): Weight of the diffusion loss in the reported loss. (default: ``1e-6``)
        warmup_epochs (int): Epochs of uniform sampling first. (default: ``0``)
        probe (bool): Report the nearest real item of each synthesized negative. (default: ``False``)

    Examples:
        >>> sampler = ADARSampler(PairSet(torch.tensor([[0], [0]]), num_users=1, num_items=4), num_steps=4)
        >>> [round(float(v), 3) for v in sampler.diffusion.schedule.sqrt_alphas_cumprod[1:]]
        [0.92, 0.703, 0.38, 0.012]
        >>> sampler.transition_step(torch.tensor([1.0, 1.0, 2.0, -1.0]), torch.tensor([0.8, 0.1, 2.5, -3.0])).tolist()
        [2, 4, 1, 4]
    """

    diffusion_defaults = DiffusionConfig(num_steps=50, schedule="cosine", noise_scale=1.0)
    context_arguments = ("item_popularity",)
    value_aliases = {"combine": COMBINE_ALIASES}

    @register_to_config
    def __init__(
        self,
        train_pairs: PairSet,
        embedding_dim: int | None = None,
        *,
        generation: Literal["forward", "denoise"] = "forward",
        combine: Literal["separate", "replace"] = "separate",
        t_min: int = 1,
        t_max: int | None = None,
        skip_edge_cases: bool = True,
        gradient: Literal["detach", "reference"] = "reference",
        forward_noise: bool = False,
        synthesized_weight: float | None = None,
        reference_pool: PoolName = "uniform",
        pool_alpha: float = 0.75,
        pool_candidates: int = 32,
        pool_mix: float = 0.5,
        item_popularity: Tensor | None = None,
        diffusion: DiffusionConfig,
    ) -> None:
        num_steps = diffusion.num_steps
        if not 1 <= t_min <= (t_max if t_max is not None else num_steps) <= num_steps:
            raise ValueError(
                f"need 1 <= t_min <= t_max <= num_steps, got {t_min}, {t_max}, {num_steps}"
            )
        if synthesized_weight is not None and synthesized_weight < 0:
            raise ValueError(f"synthesized_weight must be >= 0, got {synthesized_weight}")
        if gradient not in ("detach", "reference"):
            raise ValueError(f"gradient must be 'detach' or 'reference', got {gradient!r}")
        if generation not in ("forward", "denoise"):
            raise ValueError(f"generation must be 'forward' or 'denoise', got {generation!r}")
        if combine not in ("replace", "separate"):
            raise ValueError(
                f"combine must be 'replace' or 'separate' (formerly 'add'), got {combine!r}"
            )
        if generation == "denoise" and embedding_dim is None:
            raise ValueError("generation='denoise' needs embedding_dim (the backbone's output_dim)")
        if generation != "denoise" and diffusion.num_environments is not None:
            raise ValueError(
                "num_environments conditions the denoiser: it needs generation='denoise'"
            )
        # Only "denoise" has a denoiser, conditioned on the user's row.
        denoise = embedding_dim if generation == "denoise" else None
        super().__init__(train_pairs, diffusion, embedding_dim=denoise, user_dim=denoise)
        self.embedding_dim = embedding_dim
        self.generation, self.combine = generation, combine
        self.t_min, self.t_max = t_min, t_max if t_max is not None else num_steps
        self.skip_edge_cases = skip_edge_cases
        self.gradient = gradient
        self.forward_noise = forward_noise
        self.synthesized_weight = synthesized_weight
        self.set_pool(
            train_pairs,
            reference_pool,
            item_popularity=item_popularity,
            alpha=pool_alpha,
            num_candidates=pool_candidates,
            mix=pool_mix,
        )

    @classmethod
    def resolve(
        cls, options: dict[str, Any], diffusion: DiffusionConfig
    ) -> tuple[dict[str, Any], DiffusionConfig]:
        """Accepts ``combine="add"``, the former name of ``"separate"`` (see `DiffusionSampler.resolve`).

        Args:
            options (dict): The own arguments of the call.
            diffusion (DiffusionConfig): The shared settings of the call.

        Returns:
            tuple: ``(options, diffusion)``.
        """
        return {
            **options,
            "combine": COMBINE_ALIASES.get(options["combine"], options["combine"]),
        }, diffusion

    def transition_step(self, pos_score: Tensor, ref_score: Tensor) -> Tensor:
        r"""The transition point $t^*$ of every pair (see the class description).

        Args:
            pos_score (torch.Tensor): ``[B]`` scores $s_{ui}$ of the positives.
            ref_score (torch.Tensor): ``[B]`` scores $s_{\text{ref}}$ of the references.

        Returns:
            torch.Tensor: ``[B]`` steps in $\{1, \ldots, T\}$ (``long``).
        """
        T = self.diffusion.num_steps
        sqrt_ab = self.diffusion.schedule.sqrt_alphas_cumprod[1:]  # decreasing in t
        positive = pos_score > 0
        ratio = torch.where(positive, ref_score / torch.where(positive, pos_score, 1.0), 0.0)
        # Steps still above the ratio are t = 1..k (a prefix); t* = k + 1.
        k = T - torch.searchsorted(
            sqrt_ab.flip(0).contiguous(), ratio.to(sqrt_ab.dtype).contiguous(), right=True
        )
        t = torch.where(positive, (k + 1).clamp(max=T), torch.full_like(k, T))
        return torch.where(pos_score <= ref_score, torch.ones_like(t), t)

    def forward(self, users: Tensor, pos_items: Tensor, state: SamplerState) -> NegativeSample:
        emb, generator = state.emb, state.generator
        ref_items = self.pool(self, users, state)
        user_emb, pos_emb, ref_emb = (
            emb.user[users].detach(),
            emb.item[pos_items],
            emb.item[ref_items],
        )
        x0, scale = to_unit_rms(pos_emb.detach())
        cond = self.condition(user_emb, state) if self.denoiser is not None else None
        diffusion_term, logs = self.fit_denoiser(x0, cond, generator)
        if self.in_warmup(state):
            return NegativeSample(emb=ref_emb, items=ref_items, aux_loss=diffusion_term, logs=logs)

        pos_score = (user_emb * pos_emb.detach()).sum(-1)
        t_raw = self.transition_step(pos_score, (user_emb * ref_emb.detach()).sum(-1))
        T = self.diffusion.num_steps
        edge = (t_raw == 1) | (t_raw == T)
        t_star = t_raw.clamp(self.t_min, self.t_max)
        with self.sampling():
            noise = None if self.forward_noise else torch.zeros_like(x0)
            x = self.diffusion.q_sample(x0, t_star, noise=noise, generator=generator)
            if self.denoiser is not None:
                x = self.diffusion.reverse(
                    self.denoiser,
                    x,
                    t_star,
                    cond,
                    steps=self.reverse_steps,
                    sampling_noise=self.sampling_noise,
                    generator=generator,
                )
            synthesized = x * scale
        if self.gradient == "reference":
            synthesized = ref_emb + (synthesized - ref_emb.detach())
        logs.update(
            {
                "transition_step": float(t_star.float().mean()),
                "transition_at_1": float((t_raw == 1).float().mean()),
                "transition_at_T": float((t_raw == T).float().mean()),
            }
        )
        keep = (~edge).to(ref_emb.dtype) if self.skip_edge_cases else torch.ones_like(pos_score)
        if self.combine == "replace":
            neg = (
                torch.where(keep.bool().unsqueeze(-1), synthesized, ref_emb)
                if self.skip_edge_cases
                else synthesized
            )
            self.diagnose(
                logs,
                users,
                emb.user,
                emb.item,
                user_emb,
                pos_emb,
                synthesized,
                (user_emb * neg.detach()).sum(-1),
                ref_emb if self.skip_edge_cases else None,
            )
            sample = NegativeSample(emb=neg, aux_loss=diffusion_term, logs=logs)
            return self.with_probe(sample, users, synthesized, emb.item)
        neg = torch.stack([ref_emb, synthesized], dim=1)
        if self.synthesized_weight is not None:
            # The reference at full weight, the synthesized term at w (0 for a skipped pair).
            weight = torch.stack([torch.ones_like(keep), self.synthesized_weight * keep], dim=-1)
        elif self.skip_edge_cases:
            # A skipped pair's weight moves to the reference: its BPR term keeps weight 1.
            weight = torch.stack([1 - 0.5 * keep, 0.5 * keep], dim=-1)
        else:
            weight = None
        self.diagnose(
            logs,
            users,
            emb.user,
            emb.item,
            user_emb,
            pos_emb,
            synthesized,
            torch.einsum("bd,bkd->bk", user_emb, neg.detach()),
            ref_emb,
        )
        sample = NegativeSample(
            emb=neg, items=ref_items, aux_loss=diffusion_term, logs=logs, weight=weight
        )
        return self.with_probe(sample, users, synthesized, emb.item, real=ref_items)
