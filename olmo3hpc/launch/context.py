"""Who and where a node task is: read once from submitit's job environment and the run directory."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from olmo3hpc.config import Run, load_run
from olmo3hpc.launch.runlog import JobLog, read_events


@dataclass(frozen=True)
class JobContext:
    run_dir: Path
    run: Run
    job_id: str
    """submitit's job id (`123`, or `123_4` for array task 4): names the logs."""
    job_number: int
    """Numeric id unique to this allocation (SLURM_JOB_ID, or the local controller's pid): seeds ports."""
    node: int
    num_nodes: int
    hostnames: tuple[str, ...]
    restart: int
    """How many times this job was requeued before this attempt."""
    executor: str
    array_index: int | None
    started: float

    @property
    def attempt_key(self) -> str:
        """Rendezvous/temp-dir key: unique per allocation and attempt, so stale files never match."""
        return f"{self.job_number}r{self.restart}"

    @property
    def log(self) -> JobLog:
        return JobLog(self.run_dir, self.job_id, self.node)

    def host_of(self, k: int) -> str:
        return self.hostnames[k] if k < len(self.hostnames) else self.hostnames[0]

    def task_log(self, k: int) -> Path:
        """submitit's log of node k's task."""
        return self.run_dir / "logs" / f"{self.job_id}_{k}_log.out"


def detect(run_dir: Path, array_index: int | None) -> JobContext:
    import submitit  # noqa: PLC0415  (the login node never needs it for this)

    env = submitit.JobEnvironment()
    run = load_run(Path(run_dir) / "config.yaml")
    slurm = env.cluster == "slurm"
    number = int(os.environ["SLURM_JOB_ID"]) if slurm else int(env.raw_job_id)
    restart = int(os.environ.get("SLURM_RESTART_COUNT", "0")) if slurm else _local_restarts(run_dir, env.job_id)
    hosts = tuple(env.hostnames) if slurm else (socket.gethostname(),) * run.slurm.nodes
    return JobContext(
        run_dir=Path(run_dir), run=run, job_id=env.job_id, job_number=number, node=env.global_rank,
        num_nodes=env.num_tasks, hostnames=hosts, restart=restart, executor=env.cluster,
        array_index=array_index, started=time.time(),
    )


def _local_restarts(run_dir: Path, job_id: str) -> int:
    """The local executor reruns a requeued job under the same id: count our own requeue events."""
    return sum(1 for e in read_events(run_dir) if e.get("event") == "requeue" and e.get("job_id") == job_id)
