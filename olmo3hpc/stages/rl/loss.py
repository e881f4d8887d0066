"""The GRPO learner objective on plain tensors (open-instruct grpo_fast at the OLMo 3 run commits).

Per response token, with rho = exp(logp_new - logp_old):
    pg = max(-A * rho, -A * clip(rho, 1 - clip_lower, 1 + clip_higher))
optionally multiplied by the truncated importance weight min(exp(logp_old - logp_engine), tis_cap)
(the log-difference clamped to +-10), plus kl_beta times a KL-to-reference estimate.
The loss is the masked mean over every response token of the micro-batch (DAPO token-level mean).
Nothing here knows about models, Ray or DeepSpeed, so every number can be checked by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

KLEstimator = Literal["k1", "k2", "k3", "k4"]

_TIS_LOG_CLAMP = 10.0
_KL_LOG_CLAMP = 40.0


@dataclass(frozen=True)
class LossSettings:
    """The loss knobs, read from RLConfig by the learner (kept separate so tests need no run config)."""

    clip_lower: float = 0.2
    clip_higher: float = 0.2
    tis_cap: float = 0.0
    kl_beta: float = 0.0
    kl_estimator: KLEstimator = "k3"


@dataclass(frozen=True)
class LossOutput:
    loss: torch.Tensor
    """Scalar to backpropagate (token-level masked mean)."""
    stats: dict[str, torch.Tensor]
    """Detached scalars: clip_fraction, ratio_mean, approx_kl, engine_logprob_diff, kl_ref, tis_weight_mean."""


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor, temperature: float) -> torch.Tensor:
    """Log-prob of each target under logits / temperature (the sampling temperature, as the engines used).

    logits: [..., T, V] predicting targets [..., T] (the caller already shifted by one position).
    """
    scaled = logits.float() / temperature
    logp = torch.log_softmax(scaled, dim=-1)
    return torch.gather(logp, -1, targets.unsqueeze(-1)).squeeze(-1)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over positions where mask is true; 0 (still differentiable) when the mask is empty."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def kl_estimate(
    logp_new: torch.Tensor, logp_ref: torch.Tensor, ratio: torch.Tensor, estimator: KLEstimator
) -> torch.Tensor:
    """Per-token KL(policy || reference) estimators with delta = logp_new - logp_ref clamped to +-40.

    k1 = delta, k2 = delta^2 / 2, k3 = expm1(-delta) + delta, k4 = rho * delta (rho: policy ratio vs old).
    """
    delta = (logp_new - logp_ref).clamp(-_KL_LOG_CLAMP, _KL_LOG_CLAMP)
    if estimator == "k1":
        return delta
    if estimator == "k2":
        return delta.pow(2) / 2
    if estimator == "k3":
        return torch.expm1(-delta) + delta
    if estimator == "k4":
        return ratio * delta
    raise ValueError(f"rl.kl_estimator: unknown estimator {estimator!r}; use k1, k2, k3 or k4")


def tis_weight(logp_old: torch.Tensor, logp_engine: torch.Tensor, cap: float) -> torch.Tensor:
    """Truncated importance weight min(exp(logp_old - logp_engine), cap); log-difference clamped to +-10."""
    log_ratio = (logp_old - logp_engine).clamp(-_TIS_LOG_CLAMP, _TIS_LOG_CLAMP)
    return torch.exp(log_ratio).clamp(max=cap)


def policy_loss(
    logp_new: torch.Tensor,
    batch: dict[str, torch.Tensor],
    settings: LossSettings,
) -> LossOutput:
    """The clipped, optionally importance-corrected and KL-regularised objective.

    batch holds tensors shaped like logp_new: `logp_old`, `logp_engine`, `advantages` (per token),
    `mask` (bool, response tokens) and, when kl_beta > 0, `logp_ref`.
    """
    mask = batch["mask"].bool()
    adv = batch["advantages"].to(logp_new.dtype)
    logp_old = batch["logp_old"].to(logp_new.dtype)
    ratio = torch.exp(logp_new - logp_old)
    unclipped = -adv * ratio
    clipped = -adv * ratio.clamp(1.0 - settings.clip_lower, 1.0 + settings.clip_higher)
    weight = torch.ones_like(ratio)
    if settings.tis_cap > 0:
        weight = tis_weight(logp_old, batch["logp_engine"].to(logp_new.dtype), settings.tis_cap)
        unclipped, clipped = unclipped * weight, clipped * weight
    per_token = torch.maximum(unclipped, clipped)
    kl_ref = torch.zeros_like(per_token)
    if settings.kl_beta > 0:
        kl_ref = kl_estimate(logp_new, batch["logp_ref"].to(logp_new.dtype), ratio, settings.kl_estimator)
        per_token = per_token + settings.kl_beta * kl_ref
    loss = masked_mean(per_token, mask)
    with torch.no_grad():
        stats = {
            "clip_fraction": masked_mean((clipped > unclipped).float(), mask),
            "ratio_mean": masked_mean(ratio, mask),
            "approx_kl": masked_mean(0.5 * (logp_new - logp_old).pow(2), mask),
            "engine_logprob_diff": masked_mean((logp_old - batch["logp_engine"]).abs().to(ratio.dtype), mask),
            "kl_ref": masked_mean(kl_ref, mask),
            "tis_weight_mean": masked_mean(weight, mask),
        }
    return LossOutput(loss=loss, stats={k: v.detach() for k, v in stats.items()})
