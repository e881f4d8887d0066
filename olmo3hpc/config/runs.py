"""The three root configs, one per stage. A recipe returns one of these; the CLI overrides it;
the job reads it back from run_dir/config.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Union

import yaml

from olmo3hpc.config.base import ConfigError, from_dict, to_dict
from olmo3hpc.config.cluster import PlacementConfig, RayConfig, SlurmConfig
from olmo3hpc.config.data import DataConfig
from olmo3hpc.config.dpo import DPOConfig
from olmo3hpc.config.meta import MetaConfig
from olmo3hpc.config.model import ModelConfig
from olmo3hpc.config.optim import OptimConfig
from olmo3hpc.config.reward import RewardConfig
from olmo3hpc.config.rl import RLConfig
from olmo3hpc.config.rollout import RolloutConfig
from olmo3hpc.config.train import TrainConfig
from olmo3hpc.config.zero import DeepSpeedConfig


@dataclass(frozen=True)
class _Common:
    meta: MetaConfig = field(default_factory=MetaConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    deepspeed: DeepSpeedConfig = field(default_factory=DeepSpeedConfig)
    slurm: SlurmConfig = field(default_factory=SlurmConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    placement: PlacementConfig = field(default_factory=PlacementConfig)

    stage: ClassVar[str]

    def validate(self) -> None:
        """Check every section; the planner (config.plan) checks the GPU layout after this."""
        for section in (self.meta, self.model, self.data, self.optim, self.train, self.deepspeed, self.slurm):
            section.validate()


@dataclass(frozen=True)
class SFTRun(_Common):
    """Supervised fine-tuning on chat data (OLMo-core SFT semantics, DeepSpeed learners on Ray)."""

    stage: ClassVar[str] = "sft"


@dataclass(frozen=True)
class DPORun(_Common):
    """Preference tuning with cached reference log-probs (open-instruct dpo_tune_cache semantics)."""

    dpo: DPOConfig = field(default_factory=DPOConfig)
    stage: ClassVar[str] = "dpo"

    def validate(self) -> None:
        super().validate()
        self.dpo.validate()


@dataclass(frozen=True)
class RLRun(_Common):
    """GRPO with vLLM rollouts (open-instruct grpo_fast semantics at the OLMo 3 run commits)."""

    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    stage: ClassVar[str] = "rl"

    @property
    def pack_length(self) -> int:
        return self.rl.pack_length or self.rollout.max_model_len

    def validate(self) -> None:
        super().validate()
        for section in (self.rollout, self.rl, self.reward):
            section.validate()
        if self.pack_length < self.rollout.max_model_len:
            raise ConfigError(
                f"rl.pack_length: {self.pack_length} < max_prompt_length + response_length "
                f"({self.rollout.max_model_len}); one sample would not fit a packed row"
            )


Run = Union[SFTRun, DPORun, RLRun]
RUN_TYPES: dict[str, type] = {cls.stage: cls for cls in (SFTRun, DPORun, RLRun)}


def run_to_dict(run: Run) -> dict:
    """Plain data with the stage first, as written to run_dir/config.yaml."""
    return {"stage": run.stage, **to_dict(run)}


def run_from_dict(data: dict, source: str = "config") -> Run:
    data = dict(data)
    stage = data.pop("stage", None)
    if stage not in RUN_TYPES:
        raise ConfigError(f"{source}: `stage` must be one of {sorted(RUN_TYPES)}, got {stage!r}")
    return from_dict(RUN_TYPES[stage], data, path=source)


def dump_run(run: Run) -> str:
    return yaml.safe_dump(run_to_dict(run), sort_keys=False, width=100)


def load_run(path: str | Path) -> Run:
    """Read a frozen run config (the job's only input)."""
    with open(path) as f:
        return run_from_dict(yaml.safe_load(f), source=str(path))
