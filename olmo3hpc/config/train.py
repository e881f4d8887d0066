"""Batching, duration, checkpoint cadence: the loop's knobs shared by every stage."""

from __future__ import annotations

from dataclasses import dataclass

from olmo3hpc.config.base import ConfigError


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 1.0
    """Passes over the training mix (SFT/DPO)."""
    max_steps: int = 0
    """Stop after this many optimizer steps (0 = run the epochs; RL: from rl.total_episodes)."""
    micro_batch_size: int = 1
    """Sequences (SFT packed rows, DPO pairs, RL packed rows) per GPU per forward/backward."""
    grad_accum: int = 1
    """Micro-batches per optimizer step (SFT derives it from global_batch_tokens when that is set)."""
    global_batch_tokens: int = 0
    """SFT: tokens per optimizer step across all ranks (OLMo-core semantics); 0 = micro x accum x ranks."""
    checkpoint_every: int = 500
    """Save full resumable state (DeepSpeed + sampler + RNG) every N steps (0 = only at the end/preemption)."""
    export_every: int = 0
    """Write an HF safetensors export every N steps (0 = only at the end)."""
    keep_last: int = 3
    """Resumable checkpoints to keep (-1 = all)."""
    log_every: int = 1
    """Console progress line every N steps (metrics JSONL gets every step)."""

    def validate(self) -> None:
        if self.epochs <= 0 and self.max_steps <= 0:
            raise ConfigError("train: set train.epochs > 0 or train.max_steps > 0")
        for name in ("micro_batch_size", "grad_accum", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name}: must be >= 1, got {getattr(self, name)}")
        if min(self.checkpoint_every, self.export_every, self.max_steps, self.global_batch_tokens) < 0:
            raise ConfigError("train: step counts and batch sizes must be >= 0")
