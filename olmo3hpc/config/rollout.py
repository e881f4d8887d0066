"""RL generation: engines and sampling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from olmo3hpc.config.base import ConfigError


@dataclass(frozen=True)
class RolloutConfig:
    engine: Literal["vllm", "transformers"] = "vllm"
    """Generation engine: vLLM, or transformers `generate` (same interface) where vLLM is missing."""
    num_engines: int = 1
    """Engine actors."""
    tensor_parallel: int = 1
    """GPUs per engine (must divide a node's GPUs)."""
    gpu_memory_utilization: float = 0.9
    """vLLM KV-cache memory share (colocated placement lowers it)."""
    enforce_eager: bool = False
    """Disable CUDA graphs (needed at 32B in OLMo 3)."""
    prefix_caching: bool = False
    """vLLM automatic prefix caching."""
    max_prompt_length: int = 2048
    """Prompts longer than this are filtered (and counted)."""
    response_length: int = 8192
    """max_tokens per sample."""
    samples_per_prompt: int = 8
    """Completions per prompt (the GRPO group size)."""
    prompts_per_step: int = 64
    """Unique prompts per training step."""
    temperature: float = 1.0
    """Sampling temperature (the learner divides logits by it too)."""
    top_p: float = 1.0
    """Nucleus sampling."""
    stop_strings: tuple[str, ...] = ()
    """Stop strings (kept in the output)."""

    @property
    def samples_per_step(self) -> int:
        return self.samples_per_prompt * self.prompts_per_step

    @property
    def max_model_len(self) -> int:
        return self.max_prompt_length + self.response_length

    def validate(self) -> None:
        for name in ("num_engines", "tensor_parallel", "samples_per_prompt", "prompts_per_step"):
            if getattr(self, name) < 1:
                raise ConfigError(f"rollout.{name}: must be >= 1, got {getattr(self, name)}")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ConfigError(f"rollout.gpu_memory_utilization: {self.gpu_memory_utilization} not in (0, 1]")
        if self.temperature <= 0:
            raise ConfigError("rollout.temperature: must be > 0 (greedy eval is separate)")
