"""DPO loss settings (open-instruct dpo_tune_cache semantics)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from olmo3hpc.config.base import ConfigError


@dataclass(frozen=True)
class DPOConfig:
    loss_type: Literal["dpo", "dpo_norm", "simpo", "wpo"] = "dpo_norm"
    """dpo_norm = DPO on length-averaged log-probs (what OLMo 3 ran)."""
    beta: float = 5.0
    """Inverse temperature of the preference loss."""
    label_smoothing: float = 0.0
    """Conservative-DPO label smoothing (dpo and dpo_norm)."""
    gamma_beta_ratio: float = 0.3
    """SimPO target margin over beta."""
    max_train_samples: int = 0
    """Keep the first N pairs after shuffling (0 = all)."""

    @property
    def uses_reference(self) -> bool:
        return self.loss_type != "simpo"

    def validate(self) -> None:
        if self.beta <= 0:
            raise ConfigError(f"dpo.beta: must be > 0, got {self.beta}")
        if not 0 <= self.label_smoothing < 0.5:
            raise ConfigError(f"dpo.label_smoothing: must be in [0, 0.5), got {self.label_smoothing}")
