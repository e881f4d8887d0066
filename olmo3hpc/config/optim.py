"""Optimizer and learning-rate schedule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from olmo3hpc.config.base import ConfigError


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-5
    """Peak learning rate."""
    betas: tuple[float, float] = (0.9, 0.95)
    """AdamW betas."""
    eps: float = 1e-8
    """AdamW epsilon."""
    weight_decay: float = 0.0
    """AdamW weight decay (0 in every OLMo 3 run)."""
    schedule: Literal["linear", "constant", "cosine"] = "linear"
    """Decay after warmup: linear to `final_lr_ratio`*lr, constant, or cosine."""
    warmup_ratio: float = 0.03
    """Warmup as a fraction of the optimizer steps (used when warmup_steps is 0)."""
    warmup_steps: int = 0
    """Warmup in optimizer steps; wins over warmup_ratio when > 0."""
    final_lr_ratio: float = 0.0
    """Learning rate at the end of the decay, as a fraction of lr."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm (0 = off)."""

    def warmup_for(self, total_steps: int) -> int:
        return self.warmup_steps if self.warmup_steps > 0 else int(self.warmup_ratio * total_steps)

    def validate(self) -> None:
        if not 0 < self.lr < 1:
            raise ConfigError(f"optim.lr: {self.lr} is outside (0, 1)")
        if not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"optim.betas: {self.betas} must be in [0, 1)")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"optim.warmup_ratio: {self.warmup_ratio} must be in [0, 1)")
