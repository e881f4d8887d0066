"""Preference losses on per-sequence log-probs (open-instruct dpo_tune_cache semantics).

Pure tensor code: no model, no data loader, no distributed state. The stage computes per-sequence
summed log-probs and label-token counts for the chosen and rejected responses (policy and cached
reference); these functions turn them into per-pair losses and the logged reward statistics.

With z = beta * h and label smoothing e, every loss here is -(1-e) log s(z) - e log s(-z), where
  dpo      h = (pi_c - pi_r) - (ref_c - ref_r)          on summed log-probs
  dpo_norm h = the same on length-averaged log-probs     (what OLMo 3 ran, beta 5)
  simpo    h = avg pi_c - avg pi_r - gamma/beta          (no reference)
  wpo      dpo, each pair scaled by w = min(exp(avg pi_c + avg pi_r), 1)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from olmo3hpc.config import DPOConfig

IGNORE_INDEX = -100
"""Label value of tokens that carry no loss (prompt, padding)."""


@dataclass(frozen=True)
class SequenceLogps:
    """Log-probs of the label tokens of a batch of sequences: summed, and how many tokens."""

    total: torch.Tensor
    """(B,) sum of log p(label token) over the label tokens."""
    tokens: torch.Tensor
    """(B,) number of label tokens (float, so it divides without casts)."""

    @property
    def mean(self) -> torch.Tensor:
        """Length-averaged log-prob (the dpo_norm / simpo quantity)."""
        return self.total / self.tokens.clamp(min=1)

    def split(self, n: int) -> tuple[SequenceLogps, SequenceLogps]:
        """First n rows and the rest (chosen and rejected halves of a concatenated batch)."""
        return (SequenceLogps(self.total[:n], self.tokens[:n]), SequenceLogps(self.total[n:], self.tokens[n:]))

    def detach(self) -> SequenceLogps:
        return SequenceLogps(self.total.detach(), self.tokens.detach())


@dataclass(frozen=True)
class PairLoss:
    """Per-pair loss and the implicit rewards that open-instruct logs."""

    losses: torch.Tensor
    """(B,) loss of each pair; the batch loss is their mean."""
    chosen_rewards: torch.Tensor
    """(B,) beta * (pi_c - ref_c), or beta * avg pi_c for simpo (detached)."""
    rejected_rewards: torch.Tensor
    """(B,) as chosen_rewards for the rejected response."""


def sequence_logps(logits: torch.Tensor, labels: torch.Tensor) -> SequenceLogps:
    """Summed next-token log-probs of the labels that are not IGNORE_INDEX.

    logits: (B, T, V) from a causal LM on input_ids; labels: (B, T) aligned with input_ids
    (position t's logits predict token t+1, so both are shifted by one here).
    """
    if logits.shape[:-1] != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} do not align")
    return target_logps(logits[:, :-1, :], labels[:, 1:])


def target_logps(logits: torch.Tensor, targets: torch.Tensor) -> SequenceLogps:
    """Summed log-probs of `targets` (B, K) under `logits` (B, K, V) that predict them position by position
    (already shifted, e.g. only the positions a forward with `logits_to_keep` returned)."""
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} do not align")
    mask = targets != IGNORE_INDEX
    logits = logits.float()
    # log_softmax + gather without materialising the full log-prob tensor twice
    picked = torch.gather(logits, -1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    token_logps = picked - torch.logsumexp(logits, dim=-1)
    total = (token_logps * mask).sum(-1)
    return SequenceLogps(total=total, tokens=mask.sum(-1).to(total.dtype))


def _sigmoid_loss(h: torch.Tensor, beta: float, label_smoothing: float) -> torch.Tensor:
    z = beta * h
    return -F.logsigmoid(z) * (1 - label_smoothing) - F.logsigmoid(-z) * label_smoothing


def preference_loss(
    policy_chosen: SequenceLogps,
    policy_rejected: SequenceLogps,
    ref_chosen: SequenceLogps | None,
    ref_rejected: SequenceLogps | None,
    cfg: DPOConfig,
) -> PairLoss:
    """The loss of `cfg.loss_type` for each pair; the reference is unused (may be None) for simpo."""
    beta, smooth = cfg.beta, cfg.label_smoothing
    if cfg.loss_type == "simpo":
        pc, pr = policy_chosen.mean, policy_rejected.mean
        losses = _sigmoid_loss(pc - pr - cfg.gamma_beta_ratio, beta, smooth)
        return PairLoss(losses, (beta * pc).detach(), (beta * pr).detach())
    if ref_chosen is None or ref_rejected is None:
        raise ValueError(f"dpo.loss_type {cfg.loss_type!r} needs reference log-probs")
    if cfg.loss_type == "dpo_norm":
        pc, pr, rc, rr = policy_chosen.mean, policy_rejected.mean, ref_chosen.mean, ref_rejected.mean
    elif cfg.loss_type in ("dpo", "wpo"):
        pc, pr, rc, rr = policy_chosen.total, policy_rejected.total, ref_chosen.total, ref_rejected.total
    else:
        raise ValueError(f"dpo.loss_type: unknown {cfg.loss_type!r}")
    losses = _sigmoid_loss((pc - pr) - (rc - rr), beta, smooth)
    if cfg.loss_type == "wpo":
        # WPO weighs each pair by how likely the policy finds both responses; the weight is a
        # sampling correction, not something to optimise, so no gradient flows through it.
        weight = torch.exp(policy_chosen.mean + policy_rejected.mean).clamp(max=1.0).detach()
        losses = losses * weight
    return PairLoss(losses, (beta * (pc - rc)).detach(), (beta * (pr - rr)).detach())


def pair_sums(out: PairLoss, policy_chosen: SequenceLogps, policy_rejected: SequenceLogps) -> dict[str, float]:
    """Sums over the pairs of a micro-batch; add them across micro-batches and ranks, then `mean_metrics`."""
    margins = out.chosen_rewards - out.rejected_rewards
    return {
        "pairs": float(margins.numel()),
        "loss": float(out.losses.detach().sum()),
        "rewards/chosen": float(out.chosen_rewards.sum()),
        "rewards/rejected": float(out.rejected_rewards.sum()),
        "correct": float((margins > 0).sum()),
        "logps/chosen": float(policy_chosen.total.detach().sum()),
        "logps/rejected": float(policy_rejected.total.detach().sum()),
    }


def mean_metrics(sums: dict[str, float]) -> dict[str, float]:
    """Batch means of what open-instruct logs for DPO, under its names."""
    n = max(sums["pairs"], 1.0)
    chosen, rejected = sums["rewards/chosen"] / n, sums["rewards/rejected"] / n
    return {
        "loss": sums["loss"] / n,
        "rewards/chosen": chosen,
        "rewards/rejected": rejected,
        "rewards/margin": chosen - rejected,
        "rewards/accuracy": sums["correct"] / n,
        "logps/chosen": sums["logps/chosen"] / n,
        "logps/rejected": sums["logps/rejected"] / n,
    }
