"""Where a run executes: the Slurm allocation, the Ray cluster on it and the GPU placement.

Site facts (partition, account, NCCL env, container) usually come from `slurm/sites/<name>.toml`
through `--slurm.site NAME`; every one of them is also a field here and can be overridden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from olmo3hpc.config.base import ConfigError

_TIME = re.compile(r"^(\d+-)?\d{1,3}(:\d{2}){0,2}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ContainerConfig:
    kind: Literal["none", "pyxis", "apptainer"] = "none"
    """Run each node's task in a container: Pyxis/Enroot (srun --container-image) or Apptainer exec."""
    image: str = ""
    """Container image (squashfs/sif path or registry URI)."""
    mounts: tuple[str, ...] = ()
    """Bind mounts `src:dst` (the run directory is always mounted)."""

    def validate(self) -> None:
        if self.kind != "none" and not self.image:
            raise ConfigError(f"slurm.container.image: required for container kind {self.kind!r}")


@dataclass(frozen=True)
class SlurmConfig:
    executor: Literal["auto", "slurm", "local"] = "auto"
    """auto = Slurm when `sbatch` is on PATH, else run the same job on this machine."""
    site: str = ""
    """Site profile name (slurm/sites/<site>.toml) whose values are the defaults below."""
    nodes: int = 1
    """Nodes in the allocation (one task per node)."""
    gpus_per_node: int = 8
    """GPUs per node (0 for CPU-only runs)."""
    gpu_mem_gb: int = 80
    """Memory of one GPU; the planner checks ZeRO-3 fits."""
    cpus_per_node: int = 0
    """CPUs for the node's task (0 = Slurm's default)."""
    mem: str = ""
    """Memory per node, e.g. `0` (all) or `900G`; empty = Slurm's default."""
    time: str = "48:00:00"
    """Wall time limit ([D-]HH:MM:SS)."""
    partition: str = ""
    account: str = ""
    qos: str = ""
    constraint: str = ""
    exclusive: bool = False
    """Whole nodes only."""
    extra_sbatch: tuple[str, ...] = ()
    """Extra `#SBATCH` options, e.g. `--reservation=x`."""
    setup: tuple[str, ...] = ()
    """Shell lines run before the job on every node (module load, env activation)."""
    env: tuple[str, ...] = ()
    """Non-secret `NAME=value` variables for the job (NCCL/IB settings usually come from the site)."""
    pass_env: tuple[str, ...] = ("HF_TOKEN", "WANDB_API_KEY")
    """Secrets passed by NAME from the submitting environment; values are never written to disk."""
    max_requeues: int = 3
    """Requeues after preemption or time limit before the job gives up."""
    signal_delay_s: int = 120
    """Seconds before the time limit at which the job is signalled to checkpoint."""
    container: ContainerConfig = field(default_factory=ContainerConfig)

    @property
    def time_minutes(self) -> int:
        days, _, clock = self.time.rpartition("-")
        parts = [int(p) for p in clock.split(":")]
        h, m, s = ([0] * (3 - len(parts)) + parts) if len(parts) > 1 else (0, parts[0], 0)
        return int(days or 0) * 1440 + h * 60 + m + (1 if s else 0)

    def validate(self) -> None:
        if self.nodes < 1:
            raise ConfigError(f"slurm.nodes: must be >= 1, got {self.nodes}")
        if self.gpus_per_node < 0:
            raise ConfigError("slurm.gpus_per_node: must be >= 0")
        if not _TIME.match(self.time):
            raise ConfigError(f"slurm.time: {self.time!r} is not [D-]HH:MM:SS")
        if self.signal_delay_s >= self.time_minutes * 60:
            raise ConfigError("slurm.signal_delay_s: must be shorter than slurm.time")
        for item in self.env:
            name, eq, _ = item.partition("=")
            if not eq or not _ENV_NAME.match(name):
                raise ConfigError(f"slurm.env: {item!r} is not NAME=value")
        for name in self.pass_env:
            if not _ENV_NAME.match(name):
                raise ConfigError(f"slurm.pass_env: {name!r} is not a variable name")
        self.container.validate()


@dataclass(frozen=True)
class RayConfig:
    ready_timeout_s: float = 300.0
    """Seconds to wait for every node (with its GPUs and CPUs) to join before failing with their names."""
    object_store_mb: int = 0
    """Object store per node in MiB (0 = 10% of the node's memory, capped)."""
    temp_root: str = "/tmp"
    """Root of Ray's per-job temp dir; kept short because of the 107-byte Unix socket limit."""


@dataclass(frozen=True)
class PlacementConfig:
    mode: Literal["separate", "colocated"] = "separate"
    """RL: separate GPUs for learners and engines (as OLMo 3 ran), or colocated on the same GPUs
    with the engines asleep while the learners train (for one- or two-node labs)."""
    learners_per_node: tuple[int, ...] = ()
    """Learner GPUs on each of the first nodes (open-instruct --num_learners_per_node; 0 = none on
    that node); empty = every GPU of every node (SFT/DPO)."""
    cpu_devices_per_node: int = 2
    """CPU-only runs (slurm.gpus_per_node 0): devices per node, each an equal slice of the node's cores
    that one learner or engine process is pinned to (as a GPU would be its own)."""
