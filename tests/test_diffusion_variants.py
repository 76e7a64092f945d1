"""The issue-13 variants of CNSDiff and ADAR, their diagnostics, and the popularity metric."""

import pytest
import torch

from pyg_negdiff.data import make_synthetic
from pyg_negdiff.data.pairs import PairSet
from pyg_negdiff.loss import bpr_loss
from pyg_negdiff.metrics import head_items, head_share
from pyg_negdiff.nn import LightGCN
from pyg_negdiff.nn.base import Embeddings
from pyg_negdiff.sampling.adar import ADARSampler
from pyg_negdiff.sampling.base import SamplerState
from pyg_negdiff.sampling.cnsdiff import PUBLISHED, CNSDiffSampler
from pyg_negdiff.train import Trainer

D, U, I = 8, 30, 50


def toy(seed=0):
    g = torch.Generator().manual_seed(seed)
    index = torch.stack(
        [torch.arange(U).repeat_interleave(4), torch.randint(0, I, (4 * U,), generator=g)]
    )
    pairs = PairSet(index, U, I)
    user = torch.randn(U, 1, D, generator=g).requires_grad_()
    item = torch.randn(I, 1, D, generator=g).requires_grad_()
    return pairs, index, user, item, g


def call(sampler, index, user, item, g, progress_epoch=5):
    emb = Embeddings(user, item)
    state = SamplerState(emb, epoch=progress_epoch, num_epochs=10, generator=g)
    return emb, sampler(index[0], index[1], state)


# ----------------------------------------------------------- popularity metric
def test_head_items_picks_the_most_popular_tenth():
    pop = torch.tensor([3, 10, 0, 7, 1, 1, 2, 9, 4, 5, 6, 8, 0, 0, 0, 0, 0, 0, 0, 0])
    assert head_items(pop, 0.1).nonzero().view(-1).tolist() == [1, 7]
    with pytest.raises(ValueError, match="fraction"):
        head_items(pop, 0.0)


def test_head_share_equals_a_naive_per_user_loop():
    g = torch.Generator().manual_seed(1)
    user, item = torch.randn(12, 4, generator=g), torch.randn(30, 4, generator=g)
    seen = PairSet(
        torch.stack(
            [torch.randint(0, 12, (40,), generator=g), torch.randint(0, 30, (40,), generator=g)]
        ),
        12,
        30,
    )
    head = torch.zeros(30, dtype=torch.bool)
    head[torch.randperm(30, generator=g)[:6]] = True
    users = torch.arange(12)
    hits = 0
    for u in range(12):
        scores = item @ user[u]
        for i in range(30):
            if bool(seen.contains(torch.tensor([u]), torch.tensor([i]))):
                scores[i] = float("-inf")
        hits += int(head[scores.topk(5).indices].sum())
    assert head_share(user, item, head, users, seen, k=5, batch_size=5) == pytest.approx(hits / 60)


def test_bpr_weights_sum_the_weighted_terms():
    pos, neg = torch.tensor([1.0, 0.0]), torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    w = torch.tensor([[1.0, 0.25], [1.0, 0.0]])
    expected = torch.nn.functional.softplus(neg - pos.unsqueeze(-1)).mul(w).sum(-1)
    assert torch.allclose(bpr_loss(pos, neg, w), expected)
    with pytest.raises(ValueError, match="several negatives"):
        bpr_loss(pos, pos, torch.ones(2))


# ------------------------------------------------------------------- CNSDiff
def test_published_preset_sets_the_authors_settings_and_refuses_clashes():
    pairs, *_ = toy()
    s = CNSDiffSampler(pairs, D, preset="published")
    assert s.levels == [10, 14, 18] and s.full_chain and s.denoiser_training == "frozen"
    assert s.sampling_dropout and s.denoiser.dropout == PUBLISHED["dropout"] == 0.5
    assert (
        s.diffusion.schedule.scale == 0.1
        and s.contrast_scope == "batch"
        and s.min_random_share == 0.0
    )
    assert CNSDiffSampler(pairs, D, preset="published", beta_end=[9.0, 1.0]).beta_end == (9.0, 1.0)
    with pytest.raises(ValueError, match="noise_scale"):
        CNSDiffSampler(pairs, D, preset="published", noise_scale=3.0)
    with pytest.raises(ValueError, match="preset"):
        CNSDiffSampler(pairs, D, preset="paper")


def test_frozen_denoiser_never_changes():
    pairs, index, user, item, g = toy()
    s = CNSDiffSampler(pairs, D, preset="published")
    before = [p.clone() for p in s.denoiser.parameters()]
    call(s, index, user, item, g)
    assert all(torch.equal(a, b) for a, b in zip(before, s.denoiser.parameters()))


@pytest.mark.parametrize("option", ["anchor", "selection", "gradient", "combine"])
def test_unknown_variant_names_are_refused(option):
    pairs, *_ = toy()
    with pytest.raises(ValueError, match=option):
        CNSDiffSampler(pairs, D, **{option: "nope"})


def test_band_selection_keeps_the_synthesized_negative_below_the_positive():
    pairs, index, user, item, _ = toy()
    above = {}
    for selection in ("hardest", "band"):
        s = CNSDiffSampler(
            pairs, D, selection=selection, noise_scale=20.0, start_step=2, step_stride=3
        )
        torch.manual_seed(0)
        _, out = call(s, index, user, item, torch.Generator().manual_seed(0))
        above[selection] = out.logs["hard_above_pos"]
    # Same denoiser and noise: band only differs where a candidate lies below the positive.
    assert above["band"] < above["hardest"]


def test_select_band_falls_back_to_the_lowest_candidate():
    c = torch.arange(6.0).view(3, 1, 2)
    _, k = CNSDiffSampler.select_band(c, torch.tensor([[5.0], [3.0], [4.0]]), torch.tensor([1.0]))
    assert k.tolist() == [1]


@pytest.mark.parametrize("anchor,row", [("positive", "pos"), ("negative", "neg")])
def test_straight_through_sends_the_synthesized_gradient_to_the_anchor(anchor, row):
    pairs, index, user, item, g = toy()
    s = CNSDiffSampler(pairs, D, anchor=anchor, gradient="straight-through", cl_weight=0.0)
    emb, out = call(s, index, user, item, g)
    # Only the synthesized part, through its own rows: e^- = lam * h + (1 - lam) * e_j.
    user_rows = emb.user[index[0]].detach()
    (user_rows * out.emb).sum().backward()
    grad = item.grad.squeeze(1)
    pos_rows = set(index[1].tolist())
    touched = set(grad.abs().sum(-1).nonzero().view(-1).tolist())
    if row == "pos":
        assert touched & pos_rows
    else:
        # With the negative as anchor, e^- = e_j + lam * sg(c - e_j): only the real negatives move.
        assert touched and not (touched & pos_rows - set(out.items.tolist()))


def test_detached_synthesis_gives_no_gradient_to_the_positive():
    pairs, index, user, item, g = toy()
    s = CNSDiffSampler(pairs, D, cl_weight=0.0, anchor="positive", gradient="detach")
    emb, out = call(s, index, user, item, g)
    (emb.user[index[0]].detach() * out.emb).sum().backward()
    only_neg = set(out.items.tolist())
    touched = set(item.grad.squeeze(1).abs().sum(-1).nonzero().view(-1).tolist())
    assert touched <= only_neg


def test_separate_combination_keeps_the_real_negative_at_full_weight():
    pairs, index, user, item, g = toy()
    s = CNSDiffSampler(pairs, D, combine="separate", separate_weight=0.5)
    _, out = call(s, index, user, item, g)
    assert out.emb.shape == (index.size(1), 2, D)
    assert torch.equal(out.weight[:, 0], torch.ones(index.size(1)))
    assert torch.allclose(
        out.weight[:, 1], 0.5 * torch.full((index.size(1),), out.logs["mix_ratio"]), atol=1.0
    )
    assert bool((out.weight[:, 1] <= 0.5).all()) and bool((out.weight[:, 1] >= 0).all())
    assert torch.equal(out.emb[:, 0], item.squeeze(1)[out.items])


def test_no_synthesis_returns_the_uniform_negative_and_the_contrastive_term():
    pairs, index, user, item, g = toy()
    s = CNSDiffSampler(pairs, D, synthesize=False, contrast_scope="batch")
    _, out = call(s, index, user, item, g)
    assert torch.equal(out.emb, item.squeeze(1)[out.items])
    assert out.aux_loss is not None and float(out.aux_loss) > 0
    assert not bool(PairSet(index, U, I).contains(index[0], out.items).any())


def test_negative_anchor_starts_from_the_real_negative():
    pairs, index, user, item, g = toy()
    s = CNSDiffSampler(
        pairs, D, anchor="negative", gradient="straight-through", min_random_share=0.0
    )
    _, out = call(s, index, user, item, g, progress_epoch=9)
    e_j, e_i = item.squeeze(1)[out.items], item.squeeze(1)[index[1]]
    d_neg = (out.emb - e_j).norm(dim=-1).mean()
    d_pos = (out.emb - e_i).norm(dim=-1).mean()
    assert d_neg < d_pos
    assert out.logs["cos_hard_pos"] < 0.9


# ---------------------------------------------------------------------- ADAR
def test_adar_clips_the_transition_and_logs_the_edge_cases():
    pairs, index, user, item, g = toy()
    s = ADARSampler(pairs, num_steps=20, t_min=5, t_max=15)
    _, out = call(s, index, user, item, g)
    assert 5 <= out.logs["transition_step"] <= 15
    assert 0 <= out.logs["transition_at_1"] <= 1 and 0 <= out.logs["transition_at_T"] <= 1
    with pytest.raises(ValueError, match="t_min"):
        ADARSampler(pairs, num_steps=20, t_min=0)
    with pytest.raises(ValueError, match="t_min"):
        ADARSampler(pairs, num_steps=20, t_min=10, t_max=5)


def test_adar_skipping_edge_cases_moves_their_weight_to_the_reference():
    pairs, index, user, item, g = toy()
    s = ADARSampler(pairs, num_steps=20, skip_edge_cases=True)
    emb, out = call(s, index, user, item, g)
    assert torch.allclose(out.weight.sum(-1), torch.ones(index.size(1)))
    t = s.transition_step(
        (emb.user[index[0]] * emb.item[index[1]]).sum(-1).detach(),
        (emb.user[index[0]] * emb.item[out.items]).sum(-1).detach(),
    )
    edge = (t == 1) | (t == 20)
    assert edge.any()
    assert torch.equal(out.weight[:, 1] == 0, edge)


# ------------------------------------------------------------ diagnostics
@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("cnsdiff", {}),
        ("cnsdiff", {"combine": "separate"}),
        ("adar", {}),
        ("adar", {"skip_edge_cases": True}),
    ],
)
def test_trainer_shows_the_mechanism_diagnostics(name, kwargs):
    data = make_synthetic(num_users=60, num_items=40, seed=0)
    model = LightGCN(data.num_users, data.num_items, embedding_dim=8, num_layers=1)
    cls = CNSDiffSampler if name == "cnsdiff" else ADARSampler
    sampler = cls(data.train_pairs(), model.output_dim, **kwargs)
    result = Trainer(model, sampler, data, lr=1e-2, epochs=2, progress=False).fit()
    for stats in result.history:
        logs = stats.sampler_logs
        for key in (
            "hard_above_pos",
            "neg_sigmoid",
            "neg_grad_norm",
            "cos_hard_pos",
            "head_share@20",
        ):
            assert key in logs, (key, sorted(logs))
        assert 0 <= logs["hard_above_pos"] <= 1 and 0 < logs["neg_sigmoid"] < 1
        assert 0 <= logs["head_share@20"] <= 1 and logs["neg_grad_norm"] > 0


def test_linear_gradient_reaches_both_rows_of_the_bridge():
    pairs, index, user, item, g = toy()
    s = CNSDiffSampler(pairs, D, anchor="negative", gradient="linear", cl_weight=0.0)
    emb, out = call(s, index, user, item, g)
    (emb.user[index[0]].detach() * out.emb).sum().backward()
    touched = set(item.grad.squeeze(1).abs().sum(-1).nonzero().view(-1).tolist())
    assert touched & (set(index[1].tolist()) - set(out.items.tolist()))  # positives get a share
    assert touched & set(out.items.tolist())


def test_adar_reference_gradient_pushes_the_reference_down():
    pairs, index, user, item, g = toy()
    for gradient, reaches_reference_only in (("detach", False), ("reference", True)):
        item.grad = None
        s = ADARSampler(
            pairs, num_steps=20, gradient=gradient, combine="replace", skip_edge_cases=False
        )
        emb, out = call(s, index, user, item, torch.Generator().manual_seed(0))
        if not out.emb.requires_grad:
            assert not reaches_reference_only
            continue
        (emb.user[index[0]].detach() * out.emb).sum().backward()
        assert reaches_reference_only and bool(item.grad.abs().sum() > 0)
    with pytest.raises(ValueError, match="gradient"):
        ADARSampler(pairs, gradient="positive")


def test_evaluator_head_share_is_the_function_on_the_parts_users_and_seen_items():
    from pyg_negdiff.metrics import Evaluator

    data = make_synthetic(num_users=40, num_items=30, seed=1)
    g = torch.Generator().manual_seed(0)
    emb = Embeddings(torch.randn(40, 1, 4, generator=g), torch.randn(30, 1, 4, generator=g))
    users = torch.unique(data.parts["test_ood"][0])
    expected = head_share(
        emb.user,
        emb.item,
        head_items(data.item_popularity()),
        users,
        data.seen_pairs("test_ood"),
        k=5,
    )
    assert Evaluator(data).head_share(emb, "test_ood", k=5) == pytest.approx(expected)
    with pytest.raises(KeyError, match="no part"):
        Evaluator(data).head_share(emb, "nope")
