r"""MixGCF: hard negatives synthesized layer by layer from the positive and real candidates."""

from __future__ import annotations

import torch
from torch import Tensor

from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.sampling.base import NegativeSample, SamplerState
from pyg_negdiff.sampling.candidates import CandidateSampler, block_size, gather_rows


class MixGCFSampler(CandidateSampler):
    r"""The negative sampler of Huang et al., ["MixGCF: An Improved Training Method
    for Graph Neural Network-based Recommender Systems"](https://doi.org/10.1145/3447548.3467408)
    (KDD 2021).

    It works on the per-layer embeddings $\mathbf{e}^{(l)}$, $l = 0, \ldots, L$,
    of a graph backbone (``Embeddings.item_layers``). For a (user $u$,
    positive $i^{+}$) pair with $M$ uniform non-positive candidates
    $\mathcal{C}_u$:

    1. **Positive mixing.** Every candidate is pulled towards the positive,
        layer by layer,

        $$
        \mathbf{e}'^{(l)}_j = \alpha^{(l)} \mathbf{e}^{(l)}_{i^{+}} + \big(1 - \alpha^{(l)}\big)\,\mathbf{e}^{(l)}_j,
        \qquad \alpha^{(l)} \sim \mathcal{U}(0, 1),\quad j \in \mathcal{C}_u .
        $$

        As in the authors' code, $\alpha^{(l)}$ is drawn once per (pair, layer)
        and shared by the $M$ candidates; ``mix_per_candidate=True`` draws
        one per (pair, candidate, layer).

    2. **Hop mixing.** At each layer the hardest mixed candidate is kept,
        and the kept layers are pooled the way the backbone pools
        (`Embeddings.pool`: mean for LightGCN, concatenation for NGCF):

        $$
        j^{(l)} = \operatorname*{arg\,max}_{j \in \mathcal{C}_u}
          \mathbf{e}_u^{\top} \mathbf{e}'^{(l)}_j, \qquad
        \mathbf{e}^{-} = \operatorname{pool}\big(\mathbf{e}'^{(0)}_{j^{(0)}}, \ldots,
          \mathbf{e}'^{(L)}_{j^{(L)}}\big).
        $$

        $\mathbf{e}_u$ is the user's pooled embedding, except with
        concatenation pooling, where layer $l$ is scored with
        $\mathbf{e}^{(l)}_u$ (the reference code does the same: the pooled
        vector is $L+1$ times too long).

    The negative is synthetic: ``items`` is ``None`` and ``emb`` ``[B, D']``
    carries gradients into the positive's and the chosen candidates' layer
    embeddings (the choice itself is made without gradients). For the
    false-hard-negative diagnostic, ``probe_items`` is the real item chosen at
    most layers, ties going to the one chosen at the deepest layer. With a
    single layer (MF) this is plain positive mixing of the best candidate.

    Args:
        train_pairs (PairSet): Training positives, never used as candidates.
        num_candidates (int): Candidates per negative $M$. (default: ``16``;
            the authors use 16 to 64 per dataset)
        num_negatives (int): Negatives per (user, positive) pair $K$, each with
            its own candidates. (default: ``1``)
        mix_per_candidate (bool): Draw $\alpha^{(l)}$ per candidate as well.
            (default: ``False``)

    Examples:
        >>> from pyg_negdiff.nn.base import Embeddings
        >>> pairs = PairSet(torch.tensor([[0, 1], [0, 1]]), num_users=2, num_items=6)
        >>> emb = Embeddings(torch.randn(2, 4, 8), torch.randn(6, 4, 8), pooling="concat")
        >>> out = MixGCFSampler(pairs)(torch.tensor([0, 1]), torch.tensor([0, 1]), SamplerState(emb))
        >>> out.emb.shape, out.items, out.probe_items.shape
        (torch.Size([2, 32]), None, torch.Size([2]))
    """

    def __init__(
        self,
        train_pairs: PairSet,
        num_candidates: int = 16,
        *,
        num_negatives: int = 1,
        mix_per_candidate: bool = False,
    ) -> None:
        super().__init__(train_pairs, num_candidates, num_negatives)
        self.mix_per_candidate = mix_per_candidate

    def forward(self, users: Tensor, pos_items: Tensor, state: SamplerState) -> NegativeSample:
        emb, generator = state.emb, state.generator
        B, K, M = users.numel(), self.num_negatives, self.num_candidates
        L1 = emb.item_layers.size(1)
        cand = self.draw(users, generator)  # [B, K, M]
        gen_device = generator.device if generator is not None else users.device
        shape = (B, K, M if self.mix_per_candidate else 1, L1)
        alpha = torch.rand(shape, generator=generator, device=gen_device).to(emb.item_layers.device)

        with torch.no_grad():
            pos_layers = emb.item_layers[pos_items]  # [B, L+1, D]
            if emb.pooling == "concat":  # layer l is scored with the user's layer l
                user = emb.user_layers[users]  # [B, L+1, D]
                pos_score = (pos_layers * user).sum(-1)  # [B, L+1]
            else:  # every layer is scored with the pooled user: one matrix product
                user = emb.user[users].unsqueeze(-1)  # [B, D, 1]
                pos_score = torch.bmm(pos_layers, user).squeeze(-1)
            rows = block_size(K * M * emb.item_layers[0].numel())  # see `candidates.CHUNK_SIZE`
            cand_score = torch.cat(
                [
                    self._layer_scores(
                        gather_rows(emb.item_layers, cand[s : s + rows]),
                        user[s : s + rows],
                        emb.pooling,
                    )
                    for s in range(0, B, rows)
                ]
            )  # [B, K, M, L+1]
            # u . (a p + (1 - a) c) = a (u . p) + (1 - a) (u . c): no mixed rows for all M.
            scores = alpha * pos_score[:, None, None, :] + (1 - alpha) * cand_score
            best = scores.argmax(dim=2, keepdim=True)  # [B, K, 1, L+1]

        chosen = cand.unsqueeze(-1).expand(B, K, M, L1).gather(2, best).squeeze(2)  # [B, K, L+1]
        a = alpha.expand(B, K, M, L1).gather(2, best).squeeze(2).unsqueeze(-1)  # [B, K, L+1, 1]
        layer = torch.arange(L1, device=chosen.device)
        neg_layers = emb.item_layers[chosen, layer]  # [B, K, L+1, D]
        mixed = a * emb.item_layers[pos_items].unsqueeze(1) + (1 - a) * neg_layers
        out = emb.pool(mixed)  # [B, K, D']
        probe = self.most_chosen(chosen)  # [B, K]
        with torch.no_grad():
            hardness = emb.score_embeddings(users, out.detach()).mean()
        if K == 1:
            out, probe = out.squeeze(1), probe.squeeze(1)
        return NegativeSample(
            emb=out, items=None, probe_items=probe, logs={"neg_score": float(hardness)}
        )

    @staticmethod
    def _layer_scores(x: Tensor, user: Tensor, pooling: str) -> Tensor:
        """Scores ``[b, K, M, L+1]`` of candidate layers ``x`` ``[b, K, M, L+1, D]``."""
        if pooling == "concat":
            return (x * user[:, None, None]).sum(-1)
        return torch.bmm(x.view(x.size(0), -1, x.size(-1)), user).view(x.shape[:-1])

    @staticmethod
    def most_chosen(chosen: Tensor) -> Tensor:
        """The item chosen at most layers of ``chosen`` ``[..., L+1]``; ties go to the deepest layer.

        Args:
            chosen (torch.Tensor): ``[..., L+1]`` item ids chosen per layer.

        Examples:
            >>> MixGCFSampler.most_chosen(torch.tensor([[4, 7, 4, 9], [1, 2, 3, 5], [6, 6, 8, 8]])).tolist()
            [4, 5, 8]
        """
        L1 = chosen.size(-1)
        counts = (chosen.unsqueeze(-1) == chosen.unsqueeze(-2)).sum(-1)  # [..., L+1]
        key = counts * L1 + torch.arange(L1, device=chosen.device)
        return chosen.gather(-1, key.argmax(dim=-1, keepdim=True)).squeeze(-1)

    def __repr__(self) -> str:
        return (
            f"MixGCFSampler(num_candidates={self.num_candidates}, num_negatives={self.num_negatives}, "
            f"mix_per_candidate={self.mix_per_candidate})"
        )
