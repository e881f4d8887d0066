"""`olmo3hpc launch`: validate and plan, write the run directory, submit through submitit.

`render_sbatch` is pure and deterministic for a given run directory path; `launch` submits the
very same text (it checks the executor's own rendering against it before submitting).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from olmo3hpc.config import ConfigError, Run, plan
from olmo3hpc.launch.options import LaunchOptions, LaunchResult
from olmo3hpc.launch.params import logs_dir, python_cmd, run_dir_of, slurm_parameters
from olmo3hpc.launch.rundir import check_relaunch, remove_new_run_dir, write_run_dir
from olmo3hpc.launch.runlog import write_event


class LaunchError(RuntimeError):
    """Submission failed; the message carries Slurm's own words."""


def executor_kind(run: Run, opts: LaunchOptions) -> str:
    """`slurm` or `local`; an explicit slurm request without Slurm is an error, not a fallback."""
    asked = opts.executor or run.slurm.executor
    have_slurm = shutil.which("sbatch") is not None
    if asked == "slurm" and not have_slurm:
        raise LaunchError("executor 'slurm' requested but `sbatch` is not on PATH on this machine; "
                          "run where Slurm is installed or use --executor local")
    if asked == "auto":
        return "slurm" if have_slurm else "local"
    return asked


def submitit_command(run: Run, opts: LaunchOptions) -> str:
    """What srun runs on each node: exactly submitit's own `_submitit_command_str`."""
    return " ".join([python_cmd(run, opts), "-u -m submitit.core._submit", shlex.quote(str(logs_dir(run)))])


def render_sbatch(run: Run, opts: LaunchOptions, pretokenize: bool = False) -> str:
    """The sbatch script of the (main or cache) job, rendered by submitit's own renderer."""
    from submitit.slurm.slurm import _make_sbatch_string  # noqa: PLC0415

    params = slurm_parameters(run, opts, pretokenize)
    if opts.array and not pretokenize:
        params["map_count"] = opts.array
    return _make_sbatch_string(command=submitit_command(run, opts), folder=logs_dir(run), **params)


def test_only(text: str) -> str:
    """`sbatch --test-only`: Slurm's verdict on the script without queueing it."""
    with tempfile.NamedTemporaryFile("w", suffix=".sbatch", delete=False) as f:
        f.write(text)
    try:
        proc = subprocess.run(["sbatch", "--test-only", f.name], capture_output=True, text=True, timeout=60)
    finally:
        Path(f.name).unlink()
    message = (proc.stderr + proc.stdout).strip()
    if proc.returncode:
        raise LaunchError(f"Slurm rejected the job: {message}")
    return message


def launch(run: Run, opts: LaunchOptions) -> LaunchResult:
    opts.validate()
    _check(run, opts)
    kind = executor_kind(run, opts)
    say = (lambda msg: None) if opts.quiet else (lambda msg: print(f"[olmo3hpc] {msg}", flush=True))
    if kind == "slurm":
        text = render_sbatch(run, opts)
        if opts.dry_run:
            return _dry_run(run, opts, text, say)
        say("sbatch --test-only: " + test_only(text))
    elif opts.dry_run:
        say(f"dry run, local executor: {run.slurm.nodes} task(s) on this machine; nothing written")
        return LaunchResult(run_dir_of(run), kind, dry_run=True)
    check_relaunch(run)
    run_dir, existed = write_run_dir(run, opts.driver)
    say(f"run directory {run_dir} (config.yaml, code/ snapshot, logs/)")
    try:
        result = _submit(run, opts, kind, say)
    except Exception as e:
        if existed:
            write_event(run_dir, "submit_failed", error=str(e))
        else:
            remove_new_run_dir(run_dir)  # nothing half-written is left behind looking submitted
        raise
    return result


def _check(run: Run, opts: LaunchOptions) -> None:
    run.validate()
    plan(run)  # an impossible layout fails here, before anything is written or queued
    if opts.array and opts.python and python_cmd(run, opts) != shlex.quote(sys.executable):
        raise ConfigError("--array with a custom --python/container: submitit submits arrays with this "
                          "interpreter only")
    if opts.pretokenize and opts.array:
        raise ConfigError("--pretokenize with --array: submit the cache job once, then the sweep with --dependency")


def _dry_run(run: Run, opts: LaunchOptions, text: str, say: Any) -> LaunchResult:
    print(text)
    notes: list[str] = []
    if opts.pretokenize:
        print(render_sbatch(run, opts, pretokenize=True))
    if shutil.which("sbatch"):
        verdict = test_only(text)
        say("sbatch --test-only: " + verdict)
        notes.append(verdict)
    return LaunchResult(run_dir_of(run), "slurm", sbatch_text=text, dry_run=True, notes=tuple(notes))


def _submit(run: Run, opts: LaunchOptions, kind: str, say: Any) -> LaunchResult:
    from olmo3hpc.launch.executors import submit_jobs  # noqa: PLC0415  (imports submitit)

    run_dir = run_dir_of(run)
    pre_id = ""
    if opts.pretokenize:
        pre_id = submit_jobs(run, opts, kind, pretokenize=True)[0]
        write_event(run_dir, "submitted", job_id=pre_id, role="pretokenize", executor=kind)
        say(f"submitted cache job {pre_id} (CPU only)")
        if kind == "slurm":
            # the cache job carried the user's dependency; the main job waits only for the cache
            opts = replace(opts, dependency=f"afterok:{pre_id}")
    ids = submit_jobs(run, opts, kind, pretokenize=False)
    for job_id in ids:
        write_event(run_dir, "submitted", job_id=job_id, role="train", executor=kind,
                    dependency=opts.dependency, nodes=run.slurm.nodes)
    say(f"submitted job {', '.join(ids)} ({kind}, {run.slurm.nodes} node(s)); "
        f"`olmo3hpc status {run_dir}` / `olmo3hpc logs {run_dir}`")
    text = render_sbatch(run, opts) if kind == "slurm" else ""
    return LaunchResult(run_dir, kind, tuple(ids), pre_id, text)
