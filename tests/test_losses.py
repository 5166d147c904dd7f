"""Losses against hand computations on tiny tensors (paper eq. 1, 6, 7)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from baiseg.config import LossConfig
from baiseg.losses import (
    BAISegCriterion,
    boundary_loss,
    contrast_from_samples,
    pixel_contrast_loss,
    sample_anchors,
    topk_cross_entropy,
)


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_boundary_loss_hand_computed():
    logits = torch.tensor([[[[0.5, -1.0], [2.0, 7.0]]]])
    target = torch.tensor([[[1.0, 0.0], [0.0, 255.0]]])
    alpha = 2 / 3  # |Y-| = 2, |Y+| = 1 among the 3 valid pixels
    expected = (alpha * -math.log(_sig(0.5)) + (1 - alpha) * (-math.log(1 - _sig(-1.0)) - math.log(1 - _sig(2.0)))) / 3
    assert boundary_loss(logits, target).item() == pytest.approx(expected, rel=1e-6)


def test_boundary_loss_alpha_per_image():
    # image 0: 1 positive of 4; image 1: 3 positives of 4 -> different alphas, mean over all 8 valid pixels.
    target = torch.tensor([[[1.0, 0.0, 0.0, 0.0]], [[1.0, 1.0, 1.0, 0.0]]])
    logits = torch.zeros(2, 1, 1, 4)
    log2 = math.log(2)
    expected = (0.75 * log2 + 3 * 0.25 * log2 + 3 * 0.25 * log2 + 0.75 * log2) / 8
    assert boundary_loss(logits, target).item() == pytest.approx(expected, rel=1e-6)


def test_boundary_loss_ignored_pixels_change_nothing():
    torch.manual_seed(0)
    target = (torch.rand(2, 8, 8) > 0.8).float()
    target[:, 0, :] = 255
    logits = torch.randn(2, 1, 8, 8, requires_grad=True)
    base = boundary_loss(logits, target)
    base.backward()
    assert torch.all(logits.grad[:, 0, 0, :] == 0)
    other = logits.detach().clone()
    other[:, 0, 0, :] = 100.0
    assert boundary_loss(other, target).item() == pytest.approx(base.item(), rel=1e-6)


@pytest.mark.parametrize("n_pos", [1, 5, 50, 99])
def test_boundary_loss_balances_positives_and_negatives(n_pos):
    """Eq. 1's alpha gives both classes the same total weight, whatever their ratio."""
    target = torch.zeros(1, 1, 100)
    target[..., :n_pos] = 1
    logits = torch.zeros(1, 1, 1, 100, requires_grad=True)
    boundary_loss(logits, target).backward()
    g = logits.grad.flatten()
    assert g[:n_pos].abs().sum().item() == pytest.approx(g[n_pos:].abs().sum().item(), rel=1e-5)
    # plain BCE would not balance them
    logits2 = torch.zeros(1, 1, 1, 100, requires_grad=True)
    F.binary_cross_entropy_with_logits(logits2.flatten(), target.flatten()).backward()
    if n_pos != 50:
        assert logits2.grad[:n_pos].abs().sum() != pytest.approx(logits2.grad[n_pos:].abs().sum().item())


def test_topk_ce_hand_computed():
    logits = torch.tensor([[[[2.0, 0.0, -1.0, 0.0, 5.0]], [[0.0, 0.0, 1.0, 3.0, -5.0]]]])  # 1 x 2 x 1 x 5
    target = torch.tensor([[[0, 0, 1, 0, 1]]])
    per = F.cross_entropy(logits, target, reduction="none").flatten().tolist()
    top2 = sorted(per, reverse=True)[:2]
    assert topk_cross_entropy(logits, target, top_k=0.4).item() == pytest.approx(sum(top2) / 2, rel=1e-6)
    assert topk_cross_entropy(logits, target, top_k=1.0).item() == pytest.approx(sum(per) / 5, rel=1e-6)
    # the worst pixel ignored: it leaves the selection, and changing its logits changes nothing
    target_ign = target.clone()
    target_ign[0, 0, 4] = 255
    rest = sorted(per[:4], reverse=True)
    k = math.ceil(0.4 * 4)
    assert topk_cross_entropy(logits, target_ign, 0.4).item() == pytest.approx(sum(rest[:k]) / k, rel=1e-6)
    logits2 = logits.clone()
    logits2[0, :, 0, 4] = torch.tensor([-50.0, 50.0])
    assert topk_cross_entropy(logits2, target_ign, 0.4).item() == pytest.approx(sum(rest[:k]) / k, rel=1e-6)


def test_topk_ce_all_ignored_is_zero_with_graph():
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    loss = topk_cross_entropy(logits, torch.full((1, 4, 4), 255), 0.2)
    loss.backward()
    assert loss.item() == 0.0 and torch.all(logits.grad == 0)


def test_contrast_hand_computed():
    feats = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    # anchors 0 and 1: one positive (dot 1), one negative (dot 0); anchor 2 has no positive and is skipped
    expected = -0.5 * math.log(math.e / (math.e + 0.5 * 1.0))
    got = contrast_from_samples(feats, labels, alpha=0.5, temperature=1.0)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    # temperature 0.2, alpha 0.9
    expected = -0.9 * math.log(math.exp(5) / (math.exp(5) + 0.1 * 1.0))
    assert contrast_from_samples(feats, labels, 0.9, 0.2).item() == pytest.approx(expected, rel=1e-4)


def test_sample_anchors_hard_easy_split():
    labels = torch.zeros(1, 4, 8, dtype=torch.long)
    labels[0, 0, :] = 1  # 8 boundary pixels
    labels[0, 3, :] = 255
    preds = torch.zeros_like(labels)
    preds[0, 0, :3] = 0  # 3 hard boundary pixels (predicted 0)
    preds[0, 0, 3:] = 1
    preds[0, 1, :2] = 1  # 2 hard background pixels
    idx, lab = sample_anchors(labels, preds, max_samples=1024, max_views=6, generator=torch.Generator().manual_seed(0))
    flat_l, flat_p = labels.flatten(), preds.flatten()
    assert torch.equal(flat_l[idx], lab) and not bool((flat_l[idx] == 255).any())
    b = lab == 1
    assert int(b.sum()) == 6 and int((flat_p[idx][b] != 1).sum()) == 3
    assert int((~b).sum()) == 6 and int((flat_p[idx][~b] != 0).sum()) == 2  # only 2 hard exist; easy fill up
    assert len(set(idx.tolist())) == len(idx)


def _two_region_contour():
    contour = torch.zeros(2, 8, 8)
    contour[:, 3:5, :] = 1
    contour[:, 0, 0] = 255
    return contour


def test_contrast_lower_for_separated_embeddings():
    contour = _two_region_contour()
    sep = torch.zeros(2, 4, 8, 8)
    sep[:, 0] = 1.0
    sep[:, 1][contour == 1] = 1.0
    sep[:, 0][contour == 1] = 0.0
    torch.manual_seed(0)
    mixed = F.normalize(torch.randn(2, 4, 8, 8), dim=1)
    kw = dict(temperature=0.2, max_samples=1024, max_views=100)
    l_sep = pixel_contrast_loss(sep, contour, **kw).item()
    l_mix = pixel_contrast_loss(mixed, contour, **kw).item()
    assert l_sep < l_mix
    same = F.normalize(torch.ones(2, 4, 8, 8), dim=1)
    assert l_sep < pixel_contrast_loss(same, contour, **kw).item()


def test_contrast_single_class_is_zero_and_lower_resolution():
    emb = F.normalize(torch.randn(1, 4, 4, 4), dim=1).requires_grad_()
    assert pixel_contrast_loss(emb, torch.zeros(1, 8, 8)).item() == 0.0
    contour = _two_region_contour()[:1]
    out = pixel_contrast_loss(emb, contour, torch.randn(1, 1, 8, 8))  # labels and predictions resized to 4 x 4
    out.backward()
    assert out.item() > 0 and torch.isfinite(emb.grad).all()


def _outputs(n=2, c=3, s=8, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "sem_logits": torch.randn(n, c, s, s, generator=g).requires_grad_(),
        "boundary_logits": torch.randn(n, 1, s, s, generator=g).requires_grad_(),
        "embeddings": F.normalize(torch.randn(n, d, s, s, generator=g), dim=1).requires_grad_(),
    }


def _batch(n=2, s=8):
    sem = torch.zeros(n, s, s, dtype=torch.long)
    sem[:, 2:6, 2:6] = 1
    sem[:, 0, :] = 255
    contour = torch.zeros(n, s, s)
    contour[:, 2:6, 2] = 1
    contour[:, 2, 2:6] = 1
    contour[:, 0, :] = 255
    return {"semantic": sem, "contour": contour}


def test_criterion_weights_and_finite_gradients():
    cfg = LossConfig()
    out, batch = _outputs(), _batch()
    torch.manual_seed(1)
    losses = BAISegCriterion(cfg)(out, batch, iteration=0)
    assert set(losses) == {"loss", "loss_boundary", "loss_contrast", "loss_sem"}
    expected = 0.3 * losses["loss_contrast"] + 50 * losses["loss_boundary"] + losses["loss_sem"]
    assert losses["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert losses["loss_contrast"].item() > 0
    losses["loss"].backward()
    for k, t in out.items():
        assert torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0, k


def test_criterion_ignored_pixels_change_nothing():
    cfg = LossConfig()
    batch = _batch()
    out = _outputs()
    torch.manual_seed(3)
    base = BAISegCriterion(cfg)(out, batch)
    changed = {k: v.detach().clone() for k, v in out.items()}
    changed["sem_logits"][:, :, 0, :] = 40.0
    changed["boundary_logits"][:, :, 0, :] = -40.0
    changed["embeddings"][:, :, 0, :] = F.normalize(torch.ones(4), dim=0)[None, :, None]
    torch.manual_seed(3)
    again = BAISegCriterion(cfg)(changed, batch)
    for k in base:
        assert again[k].item() == pytest.approx(base[k].item(), rel=1e-6), k


def test_criterion_contrast_off_and_warmup_keep_graph():
    out, batch = _outputs(), _batch()
    for cfg, it in ((LossConfig(use_contrast=False), 5), (LossConfig(contrast_warmup_iters=10), 3)):
        losses = BAISegCriterion(cfg)(out, batch, iteration=it)
        assert losses["loss_contrast"].item() == 0.0
        assert losses["loss_contrast"].requires_grad
    on = BAISegCriterion(LossConfig(contrast_warmup_iters=10))(out, batch, iteration=10)
    assert on["loss_contrast"].item() > 0


def test_criterion_under_bf16_autocast_is_float32():
    out, batch = _outputs(), _batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = BAISegCriterion(LossConfig())({k: v.bfloat16() for k, v in out.items()}, batch)
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in losses.values())
