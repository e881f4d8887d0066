"""Run identity: name, where outputs go, seed and experiment tracking."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from olmo3hpc.config.base import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class MetaConfig:
    name: str = "run"
    """Run name; the run directory is <output_root>/<name> (relaunching the same name resumes)."""
    output_root: str = "runs"
    """Directory holding run directories and the shared data cache (shared storage on a cluster)."""
    seed: int = 1
    """Training seed (model init, sampling, shuffling beyond the data mix)."""
    wandb_project: str = ""
    """Weights & Biases project (empty = JSONL metrics only)."""
    wandb_entity: str = ""
    """Weights & Biases entity."""
    description: str = ""
    """Free text stored with the run."""

    @property
    def run_dir(self) -> Path:
        return Path(self.output_root) / self.name

    def validate(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(f"meta.name: {self.name!r} must be letters, digits, '.', '_' or '-'")
