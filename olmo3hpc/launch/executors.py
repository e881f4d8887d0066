"""submitit executors for a run: SlurmExecutor (sbatch) or LocalExecutor (this machine)."""

from __future__ import annotations

import submitit
from submitit.core.utils import FailedJobError

from olmo3hpc.config import Run
from olmo3hpc.launch.options import LaunchOptions
from olmo3hpc.launch.params import local_parameters, logs_dir, python_cmd, slurm_parameters


def slurm_executor(run: Run, opts: LaunchOptions, pretokenize: bool) -> submitit.SlurmExecutor:
    # requeues are counted by the job itself against slurm.max_requeues (SLURM_RESTART_COUNT)
    ex = submitit.SlurmExecutor(folder=logs_dir(run), max_num_timeout=run.slurm.max_requeues,
                                python=python_cmd(run, opts))
    ex.update_parameters(**slurm_parameters(run, opts, pretokenize))
    return ex


def local_executor(run: Run, pretokenize: bool) -> submitit.LocalExecutor:
    ex = submitit.LocalExecutor(folder=logs_dir(run), max_num_timeout=run.slurm.max_requeues)
    ex.update_parameters(**local_parameters(run, pretokenize))
    return ex


def submit_jobs(run: Run, opts: LaunchOptions, kind: str, pretokenize: bool) -> list[str]:
    """Submit NodeJob(s); returns job ids (one per array task). Slurm errors keep Slurm's message."""
    from olmo3hpc.job import NodeJob  # noqa: PLC0415
    from olmo3hpc.launch.submit import LaunchError, render_sbatch  # noqa: PLC0415

    run_dir = str(logs_dir(run).parent)
    if kind == "local":
        job = local_executor(run, pretokenize).submit(NodeJob(run_dir, role="pretokenize" if pretokenize else "train"))
        if pretokenize:
            job.result()  # the local executor knows no dependencies: the cache is built first
        return [job.job_id]
    ex = slurm_executor(run, opts, pretokenize)
    expected = render_sbatch(run, opts, pretokenize)
    if not opts.array or pretokenize:
        shown = ex._make_submission_file_text(ex._submitit_command_str, "")
        if shown != expected:  # the text shown by --dry-run must be the text submitted
            raise LaunchError("internal: submitit would submit a different sbatch text than rendered")
    try:
        with submitit.helpers.clean_env():
            if pretokenize:
                return [ex.submit(NodeJob(run_dir, role="pretokenize")).job_id]
            if opts.array:
                jobs = ex.submit_array([NodeJob(run_dir, array_index=i) for i in range(opts.array)])
                return [j.job_id for j in jobs]
            return [ex.submit(NodeJob(run_dir)).job_id]
    except FailedJobError as e:
        raise LaunchError(f"sbatch failed: {_slurm_words(str(e))}") from None


def _slurm_words(message: str) -> str:
    lines = [ln.strip() for ln in message.splitlines() if "sbatch" in ln or "error" in ln.lower()]
    return " | ".join(lines) or message.strip()
