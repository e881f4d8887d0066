"""DeepSpeed ZeRO settings of the learners."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from olmo3hpc.config.base import ConfigError


@dataclass(frozen=True)
class DeepSpeedConfig:
    zero_stage: Literal[0, 1, 2, 3] = 3
    """ZeRO stage (3 in every OLMo 3 DPO and RL run)."""
    offload_optimizer: bool = False
    """Keep optimizer state in CPU memory."""
    offload_params: bool = False
    """Keep ZeRO-3 parameters in CPU memory."""
    hpz_partition_size: int = 1
    """ZeRO++ hierarchical partition size (open-instruct `deepspeed_zpg`; 1 = off)."""
    backend_timeout_min: int = 120
    """Collective timeout in minutes."""
    gather_whole_model: bool = True
    """RL weight sync: gather all ZeRO-3 parameters at once (False = one at a time, for 32B)."""

    def validate(self) -> None:
        if self.offload_params and self.zero_stage != 3:
            raise ConfigError("deepspeed.offload_params: needs deepspeed.zero_stage 3")
        if self.hpz_partition_size < 1:
            raise ConfigError("deepspeed.hpz_partition_size: must be >= 1")
