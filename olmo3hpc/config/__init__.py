"""Typed, frozen run configuration. Imports only stdlib and PyYAML (the login node imports it)."""

from olmo3hpc.config.base import ConfigError, dump_yaml, from_dict, get_path, replace_path, stable_hash, to_dict
from olmo3hpc.config.cluster import ContainerConfig, PlacementConfig, RayConfig, SlurmConfig
from olmo3hpc.config.data import DataConfig
from olmo3hpc.config.dpo import DPOConfig
from olmo3hpc.config.meta import MetaConfig
from olmo3hpc.config.model import ModelConfig
from olmo3hpc.config.optim import OptimConfig
from olmo3hpc.config.plan import NodePlan, Plan, PlanError, plan
from olmo3hpc.config.reward import RewardConfig
from olmo3hpc.config.rl import RLConfig
from olmo3hpc.config.rollout import RolloutConfig
from olmo3hpc.config.runs import DPORun, RLRun, Run, RUN_TYPES, SFTRun, dump_run, load_run, run_from_dict, run_to_dict
from olmo3hpc.config.train import TrainConfig
from olmo3hpc.config.zero import DeepSpeedConfig

__all__ = [
    "ConfigError", "ContainerConfig", "DataConfig", "DeepSpeedConfig", "DPOConfig", "DPORun", "MetaConfig",
    "ModelConfig", "NodePlan", "OptimConfig", "PlacementConfig", "Plan", "PlanError", "RayConfig",
    "RewardConfig", "RLConfig", "RLRun", "RolloutConfig", "Run", "RUN_TYPES", "SFTRun", "SlurmConfig",
    "TrainConfig", "dump_run", "dump_yaml", "from_dict", "get_path", "load_run", "plan", "replace_path",
    "run_from_dict", "run_to_dict", "stable_hash", "to_dict",
]
