"""Submitting eval-sweep cells through the project launcher, and waiting for them.

Each submission is a small launcher run directory `<sweep>/jobs/job_NNN/` whose frozen config only
carries where and how the tasks run (slurm section, model dtype/template) and whose `cells.json`
lists the cells; `launch` submits a job array of len(cells) tasks with the eval-sweep driver.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from olmo3hpc.config import DataConfig, MetaConfig, ModelConfig, PlacementConfig, SFTRun, load_run
from olmo3hpc.launch import jobs
from olmo3hpc.launch.options import LaunchOptions
from olmo3hpc.launch.submit import launch
from olmo3hpc.tools.eval_cells import Cell, EvalSettings
from olmo3hpc.atomic import write_text_atomic

POLL_S = 2.0
UNKNOWN_GRACE_S = 120.0


def _base_run(checkpoints: str) -> SFTRun | Any:
    """The source run (its slurm site/partition/container and chat template), else defaults."""
    config = Path(checkpoints) / "config.yaml"
    return load_run(config) if config.is_file() else SFTRun()


def _job_run(args: Any, sweep_dir: Path, pending: list[Cell], settings: EvalSettings, base: Any) -> SFTRun:
    index = len(list((sweep_dir / "jobs").glob("job_*")))
    limit_s = sum(int(x) * 60 ** i for i, x in enumerate(reversed(args.time.split("-")[-1].split(":"))))
    slurm = replace(base.slurm, nodes=1, gpus_per_node=args.gpus, time=args.time, executor=args.executor,
                    signal_delay_s=min(base.slurm.signal_delay_s, max(limit_s // 2, 1)))
    # params_b only feeds the planner's training-memory check; an eval job holds no optimizer state.
    model = ModelConfig(init=pending[0].checkpoint, chat_template=settings.chat_template, params_b=0.001,
                        dtype=settings.dtype, gradient_checkpointing=False)
    return SFTRun(meta=MetaConfig(name=f"job_{index:03d}", output_root=str(sweep_dir / "jobs")), model=model,
                  data=DataConfig(mixer_list=(pending[0].group.path, "1.0")), slurm=slurm, ray=base.ray,
                  placement=PlacementConfig(cpu_devices_per_node=1))


def submit_cells(args: Any, sweep_dir: Path, pending: list[Cell],
                 settings_for: Callable[[Any, str], EvalSettings]) -> tuple[Path, tuple[str, ...]]:
    """Write jobs/job_NNN/cells.json and submit one array task per cell; returns (job dir, job ids)."""
    base = _base_run(args.checkpoints)
    settings = settings_for(args, args.chat_template or base.model.chat_template or "olmo")
    run = _job_run(args, sweep_dir, pending, settings, base)
    job_dir = Path(run.meta.run_dir)
    job_dir.mkdir(parents=True)
    spec = {"sweep_dir": str(sweep_dir), "settings": settings.__dict__, "cells": [c.to_json() for c in pending]}
    write_text_atomic(job_dir / "cells.json", json.dumps(spec, indent=2) + "\n")
    from olmo3hpc.tools.eval_sweep import DRIVER

    opts = LaunchOptions(array=len(pending), array_parallelism=args.parallelism, driver=DRIVER, quiet=True)
    result = launch(run, opts)
    return job_dir, result.job_ids


def wait_for(job_dir: Path, done: Callable[[], bool], timeout_s: float) -> bool:
    """Until `done()` or every job of the submission ended (or the timeout); returns done()."""
    start = time.monotonic()
    while not done():
        if timeout_s and time.monotonic() - start > timeout_s:
            return False
        state = jobs.status(str(job_dir))
        # squeue lists a pending array as `123_[0-3]`, so a task id may be UNKNOWN for a while
        settled = time.monotonic() - start > UNKNOWN_GRACE_S
        if state.jobs and not any(j.active or (j.state == "UNKNOWN" and not settled) for j in state.jobs):
            return done()
        time.sleep(POLL_S)
    return True
