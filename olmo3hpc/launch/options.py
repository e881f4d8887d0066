"""How a launch is carried out (not what is trained: that is the run config)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from olmo3hpc.config import ConfigError

_DEPENDENCY = re.compile(r"^(after|afterany|afterok|afternotok|aftercorr|afterburstbuffer|singleton)(:[0-9_:]+)?"
                         r"([,?](after|afterany|afterok|afternotok|aftercorr)(:[0-9_:]+))*$")
_DRIVER = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class LaunchOptions:
    executor: Literal["", "auto", "slurm", "local"] = ""
    """Override slurm.executor: slurm (sbatch), local (this machine), auto (slurm if sbatch exists)."""
    dry_run: bool = False
    """Print the exact sbatch text (checked with `sbatch --test-only` where Slurm exists); submit nothing."""
    dependency: str = ""
    """Slurm dependency of the job, e.g. `afterok:123`."""
    array: int = 0
    """Submit a job array of this many tasks, one Ray cluster per task (eval sweeps); 0 = one job.
    Each task's driver sees OLMO3HPC_ARRAY_INDEX."""
    array_parallelism: int = 0
    """At most this many array tasks at once (0 = all)."""
    driver: str = ""
    """`module:function` run on the head instead of the stage's train(run)."""
    pretokenize: bool = False
    """Submit the CPU-only dataset cache job first and chain this job on it with afterok."""
    python: str = ""
    """Python command on the nodes (default: this interpreter; containers usually need `python`)."""
    quiet: bool = False
    """No progress lines."""
    detach: bool = False
    """Local executor: return at once instead of streaming the job's log until it ends (Slurm jobs
    always return at once; follow them with `olmo3hpc logs <run_dir> --follow`)."""

    def validate(self) -> None:
        if self.dependency and not _DEPENDENCY.match(self.dependency):
            raise ConfigError(f"--dependency {self.dependency!r}: expected e.g. afterok:123 or afterany:1:2")
        if self.array < 0 or self.array_parallelism < 0:
            raise ConfigError("--array/--array-parallelism: must be >= 0")
        if self.driver and not _DRIVER.match(self.driver):
            raise ConfigError(f"--driver {self.driver!r}: expected module.path:function")


@dataclass(frozen=True)
class LaunchResult:
    run_dir: Path
    executor: str
    job_ids: tuple[str, ...] = ()
    """The main job (array: one id per task)."""
    pretokenize_job_id: str = ""
    sbatch_text: str = ""
    dry_run: bool = False
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        if self.dry_run:
            return f"dry run ({self.executor}): nothing written or submitted; run_dir would be {self.run_dir}"
        jobs = ", ".join(self.job_ids)
        chain = f" after cache job {self.pretokenize_job_id} (afterok)" if self.pretokenize_job_id else ""
        return (f"submitted {self.executor} job {jobs}{chain}\n  run_dir {self.run_dir}\n"
                f"  olmo3hpc status {self.run_dir}\n  olmo3hpc logs {self.run_dir} --follow")
