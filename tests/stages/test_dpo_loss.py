"""Preference losses against values computed by hand from the formulas (open-instruct semantics)."""

from __future__ import annotations

import math

import pytest
import torch

from olmo3hpc.config import DPOConfig
from olmo3hpc.stages.dpo_loss import SequenceLogps, mean_metrics, pair_sums, preference_loss, sequence_logps


def _seq(total: float, tokens: float) -> SequenceLogps:
    return SequenceLogps(torch.tensor([total]), torch.tensor([tokens]))


def _softplus(x: float) -> float:
    """-log sigmoid(-x)."""
    return math.log1p(math.exp(x))


def test_sequence_logps_shifts_and_masks() -> None:
    # position 0 predicts token 1 with p = 3/4; position 1 predicts token 0 with p = 1/2
    logits = torch.tensor([[[0.0, math.log(3.0)], [0.0, 0.0], [5.0, -5.0]]])
    full = sequence_logps(logits, torch.tensor([[-100, 1, 0]]))
    assert full.total.item() == pytest.approx(math.log(3 / 8), abs=1e-6)
    assert full.tokens.item() == 2
    assert full.mean.item() == pytest.approx(math.log(3 / 8) / 2, abs=1e-6)
    last_only = sequence_logps(logits, torch.tensor([[-100, -100, 0]]))
    assert last_only.total.item() == pytest.approx(math.log(1 / 2), abs=1e-6)
    assert last_only.tokens.item() == 1


def test_sequence_logps_rejects_misaligned_labels() -> None:
    with pytest.raises(ValueError, match="do not align"):
        sequence_logps(torch.zeros(1, 3, 2), torch.zeros(1, 4, dtype=torch.long))


def test_dpo_on_summed_logps() -> None:
    cfg = DPOConfig(loss_type="dpo", beta=0.5)
    out = preference_loss(_seq(-2, 4), _seq(-3, 2), _seq(-2.5, 4), _seq(-2.5, 2), cfg)
    # h = (-2 + 3) - 0 = 1, z = 0.5
    assert out.losses.item() == pytest.approx(_softplus(-0.5), abs=1e-6)
    assert out.chosen_rewards.item() == pytest.approx(0.5 * (-2 + 2.5))
    assert out.rejected_rewards.item() == pytest.approx(0.5 * (-3 + 2.5))


def test_dpo_label_smoothing() -> None:
    cfg = DPOConfig(loss_type="dpo", beta=0.5, label_smoothing=0.1)
    out = preference_loss(_seq(-2, 4), _seq(-3, 2), _seq(-2.5, 4), _seq(-2.5, 2), cfg)
    expected = 0.9 * _softplus(-0.5) + 0.1 * _softplus(0.5)
    assert out.losses.item() == pytest.approx(expected, abs=1e-6)


def test_dpo_norm_uses_length_averaged_logps() -> None:
    cfg = DPOConfig(loss_type="dpo_norm", beta=5.0)
    # averages: pi_c -1, pi_r -3, ref_c -2, ref_r -2 -> h = 2, z = 10
    out = preference_loss(_seq(-4, 4), _seq(-6, 2), _seq(-8, 4), _seq(-4, 2), cfg)
    assert out.losses.item() == pytest.approx(_softplus(-10.0), rel=1e-5)
    assert out.chosen_rewards.item() == pytest.approx(5.0)
    assert out.rejected_rewards.item() == pytest.approx(-5.0)
    # the same numbers as summed DPO would give h = (-4 + 6) - (-8 + 4) = 6: a different loss
    summed = preference_loss(_seq(-4, 4), _seq(-6, 2), _seq(-8, 4), _seq(-4, 2), DPOConfig(loss_type="dpo", beta=5.0))
    assert summed.losses.item() == pytest.approx(_softplus(-30.0), rel=1e-4)


def test_simpo_gamma_beta_ratio_without_reference() -> None:
    cfg = DPOConfig(loss_type="simpo", beta=2.0, gamma_beta_ratio=0.3)
    out = preference_loss(_seq(-4, 4), _seq(-6, 2), None, None, cfg)
    # h = -1 - (-3) - 0.3 = 1.7, z = 3.4
    assert out.losses.item() == pytest.approx(_softplus(-3.4), abs=1e-6)
    assert out.chosen_rewards.item() == pytest.approx(-2.0)
    assert out.rejected_rewards.item() == pytest.approx(-6.0)
    smoothed = preference_loss(_seq(-4, 4), _seq(-6, 2), None, None, DPOConfig(
        loss_type="simpo", beta=2.0, gamma_beta_ratio=0.3, label_smoothing=0.2))
    assert smoothed.losses.item() == pytest.approx(0.8 * _softplus(-3.4) + 0.2 * _softplus(3.4), abs=1e-6)


def test_wpo_weights_pairs_by_policy_likelihood() -> None:
    cfg = DPOConfig(loss_type="wpo", beta=0.1)
    pc = SequenceLogps(torch.tensor([-4.0], requires_grad=True), torch.tensor([4.0]))
    out = preference_loss(pc, _seq(-6, 2), _seq(-5, 4), _seq(-5, 2), cfg)
    # h = (-4 + 6) - 0 = 2, z = 0.2, weight = exp(avg_c + avg_r) = exp(-1 - 3)
    weight = math.exp(-4.0)
    assert out.losses.item() == pytest.approx(weight * _softplus(-0.2), rel=1e-6)
    # the weight is not differentiated: d loss / d pi_c = -w * beta * sigmoid(-z)
    out.losses.sum().backward()
    assert pc.total.grad.item() == pytest.approx(-weight * 0.1 / (1 + math.exp(0.2)), rel=1e-5)


def test_reference_losses_need_reference() -> None:
    with pytest.raises(ValueError, match="reference"):
        preference_loss(_seq(-1, 1), _seq(-2, 1), None, None, DPOConfig(loss_type="dpo_norm"))


def test_pair_metrics_accuracy_and_margin() -> None:
    cfg = DPOConfig(loss_type="dpo", beta=1.0)
    pc = SequenceLogps(torch.tensor([-1.0, -5.0]), torch.tensor([1.0, 1.0]))
    pr = SequenceLogps(torch.tensor([-2.0, -1.0]), torch.tensor([1.0, 1.0]))
    ref = SequenceLogps(torch.tensor([-1.5, -1.5]), torch.tensor([1.0, 1.0]))
    out = preference_loss(pc, pr, ref, ref, cfg)
    sums = pair_sums(out, pc, pr)
    assert sums["pairs"] == 2 and sums["correct"] == 1
    m = mean_metrics(sums)
    assert m["rewards/accuracy"] == pytest.approx(0.5)
    assert m["rewards/chosen"] == pytest.approx(((-1 + 1.5) + (-5 + 1.5)) / 2)
    assert m["rewards/margin"] == pytest.approx(((-1 + 2) + (-5 + 1)) / 2)
    assert m["logps/rejected"] == pytest.approx(-1.5)
