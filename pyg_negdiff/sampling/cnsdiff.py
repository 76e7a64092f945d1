r"""CNSDiff: hard negatives synthesized by a diffusion model at several noise levels."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.sampling.anchors import PooledSampler, PoolName
from pyg_negdiff.sampling.base import NegativeSample, SamplerState

# GRADIENT_ALIASES and PUBLISHED lived here.
from pyg_negdiff.sampling.cnsdiff_presets import (
    GRADIENT_ALIASES,
    PUBLISHED,
    apply_preset,
)  # noqa: F401
from pyg_negdiff.sampling.contrastive import info_nce_loss
from pyg_negdiff.sampling.curriculum import sample_beta
from pyg_negdiff.sampling.diffusion_base import DiffusionSampler, to_unit_rms
from pyg_negdiff.sampling.diffusion_config import DiffusionConfig, Gradient, register_to_config
from pyg_negdiff.sampling.level_selection import select_band, select_hardest, start_mean


class CNSDiffSampler(PooledSampler, DiffusionSampler):
    r"""The negative sampler of Zhao et al., ["Causal Negative Sampling via
    Diffusion Model for Out-of-Distribution Recommendation"](https://arxiv.org/abs/2508.07243)
    (CNSDiff, 2025), with a denoiser that learns, and the variants of the
    library's diffusion ablation as constructor options.

    For a batch of (user $u$, positive $i$) pairs with pooled embeddings
    $\mathbf{e}_u, \mathbf{e}_i$ and a real non-positive $j$ from the anchor
    pool (``anchor_pool``, `pyg_negdiff.sampling.anchors`: uniform by default,
    popularity-weighted $\propto n_j^{\alpha}$, DNS's hardest of $M$, or a
    mixture of the last two):

    1. **Candidates.** For every level $t_k \in \{t_{\text{start}},
        t_{\text{start}} + \Delta, \ldots\} \cap [1, t_{\max}]$ a start point
        $x_{t_k}$ is built in the unit-RMS space (see `to_unit_rms`) and
        denoised by the reverse chain from $t_k$ to $0$ (``full_chain``: from
        $T$, as the published code does), then scaled back:
        $\mathbf{c}_k = r_a \hat x_0^{(k)}$. The start point depends on ``anchor``:

        - ``"positive"`` (published): the positive is noised,
          $x_{t_k} = \sqrt{\bar\alpha_{t_k}}\, z_i + \sqrt{1 - \bar\alpha_{t_k}}\,\boldsymbol\epsilon$,
          $a = i$;
        - ``"negative"``: the real negative is moved towards the positive,
          $x_{t_k} = \sqrt{\bar\alpha_{t_k}}\, z_j + \sqrt{1 - \bar\alpha_{t_k}}\, z_i$,
          $a = j$: hardness grows with $t_k$ from a true non-positive.

    2. **Selection** (``selection``). ``"hardest"`` (published):
        $\mathbf{h} = \mathbf{c}_{k^*}$, $k^* = \arg\max_k \mathbf{e}_u^\top \mathbf{c}_k$.
        ``"band"``: the highest-scoring candidate *below* the positive,
        $k^* = \arg\max_{k:\, s_{uc_k} < s_{ui}} s_{uc_k}$, or the lowest when
        none is below: the margin of the synthesized negative can always be won.
        ``"dns-band"`` (issue 22, hypothesis 2): the same with the bound
        $\min(s_{ui}, s_{u\hat\jmath})$, $s_{u\hat\jmath} = \max_{j \in C_u} s_{uj}$ DNS's
        score over ``pool_candidates`` fresh uniform non-positives: as hard as a
        DNS negative, never harder (not on sampled subgraphs).
    3. **Gradient** (``gradient``: which real rows the synthesized row's BPR
        gradient reaches, the meaning it has in `ADARSampler` too). ``"detach"``
        (published): none, $\mathbf{h}$ is a constant. ``"anchor"`` (formerly
        ``"straight-through"``, still accepted): $\mathbf{h} = \mathbf{e}_a +
        \mathrm{sg}(\mathbf{c}_{k^*} - \mathbf{e}_a)$, so the BPR gradient of the
        synthesized negative reaches the anchor's embedding. ``"linear"``:
        $\mathbf{h} = \mathbf{m} + \mathrm{sg}(\mathbf{c}_{k^*} - \mathbf{m})$ with
        $\mathbf{m}$ the noise-free part of the start point in the embedding
        scale, $\sqrt{\bar\alpha_{t}}\,\mathbf{e}_i$ or
        $\sqrt{\bar\alpha_{t}}\,\mathbf{e}_j + \sqrt{1 - \bar\alpha_{t}}\,(r_j / r_i)\,\mathbf{e}_i$:
        every real row the candidate is made of gets its share of the gradient,
        as in MixGCF's positive mixing (the positive is then also pushed down
        by the synthesized negative, in proportion to its frequency).
    4. **Combination** (``combine``). With the curriculum share
        $\lambda = (1 - \rho)\,\tilde\lambda$, $\tilde\lambda \sim \mathrm{Beta}(a_\tau, b_\tau)$,
        where $(a_\tau, b_\tau) = (1 - \tau)(a_0, b_0) + \tau (a_1, b_1)$ moves
        linearly with the training progress $\tau \in [0, 1]$
        (`SamplerState.progress`) from $(1, 9)$ (mean share $0.1$) to $(9, 1)$
        (mean $0.9$), and the floor $\rho$ on the random negative's share:

        ``"mix"`` (published) gives one negative
        $\mathbf{e}^-_{ui} = \lambda\,\mathbf{h} + (1 - \lambda)\,\mathbf{e}_j$;
        ``"separate"`` gives two BPR terms, the real negative at full weight and
        the synthesized one weighted $w\lambda$ (``separate_weight`` $= w$):
        $\ell_{ui} = -\log\sigma(s_{ui} - s_{uj}) - w\lambda\log\sigma(s_{ui} - s_{uh})$.

    5. **Contrastive term.** InfoNCE with temperature $\tau_c$ between the
        positive and a slightly noised view of itself, against the synthesized
        and the random negatives, with cosine similarity $\cos$:

        $$
        \mathcal{L}_{\text{cl}} = -\frac{1}{B}\sum_{(u,i)} \log
        \frac{e^{\cos(\mathbf{e}_i, \tilde{\mathbf{e}}_i)/\tau_c}}
             {e^{\cos(\mathbf{e}_i, \tilde{\mathbf{e}}_i)/\tau_c}
              + \sum_{\mathbf{n} \in N_{ui}} e^{\cos(\mathbf{e}_i, \mathbf{n})/\tau_c}},
        \qquad \tilde{\mathbf{e}}_i = \mathbf{e}_i + \sigma_p r_i \boldsymbol{\epsilon},
        $$

        where $N_{ui} = \{\mathbf{h}, \mathbf{e}_j\}$ (``contrast_scope="pair"``)
        or the synthesized and random negatives of the whole batch (``"batch"``,
        as published; $O(B^2 D')$).

    With ``synthesize=False`` nothing is synthesized: the negative is
    $\mathbf{e}_j$ and $N_{ui}$ holds the random negatives only (uniform
    sampling plus the contrastive term, which isolates what that term adds).
    The sampler returns the negative(s) for BPR and
    $\mathcal{L}_{\text{aux}} = w_{\text{cl}} \mathcal{L}_{\text{cl}} + \lambda_d \mathcal{L}_{\text{diff}}$
    (see `DiffusionSampler` for how the denoiser learns, and for the
    diagnostics every batch logs).

    Why the published combination (``anchor="positive"``, ``gradient="detach"``)
    favours popular items, and why the default noise scale is $10$ and not the
    published $0.1$, is on the concepts page, "CNSDiff and ADAR".

    ``preset="published"`` reproduces the authors' code as a reference row
    (`PUBLISHED`): noise scale $0.1$, levels $10, 14, 18$ of 20 with the full
    reverse chain, a denoiser that is never trained (``denoiser_training="frozen"``)
    with dropout $0.5$ left on while sampling, no floor $\rho$, the batch-scope
    contrastive term. Its causal term (a KL between adjacent diffusion steps
    weighted $10^{-7}$) is left out: at that weight it does not change training.

    Args:
        train_pairs (PairSet): Training positives, never drawn as the random negative.
        embedding_dim (int): Size $D'$ of the backbone's pooled embeddings
            (``model.output_dim``).
        start_step (int): First level $t_{\text{start}}$. (default: ``10``)
        step_stride (int): Level stride $\Delta$. (default: ``4``)
        max_step (int): Last level allowed, $t_{\max} \le T$. (default: ``20``)
        beta_start (tuple): $(a_0, b_0)$. (default: ``(1.0, 9.0)``)
        beta_end (tuple): $(a_1, b_1)$. (default: ``(9.0, 1.0)``)
        min_random_share (float): Floor $\rho$ on the random negative's share. (default: ``0.1``)
        cl_weight (float): $w_{\text{cl}}$. (default: ``0.3``)
        temperature (float): $\tau_c$. (default: ``2.0``)
        positive_noise (float): $\sigma_p$, relative to the row's RMS. (default: ``0.01``)
        contrast_scope (str): ``"pair"`` or ``"batch"``. (default: ``"pair"``)
        full_chain (bool): Run the reverse chain from $T$ whatever the level (the
            published code). (default: ``False``)
        condition_on_user (bool): Condition the denoiser on the user's row. (default: ``False``)
        anchor (str): ``"positive"`` or ``"negative"`` (step 1). (default: ``"negative"``)
        selection (str): ``"hardest"``, ``"band"`` or ``"dns-band"`` (step 2).
            (default: ``"hardest"``)
        gradient (str): ``"detach"``, ``"anchor"`` (or its former name
            ``"straight-through"``) or ``"linear"`` (step 3). (default: ``"anchor"``)
        combine (str): ``"mix"`` or ``"separate"`` (step 4). (default: ``"mix"``)
        separate_weight (float): $w$ of ``combine="separate"``. (default: ``1.0``)
        synthesize (bool): ``False``: uniform negatives plus the contrastive term. (default: ``True``)
        anchor_pool (str): Where $j$ comes from: ``"uniform"``, ``"popularity"``,
            ``"dns"`` or ``"mixture"`` (`AnchorPool`). (default: ``"uniform"``)
        pool_alpha (float): $\alpha$ of the popularity pool. (default: ``0.75``)
        pool_candidates (int): $M$ of the DNS pool. (default: ``32``)
        pool_mix (float): Share of popularity draws in the mixture. (default: ``0.5``)
        item_popularity (torch.Tensor, optional): ``[I]`` training counts, for the
            popularity and mixture pools (the run passes them; not part of the record).
        preset (str, optional): ``"published"`` sets every option of `PUBLISHED`;
            giving one of them a different, non-default value as well is an error.
            (default: ``None``)
        diffusion (DiffusionConfig, optional): The shared settings as one record
            (`DiffusionConfig`); the flat keywords below override its fields.
            (default: ``None``, the defaults below)

    Other Parameters:
        num_steps (int): Diffusion steps $T$. (default: ``20``)
        schedule (str): ``"linear"``, ``"linear-var"`` or ``"cosine"``. (default: ``"linear-var"``)
        noise_scale (float): Schedule scale. (default: ``10.0``; published ``0.1``)
        beta_min (float): Lower noise bound. (default: ``1e-4``)
        beta_max (float): Upper noise bound. (default: ``0.02``)
        diffusion_weight (float): $\lambda_d$. (default: ``1e-6``)
        prediction (str): Denoiser target, ``"x0"`` or ``"epsilon"``. (default: ``"x0"``)
        reweight (bool): Timestep reweighting of the diffusion loss. (default: ``False``)
        sampling_noise (bool): Add posterior noise in the reverse chain. (default: ``False``)
        reverse_steps (int, optional): Denoiser calls per candidate: the chain from
            $t_k$ to $0$ is respaced to this many jumps (`GaussianDiffusion.reverse`);
            ``None`` takes all $t_k$ steps. (default: ``2``)
        hidden_channels (int): Denoiser width. (default: ``64``)
        num_environments (int, optional): $K$: condition the denoiser on the batch's
            environments as well (see `DiffusionSampler`; the trainer must be given
            ``environments``). (default: ``None``, no environment condition)
        environment_dim (int): Size of the environment embedding. (default: ``16``)
        dropout (float): Denoiser input dropout while training. (default: ``0.0``)
        sampling_dropout (bool): Keep that dropout on while sampling. (default: ``False``)
        denoiser_training (str): ``"alternate"``, ``"joint"`` or ``"frozen"``. (default: ``"alternate"``)
        denoiser_lr (float): Learning rate of the denoiser in alternate mode. (default: ``1e-3``)
        warmup_epochs (int): Epochs of uniform sampling first. (default: ``0``)
        probe (bool): Report the nearest real item of each negative. (default: ``False``)

    Examples:
        >>> from pyg_negdiff.nn.base import Embeddings
        >>> pairs = PairSet(torch.tensor([[0, 1], [0, 1]]), num_users=2, num_items=6)
        >>> sampler = CNSDiffSampler(pairs, embedding_dim=8)
        >>> emb = Embeddings(torch.randn(2, 1, 8), torch.randn(6, 1, 8))
        >>> out = sampler(torch.tensor([0, 1]), torch.tensor([0, 1]), SamplerState(emb))
        >>> out.emb.shape, out.aux_loss.dim()
        (torch.Size([2, 8]), 0)
        >>> CNSDiffSampler(pairs, embedding_dim=8, preset="published").levels
        [10, 14, 18]
    """

    diffusion_defaults = DiffusionConfig(num_steps=20, schedule="linear-var", noise_scale=10.0)
    context_arguments = ("item_popularity",)
    value_aliases = {"gradient": GRADIENT_ALIASES}

    @register_to_config
    def __init__(
        self,
        train_pairs: PairSet,
        embedding_dim: int,
        *,
        start_step: int = 10,
        step_stride: int = 4,
        max_step: int = 20,
        beta_start: tuple[float, float] = (1.0, 9.0),
        beta_end: tuple[float, float] = (9.0, 1.0),
        min_random_share: float = 0.1,
        cl_weight: float = 0.3,
        temperature: float = 2.0,
        positive_noise: float = 0.01,
        contrast_scope: Literal["pair", "batch"] = "pair",
        full_chain: bool = False,
        condition_on_user: bool = False,
        anchor: Literal["positive", "negative"] = "negative",
        selection: Literal["hardest", "band", "dns-band"] = "hardest",
        gradient: Gradient = "anchor",
        combine: Literal["mix", "separate"] = "mix",
        separate_weight: float = 1.0,
        synthesize: bool = True,
        anchor_pool: PoolName = "uniform",
        pool_alpha: float = 0.75,
        pool_candidates: int = 32,
        pool_mix: float = 0.5,
        item_popularity: Tensor | None = None,
        preset: Literal["published"] | None = None,
        diffusion: DiffusionConfig,
    ) -> None:
        for name, value, allowed in (
            ("contrast_scope", contrast_scope, ("pair", "batch")),
            ("anchor", anchor, ("positive", "negative")),
            ("selection", selection, ("hardest", "band", "dns-band")),
            ("gradient", gradient, ("detach", "anchor", "linear")),
            ("combine", combine, ("mix", "separate")),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if not 1 <= start_step <= max_step <= diffusion.num_steps:
            raise ValueError(
                f"need 1 <= start_step <= max_step <= num_steps, got "
                f"{start_step}, {max_step}, {diffusion.num_steps}"
            )
        if step_stride < 1:
            raise ValueError(f"step_stride must be >= 1, got {step_stride}")
        if min(*beta_start, *beta_end) <= 0:
            raise ValueError(f"Beta parameters must be positive, got {beta_start} and {beta_end}")
        if not 0 <= min_random_share < 1:
            raise ValueError(f"min_random_share must lie in [0, 1), got {min_random_share}")
        if separate_weight < 0:
            raise ValueError(f"separate_weight must be >= 0, got {separate_weight}")
        super().__init__(
            train_pairs,
            diffusion,
            embedding_dim=embedding_dim,
            user_dim=embedding_dim if condition_on_user else None,
        )
        self.embedding_dim = embedding_dim
        self.preset = preset
        self.levels = list(range(start_step, max_step + 1, step_stride))
        self.beta_start, self.beta_end = tuple(beta_start), tuple(beta_end)
        self.min_random_share = min_random_share
        self.cl_weight, self.temperature = cl_weight, temperature
        self.positive_noise, self.contrast_scope = positive_noise, contrast_scope
        self.full_chain = full_chain
        self.condition_on_user = condition_on_user
        self.anchor, self.selection, self.gradient = anchor, selection, gradient
        self.combine, self.separate_weight = combine, separate_weight
        self.synthesize = synthesize
        self.set_pool(
            train_pairs,
            anchor_pool,
            item_popularity=item_popularity,
            alpha=pool_alpha,
            num_candidates=pool_candidates,
            mix=pool_mix,
        )
        if selection == "dns-band":  # its DNS candidates are not declared for subgraphs
            self.subgraph_ready = False

    @classmethod
    def resolve(
        cls, options: dict[str, Any], diffusion: DiffusionConfig
    ) -> tuple[dict[str, Any], DiffusionConfig]:
        """Applies ``preset`` and the old name of a ``gradient`` value (see `DiffusionSampler.resolve`).

        Args:
            options (dict): The own arguments of the call.
            diffusion (DiffusionConfig): The shared settings of the call.

        Returns:
            tuple: ``(options, diffusion)`` with the preset's values.
        """
        return apply_preset(cls, options, diffusion)

    # -------------------------------------------------------------- steps
    def beta_params(self, progress: float) -> tuple[float, float]:
        r"""$(a_\tau, b_\tau)$, linear in the progress $\tau \in [0, 1]$.

        Args:
            progress (float): Training progress $\tau$ (clipped to $[0, 1]$).

        Returns:
            tuple: The Beta parameters $(a_\tau, b_\tau)$.
        """
        tau = min(max(progress, 0.0), 1.0)
        (a0, b0), (a1, b1) = self.beta_start, self.beta_end
        return a0 + (a1 - a0) * tau, b0 + (b1 - b0) * tau

    def mix_ratio(
        self,
        num: int,
        progress: float,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> Tensor:
        r"""``[num]`` shares $\lambda = (1 - \rho)\tilde\lambda$ of the synthesized negative.

        Args:
            num (int): Number of draws.
            progress (float): Training progress $\tau$.
            generator (torch.Generator, optional): Source of randomness.
            device (torch.device or str, optional): Device of the result.

        Returns:
            torch.Tensor: ``[num]`` shares in $[0, 1 - \rho]$.
        """
        a, b = self.beta_params(progress)
        return (1 - self.min_random_share) * sample_beta(a, b, num, generator, device)

    def candidates(
        self,
        x0: Tensor,
        cond: Tensor | None = None,
        generator: torch.Generator | None = None,
        toward: Tensor | None = None,
    ) -> Tensor:
        r"""Denoised candidates of unit-RMS rows ``x0`` ``[B, D']``, one per level: ``[K, B, D']``.

        Each row is noised to every level $t_k$ (independent noise per level),
        or, with ``toward``, moved towards those rows instead of noise
        ($\sqrt{\bar\alpha_{t_k}}\, x_0 + \sqrt{1 - \bar\alpha_{t_k}}\, \text{toward}$),
        and denoised from there; the $K$ levels go through one batched
        `GaussianDiffusion.reverse` call of $K B$ rows.

        Args:
            x0 (torch.Tensor): ``[B, D']`` unit-RMS start rows.
            cond (torch.Tensor, optional): ``[B, C]`` denoiser conditions.
            generator (torch.Generator, optional): Source of the noise.
            toward (torch.Tensor, optional): ``[B, D']`` unit-RMS rows that replace the noise.

        Returns:
            torch.Tensor: ``[K, B, D']`` candidates in the unit-RMS space.
        """
        K, B = len(self.levels), x0.size(0)
        t = torch.tensor(self.levels, device=x0.device).repeat_interleave(B)
        x0_all = x0.repeat(K, 1)
        cond_all = cond.repeat(K, 1) if cond is not None else None
        noise = toward.repeat(K, 1) if toward is not None else None
        with self.sampling():
            x_t = self.diffusion.q_sample(x0_all, t, noise=noise, generator=generator)
            t_rev = torch.full_like(t, self.diffusion.num_steps) if self.full_chain else t
            out = self.diffusion.reverse(
                self.denoiser,
                x_t,
                t_rev,
                cond_all,
                steps=self.reverse_steps,
                sampling_noise=self.sampling_noise,
                generator=generator,
            )
        return out.view(K, B, -1)

    # The level selection rules, as functions of their own (`pyg_negdiff.sampling.level_selection`).
    select_hardest = staticmethod(select_hardest)
    select_band = staticmethod(select_band)

    def contrastive_loss(
        self,
        pos_emb: Tensor,
        hard: Tensor | None,
        rand_emb: Tensor,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        r"""$\mathcal{L}_{\text{cl}}$ with this sampler's noise, temperature and scope.

        Args:
            pos_emb (torch.Tensor): ``[B, D']`` positive rows (the anchors).
            hard (torch.Tensor, optional): ``[B, D']`` synthesized negatives (``None``: none).
            rand_emb (torch.Tensor): ``[B, D']`` random negatives.
            generator (torch.Generator, optional): Source of the view's noise.

        See `pyg_negdiff.sampling.contrastive.info_nce_loss`.
        """
        return info_nce_loss(
            pos_emb,
            hard,
            rand_emb,
            positive_noise=self.positive_noise,
            temperature=self.temperature,
            scope=self.contrast_scope,
            generator=generator,
        )

    # ------------------------------------------------------------ forward
    def forward(self, users: Tensor, pos_items: Tensor, state: SamplerState) -> NegativeSample:
        emb, generator = state.emb, state.generator
        rand_items = self.pool(self, users, state)
        pos_emb, rand_emb = emb.item[pos_items], emb.item[rand_items]
        user_emb = emb.user[users].detach()
        x0, scale = to_unit_rms(pos_emb.detach())
        cond = self.condition(user_emb if self.condition_on_user else None, state)
        diffusion_term, logs = self.fit_denoiser(x0, cond, generator)
        if self.in_warmup(state):
            return NegativeSample(
                emb=rand_emb, items=rand_items, aux_loss=diffusion_term, logs=logs
            )
        if not self.synthesize:
            aux = self.cl_weight * self.contrastive_loss(pos_emb, None, rand_emb, generator)
            aux = aux if diffusion_term is None else aux + diffusion_term
            self.diagnose(
                logs,
                users,
                emb.user,
                emb.item,
                user_emb,
                pos_emb,
                rand_emb,
                (user_emb * rand_emb.detach()).sum(-1),
                rand_emb,
            )
            return NegativeSample(emb=rand_emb, items=rand_items, aux_loss=aux, logs=logs)

        if self.anchor == "positive":
            anchor_emb, ratio = pos_emb, None
            cands = self.candidates(x0, cond, generator) * scale  # back to the embedding scale
        else:
            xj, scale_j = to_unit_rms(rand_emb.detach())
            anchor_emb, ratio = rand_emb, scale_j / scale
            cands = self.candidates(xj, cond, generator, toward=x0) * scale_j
        scores = torch.einsum("bd,kbd->kb", user_emb, cands)
        if self.selection != "hardest":
            bound = (user_emb * pos_emb.detach()).sum(-1)
            if self.selection == "dns-band":
                bound = torch.minimum(bound, self.pool.dns_score(self, users, state))
            hard, level = self.select_band(cands, scores, bound)
        else:
            hard, level = self.select_hardest(cands, scores)
        t_level = torch.tensor(self.levels, device=level.device)[level]  # the chosen steps
        if self.gradient != "detach":
            base = (
                anchor_emb
                if self.gradient == "anchor"
                else start_mean(self.diffusion.schedule, t_level, pos_emb, rand_emb, ratio)
            )
            hard = base + (hard - base.detach())
        lam = self.mix_ratio(users.numel(), state.progress, generator, users.device).unsqueeze(-1)
        if self.combine == "mix":
            neg, weight = lam * hard + (1 - lam) * rand_emb, None
            neg_scores = (user_emb * neg.detach()).sum(-1)
        else:
            neg = torch.stack([rand_emb, hard], dim=1)
            weight = torch.cat([torch.ones_like(lam), self.separate_weight * lam], dim=-1)
            neg_scores = torch.einsum("bd,bkd->bk", user_emb, neg.detach())
        aux = self.cl_weight * self.contrastive_loss(pos_emb, hard, rand_emb, generator)
        if diffusion_term is not None:
            aux = aux + diffusion_term
        with torch.no_grad():
            steps = t_level.float()
            pos_norm = pos_emb.detach().norm(dim=-1).clamp_min(1e-12)
            moved = (hard - pos_emb).detach().norm(dim=-1) / pos_norm
        logs.update(
            {
                "mix_ratio": float(lam.mean()),
                "hard_level": float(steps.mean()),
                "hard_distance": float(moved.mean()),
                "hard_score": float(scores.max(0).values.mean()),
            }
        )
        self.diagnose(
            logs, users, emb.user, emb.item, user_emb, pos_emb, hard, neg_scores, rand_emb
        )
        sample = NegativeSample(emb=neg, items=rand_items, aux_loss=aux, logs=logs, weight=weight)
        return self.with_probe(
            sample,
            users,
            hard if self.combine == "separate" else neg,
            emb.item,
            real=rand_items if self.combine == "separate" else None,
        )
