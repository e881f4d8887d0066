"""Per-node facts derived from the frozen run: the Ray node spec and the process environment."""

from __future__ import annotations

import os

from olmo3hpc.launch import bootstrap
from olmo3hpc.launch.context import JobContext
from olmo3hpc.launch.jobenv import node_environment, parse_env_lines, ray_settings


def node_spec(ctx: JobContext, k: int) -> bootstrap.NodeSpec:
    """GPUs from the run (what Slurm granted), CPUs from the allocation (at least one per planned
    CPU device plus one for the driver and Ray's own work), a capped object store."""
    slurm = ctx.run.slurm
    allocated = int(os.environ.get("SLURM_CPUS_ON_NODE", "0")) or slurm.cpus_per_node or (os.cpu_count() or 1)
    cpus = allocated if slurm.gpus_per_node else max(allocated, ctx.run.placement.cpu_devices_per_node + 1)
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return bootstrap.NodeSpec(
        index=k, ip=bootstrap.node_ip(_ifname(ctx)), num_cpus=cpus, num_gpus=slurm.gpus_per_node,
        object_store_bytes=bootstrap.object_store_bytes(ctx.run.ray.object_store_mb, mem),
        temp_dir=bootstrap.short_temp_dir(ctx.run.ray.temp_root, ctx.attempt_key, k),
    )


def _ifname(ctx: JobContext) -> str:
    return parse_env_lines(ctx.run.slurm.env).get("OLMO3HPC_NODE_IFNAME") or os.environ.get("OLMO3HPC_NODE_IFNAME", "")


def job_environment(ctx: JobContext) -> dict[str, str]:
    """Scrubbed inherited env + Ray settings + the run's (site) env + job identity for the driver."""
    extra = {
        **ray_settings(os.environ),
        **parse_env_lines(ctx.run.slurm.env),
        "OLMO3HPC_RUN_DIR": str(ctx.run_dir),
        "OLMO3HPC_JOB_ID": ctx.job_id,
        "OLMO3HPC_RESTART": str(ctx.restart),
        "OLMO3HPC_NODE_INDEX": str(ctx.node),
    }
    if ctx.array_index is not None:
        extra["OLMO3HPC_ARRAY_INDEX"] = str(ctx.array_index)
    wandb_id = ctx.run_dir / "wandb_id"
    if wandb_id.exists():
        # the same W&B run across requeues: appended, never a new run
        extra.update(WANDB_RUN_ID=wandb_id.read_text().strip(), WANDB_RESUME="allow")
    return node_environment(os.environ, extra)
