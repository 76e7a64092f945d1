r"""CNSDiff: hard negatives synthesized by a diffusion model at several noise levels."""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.diffusion import (
    EnvironmentEmbedding,
    GaussianDiffusion,
    MLPDenoiser,
    NoiseSchedule,
    Prediction,
    ScheduleMode,
)
from pyg_negdiff.diffusion.gaussian import randn
from pyg_negdiff.sampling.base import NegativeSample, SamplerState
from pyg_negdiff.sampling.generative import DenoiserTraining, DiffusionSampler, to_unit_rms


def sample_beta(a: float, b: float, num: int, generator: torch.Generator | None = None,
                device: torch.device | str | None = None) -> Tensor:
    r"""``[num]`` draws of $\mathrm{Beta}(a, b)$ as $X / (X + Y)$, $X \sim \Gamma(a)$, $Y \sim \Gamma(b)$.

    Unlike `torch.distributions.Beta`, it draws from ``generator``.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = sample_beta(9.0, 1.0, 10000, g)
        >>> bool(x.min() >= 0 and x.max() <= 1), round(x.mean().item(), 1)
        (True, 0.9)
    """
    gen_device = generator.device if generator is not None else device
    x = torch._standard_gamma(torch.full((num,), float(a), device=gen_device), generator=generator)
    y = torch._standard_gamma(torch.full((num,), float(b), device=gen_device), generator=generator)
    out = x / (x + y).clamp_min(torch.finfo(x.dtype).tiny)
    return out.to(device) if device is not None else out


class CNSDiffSampler(DiffusionSampler):
    r"""The negative sampler of Zhao et al., ["Causal Negative Sampling via
    Diffusion Model for Out-of-Distribution Recommendation"](https://arxiv.org/abs/2508.07243)
    (CNSDiff, 2025), with a denoiser that learns.

    For a batch of (user $u$, positive $i$) pairs with pooled embeddings
    $\mathbf{e}_u, \mathbf{e}_i$:

    1. **Candidates.** In the unit-RMS space $x_0 = \mathbf{e}_i / r_i$ (see
        `to_unit_rms`), for every level $t_k \in \{t_{\text{start}},
        t_{\text{start}} + \Delta, \ldots\} \cap [1, t_{\max}]$ the positive is
        noised, $x_{t_k} \sim q(x_{t_k} \mid x_0)$, and denoised by the reverse
        chain from $t_k$ to $0$; scaled back, $\mathbf{c}_k = r_i \hat x_0^{(k)}$.
        The start step alone sets how far a candidate moves (the published code
        ran all $T$ steps whatever the level).
    2. **Hardest.** $\mathbf{h} = \mathbf{c}_{k^*}$,
        $k^* = \arg\max_k \mathbf{e}_u^\top \mathbf{c}_k$.
    3. **Mix.** With a uniform negative $j$,

        $$
        \mathbf{e}^-_{ui} = \lambda\,\mathbf{h} + (1 - \lambda)\,\mathbf{e}_j,\qquad
        \lambda = (1 - \rho)\,\tilde\lambda,\quad \tilde\lambda \sim \mathrm{Beta}(a_\tau, b_\tau),
        $$

        where $(a_\tau, b_\tau) = (1 - \tau)(a_0, b_0) + \tau (a_1, b_1)$ moves
        linearly with the training progress $\tau \in [0, 1]$
        (`SamplerState.progress`) from $(1, 9)$, mean share of the synthesized
        negative $0.1$, to $(9, 1)$, mean $0.9$: the hardness curriculum. The
        floor $\rho$ keeps at least that share of the random negative.

    4. **Contrastive term.** InfoNCE with temperature $\tau_c$ between the
        positive and a slightly noised view of itself, against the hardest and
        the random negatives, with cosine similarity $\cos$:

        $$
        \mathcal{L}_{\text{cl}} = -\frac{1}{B}\sum_{(u,i)} \log
        \frac{e^{\cos(\mathbf{e}_i, \tilde{\mathbf{e}}_i)/\tau_c}}
             {e^{\cos(\mathbf{e}_i, \tilde{\mathbf{e}}_i)/\tau_c}
              + \sum_{\mathbf{n} \in N_{ui}} e^{\cos(\mathbf{e}_i, \mathbf{n})/\tau_c}},
        \qquad \tilde{\mathbf{e}}_i = \mathbf{e}_i + \sigma_p r_i \boldsymbol{\epsilon},
        $$

        where $N_{ui} = \{\mathbf{h}, \mathbf{e}_j\}$ (``contrast_scope="pair"``)
        or the hardest and random negatives of the whole batch (``"batch"``, as
        published; $O(B^2 D')$).

    The sampler returns $\mathbf{e}^-$ for BPR and
    $\mathcal{L}_{\text{aux}} = w_{\text{cl}} \mathcal{L}_{\text{cl}} + \lambda_d \mathcal{L}_{\text{diff}}$
    (see `DiffusionSampler` for how the denoiser learns). Synthesized rows are
    constants: gradients reach the model through $\mathbf{e}_j$, the user and
    the positive.

    **Noise scale.** The published scale $0.1$ gives $1 - \bar\alpha_T = 0.002$:
    a candidate moves by $\sqrt{1 - \bar\alpha_t} \le 4.5\%$ of its norm,
    less than the denoiser's own error, and the levels cannot be told apart.
    The default $10$ here gives $1 - \bar\alpha_t = 0.095, 0.137, 0.179$ at
    the levels $10, 14, 18$ (see the concepts page for measured distances).

    Args:
        train_pairs (PairSet): Training positives, never drawn as the random negative.
        embedding_dim (int): Size $D'$ of the backbone's pooled embeddings
            (``model.output_dim``).
        num_steps (int): Diffusion steps $T$. (default: ``20``)
        schedule (str): ``"linear"``, ``"linear-var"`` or ``"cosine"``. (default: ``"linear-var"``)
        noise_scale (float): Schedule scale. (default: ``10.0``; published ``0.1``)
        beta_min (float): Lower noise bound. (default: ``1e-4``)
        beta_max (float): Upper noise bound. (default: ``0.02``)
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
        diffusion_weight (float): $\lambda_d$. (default: ``1e-6``)
        prediction (str): Denoiser target, ``"x0"`` or ``"epsilon"``. (default: ``"x0"``)
        reweight (bool): Timestep reweighting of the diffusion loss. (default: ``False``)
        sampling_noise (bool): Add posterior noise in the reverse chain. (default: ``False``)
        reverse_steps (int, optional): Denoiser calls per candidate: the chain from
            $t_k$ to $0$ is respaced to this many jumps (`GaussianDiffusion.reverse`);
            ``None`` takes all $t_k$ steps. (default: ``2``)
        hidden_channels (int): Denoiser width. (default: ``64``)
        condition_on_user (bool): Condition the denoiser on the user's row. (default: ``False``)
        num_environments (int, optional): $K$: condition the denoiser on the batch's
            environments as well (see `DiffusionSampler`; the trainer must be given
            ``environments``). (default: ``None``, no environment condition)
        environment_dim (int): Size of the environment embedding. (default: ``16``)
        dropout (float): Denoiser input dropout while training. (default: ``0.0``)
        denoiser_training (str): ``"alternate"`` or ``"joint"``. (default: ``"alternate"``)
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
    """

    def __init__(self, train_pairs: PairSet, embedding_dim: int, *, num_steps: int = 20,
                 schedule: ScheduleMode = "linear-var", noise_scale: float = 10.0, beta_min: float = 1e-4,
                 beta_max: float = 0.02, start_step: int = 10, step_stride: int = 4, max_step: int = 20,
                 beta_start: tuple[float, float] = (1.0, 9.0), beta_end: tuple[float, float] = (9.0, 1.0),
                 min_random_share: float = 0.1, cl_weight: float = 0.3, temperature: float = 2.0,
                 positive_noise: float = 0.01, contrast_scope: Literal["pair", "batch"] = "pair",
                 diffusion_weight: float = 1e-6, prediction: Prediction = "x0", reweight: bool = False,
                 sampling_noise: bool = False, reverse_steps: int | None = 2, hidden_channels: int = 64,
                 condition_on_user: bool = False, num_environments: int | None = None,
                 environment_dim: int = 16, dropout: float = 0.0, denoiser_training: DenoiserTraining = "alternate",
                 denoiser_lr: float = 1e-3, warmup_epochs: int = 0, probe: bool = False) -> None:
        if not 1 <= start_step <= max_step <= num_steps:
            raise ValueError(f"need 1 <= start_step <= max_step <= num_steps, got "
                             f"{start_step}, {max_step}, {num_steps}")
        if step_stride < 1:
            raise ValueError(f"step_stride must be >= 1, got {step_stride}")
        if min(*beta_start, *beta_end) <= 0:
            raise ValueError(f"Beta parameters must be positive, got {beta_start} and {beta_end}")
        if not 0 <= min_random_share < 1:
            raise ValueError(f"min_random_share must lie in [0, 1), got {min_random_share}")
        if contrast_scope not in ("pair", "batch"):
            raise ValueError(f"contrast_scope must be 'pair' or 'batch', got {contrast_scope!r}")
        diffusion = GaussianDiffusion(NoiseSchedule(num_steps, schedule, noise_scale, beta_min, beta_max),
                                      prediction=prediction, reweight=reweight)
        cond_dim = self.condition_dim(embedding_dim if condition_on_user else None, num_environments,
                                      environment_dim)
        denoiser = MLPDenoiser(embedding_dim, hidden_channels, cond_dim=cond_dim, dropout=dropout)
        env_embedding = EnvironmentEmbedding(num_environments, environment_dim) if num_environments else None
        super().__init__(train_pairs, diffusion=diffusion, denoiser=denoiser,
                         denoiser_training=denoiser_training, denoiser_lr=denoiser_lr,
                         diffusion_weight=diffusion_weight, warmup_epochs=warmup_epochs, probe=probe,
                         env_embedding=env_embedding)
        self.embedding_dim = embedding_dim
        self.levels = list(range(start_step, max_step + 1, step_stride))
        self.beta_start, self.beta_end = tuple(beta_start), tuple(beta_end)
        self.min_random_share = min_random_share
        self.cl_weight, self.temperature = cl_weight, temperature
        self.positive_noise, self.contrast_scope = positive_noise, contrast_scope
        self.sampling_noise = sampling_noise
        self.reverse_steps = reverse_steps
        self.condition_on_user = condition_on_user

    # -------------------------------------------------------------- steps
    def beta_params(self, progress: float) -> tuple[float, float]:
        r"""$(a_\tau, b_\tau)$, linear in the progress $\tau \in [0, 1]$."""
        tau = min(max(progress, 0.0), 1.0)
        (a0, b0), (a1, b1) = self.beta_start, self.beta_end
        return a0 + (a1 - a0) * tau, b0 + (b1 - b0) * tau

    def mix_ratio(self, num: int, progress: float, generator: torch.Generator | None = None,
                  device: torch.device | str | None = None) -> Tensor:
        r"""``[num]`` shares $\lambda = (1 - \rho)\tilde\lambda$ of the synthesized negative."""
        a, b = self.beta_params(progress)
        return (1 - self.min_random_share) * sample_beta(a, b, num, generator, device)

    def candidates(self, x0: Tensor, cond: Tensor | None = None,
                   generator: torch.Generator | None = None) -> Tensor:
        r"""Denoised candidates of unit-RMS rows ``x0`` ``[B, D']``, one per level: ``[K, B, D']``.

        Each row is noised to every level $t_k$ (independent noise per level)
        and denoised from there; the $K$ levels go through one batched
        `GaussianDiffusion.reverse` call of $K B$ rows, the denoiser in eval mode.
        """
        K, B = len(self.levels), x0.size(0)
        t = torch.tensor(self.levels, device=x0.device).repeat_interleave(B)
        x0_all = x0.repeat(K, 1)
        cond_all = cond.repeat(K, 1) if cond is not None else None
        with self.sampling():
            x_t = self.diffusion.q_sample(x0_all, t, generator=generator)
            out = self.diffusion.reverse(self.denoiser, x_t, t, cond_all, steps=self.reverse_steps,
                                         sampling_noise=self.sampling_noise, generator=generator)
        return out.view(K, B, -1)

    @staticmethod
    def select_hardest(candidates: Tensor, scores: Tensor) -> tuple[Tensor, Tensor]:
        r"""The candidate of highest score per pair.

        Args:
            candidates (torch.Tensor): ``[K, B, D']``.
            scores (torch.Tensor): ``[K, B]`` user scores of the candidates.

        Returns:
            tuple: ``[B, D']`` hardest candidates and ``[B]`` their level index $k^*$.

        Examples:
            >>> c = torch.arange(12.0).view(3, 2, 2)
            >>> hard, k = CNSDiffSampler.select_hardest(c, torch.tensor([[0., 5.], [2., 1.], [1., 0.]]))
            >>> k.tolist(), hard.tolist()
            ([1, 0], [[4.0, 5.0], [2.0, 3.0]])
        """
        index = scores.argmax(dim=0)
        hard = candidates.gather(0, index.view(1, -1, 1).expand(1, -1, candidates.size(-1))).squeeze(0)
        return hard, index

    def contrastive_loss(self, pos_emb: Tensor, hard: Tensor, rand_emb: Tensor,
                         generator: torch.Generator | None = None) -> Tensor:
        r"""$\mathcal{L}_{\text{cl}}$ (InfoNCE over cosine similarities, temperature $\tau_c$)."""
        rms = pos_emb.detach().norm(dim=-1, keepdim=True) / pos_emb.size(-1) ** 0.5
        view = pos_emb + self.positive_noise * rms * randn(pos_emb.shape, pos_emb, generator)
        anchor = F.normalize(pos_emb, dim=-1)
        positive = (anchor * F.normalize(view, dim=-1)).sum(-1, keepdim=True)
        if self.contrast_scope == "pair":
            negative = torch.stack([(anchor * F.normalize(n, dim=-1)).sum(-1) for n in (hard, rand_emb)], dim=-1)
        else:
            negative = anchor @ F.normalize(torch.cat([hard, rand_emb]), dim=-1).t()
        logits = torch.cat([positive, negative], dim=-1) / self.temperature
        return -torch.log_softmax(logits, dim=-1)[:, 0].mean()

    # ------------------------------------------------------------ forward
    def forward(self, users: Tensor, pos_items: Tensor, state: SamplerState) -> NegativeSample:
        emb, generator = state.emb, state.generator
        rand_items = self.uniform_candidates(users, 1, generator).squeeze(-1)
        pos_emb, rand_emb = emb.item[pos_items], emb.item[rand_items]
        user_emb = emb.user[users].detach()
        x0, scale = to_unit_rms(pos_emb.detach())
        cond = self.condition(user_emb if self.condition_on_user else None, state)
        diffusion_term, logs = self.fit_denoiser(x0, cond, generator)
        if self.in_warmup(state):
            return NegativeSample(emb=rand_emb, items=rand_items, aux_loss=diffusion_term, logs=logs)

        cands = self.candidates(x0, cond, generator) * scale  # back to the embedding scale
        scores = torch.einsum("bd,kbd->kb", user_emb, cands)
        hard, level = self.select_hardest(cands, scores)
        lam = self.mix_ratio(users.numel(), state.progress, generator, users.device).unsqueeze(-1)
        neg = lam * hard + (1 - lam) * rand_emb
        aux = self.cl_weight * self.contrastive_loss(pos_emb, hard, rand_emb, generator)
        if diffusion_term is not None:
            aux = aux + diffusion_term
        with torch.no_grad():
            steps = torch.tensor(self.levels, device=level.device, dtype=torch.float)[level]
            moved = (hard - pos_emb.detach()).norm(dim=-1) / pos_emb.detach().norm(dim=-1).clamp_min(1e-12)
        logs.update({"mix_ratio": float(lam.mean()), "hard_level": float(steps.mean()),
                     "hard_distance": float(moved.mean()), "hard_score": float(scores.max(0).values.mean())})
        sample = NegativeSample(emb=neg, items=rand_items, aux_loss=aux, logs=logs)
        return self.with_probe(sample, users, neg, emb.item)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(levels={self.levels}, schedule={self.diffusion.schedule.mode!r}, "
                f"noise_scale={self.diffusion.schedule.scale}, beta={self.beta_start}->{self.beta_end}, "
                f"denoiser_training={self.denoiser_training!r}"
                + (f", num_environments={self.env_embedding.num_environments}" if self.env_embedding else "")
                + ")")
