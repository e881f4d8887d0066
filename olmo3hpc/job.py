"""The job side of `olmo3hpc launch`: what runs inside the Slurm allocation (or the local executor).

`NodeJob(run_dir)` is the callable submitit runs once per node (one task per node). It reads only
`run_dir/config.yaml`. Node 0 starts the Ray head, waits for every node, then runs the stage driver
as `python -m olmo3hpc.job drive <run_dir>` and maps the driver's REQUEUE_EXIT_CODE to a submitit
requeue (bounded by `slurm.max_requeues`). Nodes k > 0 join as Ray workers and leave with the head.
"""

from __future__ import annotations

import importlib
import signal
import sys
from pathlib import Path
from typing import Any

import submitit

from olmo3hpc.launch.context import JobContext, detect
from olmo3hpc.launch.head import REQUEUE_EXIT_CODE, BootstrapError, Signals, run_head
from olmo3hpc.launch.worker import run_worker

DRIVER_FILE = "driver.txt"
"""`module:function` run on the head instead of the stage's train(run) (tests, eval sweeps)."""


class NodeJob(submitit.helpers.Checkpointable):
    """Picklable and tiny on purpose: the run config is never pickled, only its directory."""

    def __init__(self, run_dir: str, role: str = "train", array_index: int | None = None) -> None:
        self.run_dir = str(run_dir)
        self.role = role
        self.array_index = array_index

    def __call__(self) -> dict[str, Any]:
        ctx = detect(Path(self.run_dir), self.array_index)
        if self.role == "pretokenize":
            return _pretokenize(ctx)
        signals = Signals()
        signals.install()
        if ctx.restart > ctx.run.slurm.max_requeues:
            ctx.log.event("failed", reason=f"requeued {ctx.restart} times > slurm.max_requeues")
            raise RuntimeError(f"job {ctx.job_id} was requeued {ctx.restart} times, more than "
                               f"slurm.max_requeues={ctx.run.slurm.max_requeues}")
        ctx.log.event("node_start", host=ctx.host_of(ctx.node), restart=ctx.restart, nodes=ctx.num_nodes)
        if ctx.node:
            return _guard(ctx, lambda: run_worker(ctx, signals)) or {"node": ctx.node, "status": "left"}
        return _guard(ctx, lambda: _head(ctx, signals))


def _guard(ctx: JobContext, body: Any) -> Any:
    """Run a node's role; any failure becomes a `failed` event with the reason, then re-raises."""
    try:
        return body()
    except BootstrapError as e:
        ctx.log.event("failed", reason=str(e))
        raise
    except Exception as e:
        ctx.log.event("failed", reason=f"{type(e).__name__}: {e}")
        raise


def _head(ctx: JobContext, signals: Signals) -> dict[str, Any]:
    outcome = run_head(ctx, signals)
    if outcome.exit_code == 0:
        ctx.log.event("done", ready_s=round(outcome.ready_s, 2))
        return {"node": 0, "status": "done", "ready_s": outcome.ready_s}
    if outcome.exit_code != REQUEUE_EXIT_CODE:
        raise RuntimeError(f"driver exited with code {outcome.exit_code}; see {ctx.run_dir / 'logs' / (ctx.job_id + '.log')}")
    if outcome.signal_kind == "preempt":
        # Slurm delivered TERM: preemption or `scontrol requeue` requeue the job themselves.
        ctx.log.event("checkpointed", reason="SIGTERM (preemption/requeue by Slurm)")
        sys.exit(REQUEUE_EXIT_CODE)
    return _requeue(ctx)


def _requeue(ctx: JobContext) -> dict[str, Any]:
    left = ctx.run.slurm.max_requeues - ctx.restart
    if left <= 0:
        ctx.log.event("failed", reason=f"checkpointed but slurm.max_requeues={ctx.run.slurm.max_requeues} reached")
        raise RuntimeError(f"requeue limit slurm.max_requeues={ctx.run.slurm.max_requeues} reached")
    ctx.log.event("requeue", restart=ctx.restart + 1, left=left - 1)
    submitit.JobEnvironment()._requeue(left - 1)  # scontrol requeue (local executor: exit 144)
    sys.exit(REQUEUE_EXIT_CODE)  # Slurm kills and requeues the job; leave without a result pickle


def _pretokenize(ctx: JobContext) -> dict[str, Any]:
    """The CPU-only cache job chained before the GPU job (`launch --pretokenize`)."""
    try:
        cache = importlib.import_module("olmo3hpc.data.cache")
    except ModuleNotFoundError as e:
        raise RuntimeError("pretokenize: olmo3hpc.data.cache is not available in this checkout") from e
    ctx.log.event("pretokenize_start")
    result = cache.build_cache(ctx.run)
    ctx.log.event("pretokenize_done")
    return {"status": "cached", "result": str(result)}


def resolve(target: str) -> Any:
    module, _, name = target.partition(":")
    if not name:
        raise ValueError(f"driver {target!r} is not `module:function`")
    return getattr(importlib.import_module(module), name)


def drive(run_dir: Path) -> int:
    """The driver process on the head: the custom driver if one was given, else the stage."""
    from olmo3hpc.config import load_run  # noqa: PLC0415

    run = load_run(run_dir / "config.yaml")
    custom = run_dir / DRIVER_FILE
    fn = resolve(custom.read_text().strip()) if custom.exists() else \
        importlib.import_module(f"olmo3hpc.stages.{run.stage}").train
    result = fn(run)
    return result if isinstance(result, int) else 0


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "drive":
        print("usage: python -m olmo3hpc.job drive <run_dir>", file=sys.stderr)
        return 2
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)  # Slurm's --signal reaches every process of the step
    return drive(Path(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
