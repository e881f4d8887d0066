"""The GRPO objective against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from olmo3hpc.stages.rl.loss import LossSettings, kl_estimate, policy_loss, tis_weight, token_logprobs


def _batch(logp_old, adv, mask, logp_engine=None, logp_ref=None):
    t = lambda xs: torch.tensor(xs, dtype=torch.float64)  # noqa: E731
    batch = {"logp_old": t(logp_old), "advantages": t(adv), "mask": torch.tensor(mask)}
    batch["logp_engine"] = t(logp_engine if logp_engine is not None else logp_old)
    if logp_ref is not None:
        batch["logp_ref"] = t(logp_ref)
    return batch


def test_clipped_objective_uses_separate_lower_and_upper_clips():
    # ratios e^0.5=1.6487 (A=+1, clipped at 1+0.28), e^-0.5=0.6065 (A=-1, clipped at 1-0.2), e^0=1 (A=2)
    new = torch.tensor([0.0, -1.0, -1.0, 5.0], dtype=torch.float64)
    batch = _batch([-0.5, -0.5, -1.0, 0.0], [1.0, -1.0, 2.0, 9.0], [True, True, True, False])
    out = policy_loss(new, batch, LossSettings(clip_lower=0.2, clip_higher=0.28))
    # token 1: max(-1.6487, -1.28) = -1.28; token 2: max(0.6065, 0.8) = 0.8; token 3: -2; token 4 masked
    expected = (-1.28 + 0.8 - 2.0) / 3
    assert out.loss.item() == pytest.approx(expected, abs=1e-9)
    assert out.stats["clip_fraction"].item() == pytest.approx(2 / 3)


def test_unclipped_side_wins_when_it_is_more_pessimistic():
    # A=-1 and ratio 1.6487 > 1.2: -A*rho = 1.6487 > -A*1.2 = 1.2, so the unclipped term is kept
    new = torch.tensor([0.0], dtype=torch.float64)
    out = policy_loss(new, _batch([-0.5], [-1.0], [True]), LossSettings(clip_lower=0.2, clip_higher=0.2))
    assert out.loss.item() == pytest.approx(math.exp(0.5))
    assert out.stats["clip_fraction"].item() == 0.0


def test_truncated_importance_sampling_weights_both_terms_and_caps():
    # old - engine = 0.3 -> w = e^0.3 = 1.3499 ; old - engine = 2.0 -> e^2 = 7.389 capped at 2.0
    new = torch.tensor([-1.0, -1.0], dtype=torch.float64)
    batch = _batch([-1.0, -1.0], [1.0, 1.0], [True, True], logp_engine=[-1.3, -3.0])
    out = policy_loss(new, batch, LossSettings(tis_cap=2.0))
    expected = (-1.0 * math.exp(0.3) + -1.0 * 2.0) / 2
    assert out.loss.item() == pytest.approx(expected, abs=1e-9)
    assert tis_weight(torch.tensor([30.0]), torch.tensor([0.0]), 1e9).item() == pytest.approx(math.exp(10.0))


def test_kl_estimators_match_their_formulas():
    new, ref, ratio = torch.tensor([0.5]), torch.tensor([0.2]), torch.tensor([1.5])
    d = 0.3
    assert kl_estimate(new, ref, ratio, "k1").item() == pytest.approx(d)
    assert kl_estimate(new, ref, ratio, "k2").item() == pytest.approx(d * d / 2)
    assert kl_estimate(new, ref, ratio, "k3").item() == pytest.approx(math.expm1(-d) + d)
    assert kl_estimate(new, ref, ratio, "k4").item() == pytest.approx(1.5 * d)
    assert kl_estimate(torch.tensor([100.0]), torch.tensor([0.0]), ratio, "k1").item() == 40.0
    with pytest.raises(ValueError, match="kl_estimator"):
        kl_estimate(new, ref, ratio, "k9")  # type: ignore[arg-type]


def test_kl_term_is_added_with_beta():
    new = torch.tensor([0.0], dtype=torch.float64)
    batch = _batch([0.0], [0.0], [True], logp_ref=[-0.5])
    out = policy_loss(new, batch, LossSettings(kl_beta=0.1, kl_estimator="k3"))
    assert out.loss.item() == pytest.approx(0.1 * (math.expm1(-0.5) + 0.5))


def test_logits_are_divided_by_the_temperature():
    logits = torch.tensor([[2.0, 0.0]])
    lp = token_logprobs(logits, torch.tensor([0]), temperature=2.0)
    assert lp.item() == pytest.approx(1.0 - math.log(math.e + 1.0))


def test_gradient_pushes_up_positive_advantage_tokens():
    new = torch.tensor([-1.0, -1.0], dtype=torch.float64, requires_grad=True)
    out = policy_loss(new, _batch([-1.0, -1.0], [1.0, -1.0], [True, True]), LossSettings())
    out.loss.backward()
    assert new.grad[0] < 0 < new.grad[1]  # descent raises token 0's log-prob and lowers token 1's
