"""What is trained: initial weights, tokenizer, chat template and numerics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from olmo3hpc.config.base import ConfigError

CHAT_TEMPLATES = (
    "olmo",
    "olmo_thinker",
    "olmo_thinker_no_think_7b",
    "olmo_thinker_no_think_sft_tokenization",
    "olmo_thinker_rlzero",
    "olmo_thinker_code_rlzero",
    "tokenizer",
)


@dataclass(frozen=True)
class ModelConfig:
    init: str = "allenai/Olmo-3-1025-7B"
    """Initial weights: a hub id, a local HF directory, `recipe:<name>` (that recipe's final HF export
    under the same output root) or `random:<size>` (a random Olmo3: tiny or 1b; tests and benchmarks)."""
    public_equivalent: str = ""
    """Public hub model equal to the output that `init: recipe:<name>` points at; pass it as
    `--model.init` to start from the released checkpoint instead of running the earlier stage."""
    tokenizer: str = ""
    """Tokenizer: empty = the init model's own; a hub id or path; `random:bpe` (built in-process, tests)."""
    revision: str = "main"
    """Hub revision of `init` and `tokenizer`."""
    chat_template: str = "olmo"
    """Chat template: olmo, olmo_thinker, olmo_thinker_no_think_7b, olmo_thinker_no_think_sft_tokenization,
    olmo_thinker_rlzero, olmo_thinker_code_rlzero, or `tokenizer` (the tokenizer's own template)."""
    params_b: float = 7.0
    """Parameter count in billions; the planner uses it to check ZeRO-3 memory before submitting."""
    dtype: Literal["bfloat16", "float32"] = "bfloat16"
    """Training dtype (bf16 on GPU; CPU smoke runs use float32)."""
    attn_implementation: Literal["auto", "flash_attention_2", "sdpa", "eager"] = "auto"
    """Attention kernel: auto = flash_attention_2 on GPU when installed, else sdpa."""
    gradient_checkpointing: bool = True
    """Recompute activations in the backward pass (always on in the OLMo 3 DPO and RL runs)."""

    @property
    def lineage(self) -> str | None:
        """Name of the recipe whose output initializes this run, if any."""
        return self.init.removeprefix("recipe:") if self.init.startswith("recipe:") else None

    def validate(self) -> None:
        if not self.init:
            raise ConfigError("model.init: empty; give a hub id, a path, recipe:<name> or random:<size>")
        if self.chat_template not in CHAT_TEMPLATES:
            raise ConfigError(f"model.chat_template: {self.chat_template!r} is not one of {list(CHAT_TEMPLATES)}")
        if self.params_b <= 0:
            raise ConfigError(f"model.params_b: must be > 0, got {self.params_b}")
