"""The run's slurm section as submitit executor parameters (pure: no Slurm needed to compute them)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from olmo3hpc.config import ConfigError, Run
from olmo3hpc.launch.options import LaunchOptions

PRETOKENIZE_SUFFIX = "-pretokenize"


def run_dir_of(run: Run) -> Path:
    return Path(run.meta.run_dir).expanduser().absolute()


def logs_dir(run: Run) -> Path:
    return run_dir_of(run) / "logs"


def python_cmd(run: Run, opts: LaunchOptions) -> str:
    """The interpreter command srun starts on every node (inside the container when there is one)."""
    c = run.slurm.container
    if c.kind == "apptainer":
        binds = ",".join([str(run_dir_of(run)), *c.mounts])
        return f"apptainer exec --nv --bind {shlex.quote(binds)} {shlex.quote(c.image)} {opts.python or 'python3'}"
    if c.kind == "pyxis":
        return opts.python or "python3"
    return opts.python or shlex.quote(sys.executable)


def setup_lines(run: Run) -> list[str]:
    run_dir = run_dir_of(run)
    lines = [f"# olmo3hpc run {run.meta.name} (stage {run.stage}); the job reads only {run_dir}"]
    if run.slurm.pass_env:
        lines.append("# secrets are passed by name from the submitting environment, never written: "
                     + " ".join(run.slurm.pass_env))
    lines += list(run.slurm.setup)
    lines.append(f"export PYTHONPATH={shlex.quote(str(run_dir / 'code'))}${{PYTHONPATH:+:$PYTHONPATH}}")
    return lines


def srun_args(run: Run) -> list[str]:
    # one task failing (a Ray node lost) ends the whole step instead of leaving the rest hanging
    args = ["--kill-on-bad-exit=1"]
    c = run.slurm.container
    if c.kind == "pyxis":
        mounts = ",".join([f"{run_dir_of(run)}:{run_dir_of(run)}", *c.mounts])
        args += [f"--container-image={c.image}", f"--container-mounts={mounts}", "--container-workdir=/"]
    return args


def extra_sbatch(lines: tuple[str, ...]) -> dict[str, Any]:
    """`--reservation=x`, `#SBATCH --gres=gpu:8`, `--nice` as submitit additional_parameters."""
    out: dict[str, Any] = {}
    for raw in lines:
        text = raw.strip().removeprefix("#SBATCH").strip()
        if not text.startswith("--"):
            raise ConfigError(f"slurm.extra_sbatch: {raw!r} must be a long option such as --reservation=name")
        key, eq, value = text[2:].partition("=")
        out[key] = value if eq else True
    return out


def slurm_parameters(run: Run, opts: LaunchOptions, pretokenize: bool = False) -> dict[str, Any]:
    """Keyword arguments of submitit's SlurmExecutor.update_parameters for the main (or cache) job."""
    s = run.slurm
    params: dict[str, Any] = {
        "job_name": run.meta.name + (PRETOKENIZE_SUFFIX if pretokenize else ""),
        "time": s.time_minutes,
        "nodes": 1 if pretokenize else s.nodes,
        "ntasks_per_node": 1,
        "signal_delay_s": s.signal_delay_s,
        "setup": setup_lines(run),
        "srun_args": srun_args(run),
        "stderr_to_stdout": True,
        "wckey": "olmo3hpc",
        "comment": f"olmo3hpc:{run_dir_of(run)}",
        "additional_parameters": {"requeue": True, **extra_sbatch(s.extra_sbatch)},
    }
    optional = {"partition": s.partition, "account": s.account, "qos": s.qos, "constraint": s.constraint,
                "mem": s.mem, "cpus_per_task": s.cpus_per_node or None,
                "gpus_per_node": None if pretokenize else (s.gpus_per_node or None),
                "exclusive": (s.exclusive and not pretokenize) or None,
                "dependency": opts.dependency or None}
    params.update({k: v for k, v in optional.items() if v})
    if opts.array and not pretokenize:
        params["array_parallelism"] = opts.array_parallelism or opts.array
    return params


def local_parameters(run: Run, pretokenize: bool = False) -> dict[str, Any]:
    """The local executor runs one task per planned node on this machine."""
    return {
        "timeout_min": run.slurm.time_minutes,
        "tasks_per_node": 1 if pretokenize else run.slurm.nodes,
        "signal_delay_s": run.slurm.signal_delay_s,
        "stderr_to_stdout": True,
        # site setup (module load ...) is for cluster nodes; locally only the code snapshot matters
        "setup": [setup_lines(run)[-1]],
    }
