"""Reward services for RL: verifiers, the code-execution service and the LLM judge."""

from __future__ import annotations

from dataclasses import dataclass

from olmo3hpc.config.base import ConfigError


@dataclass(frozen=True)
class RewardConfig:
    verification_reward: float = 10.0
    """Reward for a fully verified sample (score x this x weight)."""
    remap: tuple[str, ...] = ()
    """Verifier aliases `old=new` (open-instruct --remap_verifier)."""
    code_api_url: str | None = None
    """Code-execution service URL; None = the job starts its own on CPU cores."""
    code_workers: int = 4
    """Sandbox worker processes of the job's own code service."""
    code_max_execution_time: float = 1.0
    """Seconds per test program."""
    code_pass_rate_threshold: float = 0.0
    """Code score is 0 below this pass rate (0.99 in think/instruct runs)."""
    judge_model: str = "Qwen/Qwen3-32B"
    """LLM judge model for `general-*` verifiers."""
    judge_url: str | None = None
    """OpenAI-compatible judge URL; None = start a vLLM server on the judge GPUs (if judge_gpus > 0)."""
    judge_gpus: int = 0
    """GPUs the plan reserves for the judge server (0 = no judge, or an external judge_url)."""
    judge_tensor_parallel: int = 1
    """Tensor parallel size of the judge server."""
    judge_timeout_s: float = 600.0
    """Per-request judge timeout."""
    judge_max_tokens: int = 2048
    """Judge completion budget."""
    judge_max_context: int = 32768
    """Judge context; longer prompts are truncated."""
    judge_temperature: float = 1.0
    """Judge sampling temperature."""
    verifier_timeout_s: float = 10.0
    """A verifier call slower than this scores 0 (logged with the sample id)."""
    reward_workers: int = 2
    """Processes computing rewards beside generation."""

    def validate(self) -> None:
        for item in self.remap:
            if item.count("=") != 1:
                raise ConfigError(f"reward.remap: {item!r} is not `old=new`")
        if self.judge_gpus and self.judge_gpus % self.judge_tensor_parallel:
            raise ConfigError("reward.judge_gpus: must be a multiple of reward.judge_tensor_parallel")
