"""The environment the job hands to `ray start` and to the stage driver.

Inherited Slurm/MPI/launcher variables make nested launches misbehave (a `SLURM_CPU_BIND` pins a
child to few cores, `SLURM_PROCID`/`OMPI_*` make DeepSpeed or torch think they were launched by
srun/mpirun, `SLURM_MEM_*` leaks into nested sbatch), so they are removed. The site's NCCL/IB
settings and the run's `slurm.env` are added, so every raylet (and therefore every actor on every
node) starts with them. Secrets are never written anywhere: they stay in the inherited
environment and are passed along by name.
"""

from __future__ import annotations

from collections.abc import Mapping

SCRUB_PREFIXES = ("SLURM_", "SBATCH_", "SRUN_", "SALLOC_", "PMI_", "PMIX_", "OMPI_", "MPI_", "I_MPI_",
                  "HYDRA_", "SUBMITIT_")
SCRUB_NAMES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
               "RAY_ADDRESS", "CUDA_VISIBLE_DEVICES")
"""torch.distributed / Ray variables that must come from the job, never from the caller.
CUDA_VISIBLE_DEVICES is dropped too: Slurm can set it to `NoDevFiles`; Ray sets it per actor."""


def parse_env_lines(lines: tuple[str, ...]) -> dict[str, str]:
    """`NAME=value` items (already validated by SlurmConfig) as a dict; later items win."""
    return dict(item.split("=", 1) for item in lines)


def node_environment(inherited: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """`inherited` minus launcher variables, plus `extra` (site/run env, Ray settings)."""
    env = {k: v for k, v in inherited.items() if not _scrubbed(k)}
    env.update(extra)
    return env


def _scrubbed(name: str) -> bool:
    return name.startswith(SCRUB_PREFIXES) or name in SCRUB_NAMES


def ray_settings(inherited: Mapping[str, str]) -> dict[str, str]:
    """Ray knobs every node of the job shares.

    RAY_AUTH_MODE: a stale `~/.ray/auth_token` turns token auth on by itself in Ray 2.60, after
    which clients without the token fail; the job therefore states the mode explicitly (the
    caller's or the site's value wins, default `disabled`).
    """
    return {
        "RAY_AUTH_MODE": inherited.get("RAY_AUTH_MODE", "disabled"),
        # SIGTERM on `ray start --block` otherwise drains the node for 30 s before stopping
        "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
    }


def secret_names_present(names: tuple[str, ...], inherited: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(n for n in names if inherited.get(n))
