"""`olmo3hpc status|logs|cancel <run_dir or job id>`: live state from squeue, final from sacct."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from olmo3hpc.launch.runlog import merged_log_path, read_events, write_event

_JOB_ID = re.compile(r"^\d+(_\d+)?$")
_ACTIVE = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "SUSPENDED", "RESIZING",
           "REQUEUE_HOLD", "REQUEUE_FED", "SIGNALING", "STAGE_OUT"}


@dataclass(frozen=True)
class JobState:
    job_id: str
    role: str
    executor: str
    state: str
    detail: str = ""

    @property
    def active(self) -> bool:
        return self.state in _ACTIVE


@dataclass(frozen=True)
class RunStatus:
    run_dir: Path | None
    jobs: tuple[JobState, ...]
    last_event: dict = field(default_factory=dict)
    latest_checkpoint: str = ""
    last_step: int | None = None

    def __str__(self) -> str:
        lines = [f"run {self.run_dir or '(unknown run directory)'}"]
        for j in self.jobs:
            lines.append(f"  job {j.job_id:<10} {j.role:<11} {j.executor:<6} {j.state:<12} {j.detail}".rstrip())
        if self.last_event:
            e = self.last_event
            extra = " ".join(f"{k}={v}" for k, v in e.items() if k not in {"event", "time", "job_id", "node"})
            lines.append(f"  last event: {e.get('event')} ({time.strftime('%H:%M:%S', time.localtime(e.get('time', 0)))})"
                         f" {extra}".rstrip())
        if self.last_step is not None:
            lines.append(f"  last metrics step: {self.last_step}")
        if self.latest_checkpoint:
            lines.append(f"  latest checkpoint: {self.latest_checkpoint}")
        return "\n".join(lines)


def resolve(target: str) -> tuple[Path | None, list[tuple[str, str, str]]]:
    """(run_dir, [(job_id, role, executor)]) for a run directory or a Slurm job id."""
    path = Path(target).expanduser()
    if (path / "config.yaml").is_file():
        subs = [(e["job_id"], e.get("role", "train"), e.get("executor", "slurm"))
                for e in read_events(path) if e.get("event") == "submitted"]
        return path.absolute(), subs
    if _JOB_ID.match(target):
        run_dir = _run_dir_of_job(target)
        return run_dir, [(target, "train", "slurm")]
    raise ValueError(f"{target!r} is neither a run directory (no config.yaml there) nor a Slurm job id")


def _run_dir_of_job(job_id: str) -> Path | None:
    """The run directory recorded in the job's comment (`olmo3hpc:<run_dir>`), while slurmctld knows it."""
    if not shutil.which("scontrol"):
        return None
    out = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, timeout=30).stdout
    m = re.search(r"Comment=olmo3hpc:(\S+)", out)
    return Path(m.group(1)) if m else None


def status(target: str) -> RunStatus:
    run_dir, subs = resolve(target)
    events = read_events(run_dir) if run_dir else []
    states = _slurm_states([j for j, _, ex in subs if ex == "slurm"])
    jobs = tuple(_job_state(j, role, ex, states, events) for j, role, ex in subs)
    latest = ""
    if run_dir and (run_dir / "checkpoints" / "latest").exists():
        latest = (run_dir / "checkpoints" / "latest").read_text().strip()
    relevant = [e for e in events if e.get("event") != "submitted"] or events
    return RunStatus(run_dir, jobs, relevant[-1] if relevant else {}, latest, _last_step(run_dir))


def _job_state(job_id: str, role: str, executor: str, states: dict[str, tuple[str, str]], events: list[dict]) -> JobState:
    if executor == "slurm":
        state, detail = states.get(job_id, ("UNKNOWN", "not known to squeue/sacct"))
    else:
        state, detail = _local_state(job_id, events)
    failed = [e for e in events if e.get("job_id") == job_id and e.get("event") == "failed"]
    if failed and not detail.startswith("reason"):
        detail = f"{detail}  reason: {failed[-1].get('reason')}".strip()
    return JobState(job_id, role, executor, state, detail)


def _slurm_states(ids: list[str]) -> dict[str, tuple[str, str]]:
    """squeue for live jobs (cheap, exact), sacct for the ones squeue no longer lists."""
    if not ids or not shutil.which("squeue"):
        return {}
    out: dict[str, tuple[str, str]] = {}
    q = subprocess.run(["squeue", "-h", "-j", ",".join(ids), "-o", "%i|%T|%M|%N|%r"], capture_output=True,
                       text=True, timeout=30)
    for line in q.stdout.splitlines():
        jid, state, elapsed, nodes, reason = line.split("|")
        out[jid] = (state, f"elapsed {elapsed} nodes {nodes or '-'} ({reason})")
    missing = [i for i in ids if i not in out]
    if missing and shutil.which("sacct"):
        a = subprocess.run(["sacct", "-n", "-X", "-P", "-j", ",".join(missing), "-o", "JobID,State,ExitCode,Elapsed,NodeList"],
                           capture_output=True, text=True, timeout=30)
        for line in a.stdout.splitlines():
            jid, state, code, elapsed, nodes = line.split("|")
            out[jid] = (state.split()[0], f"exit {code} elapsed {elapsed} nodes {nodes}")
    return out


def _local_state(job_id: str, events: list[dict]) -> tuple[str, str]:
    mine = [e.get("event") for e in events if e.get("job_id") == job_id]
    alive = _pid_alive(int(job_id))
    if alive and "done" not in mine and "failed" not in mine:
        return "RUNNING", f"local controller pid {job_id}"
    if "done" in mine:
        return "COMPLETED", ""
    if "failed" in mine:
        return "FAILED", ""
    if "cancelled" in mine:
        return "CANCELLED", ""
    return ("RUNNING" if alive else "ENDED"), ""


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _last_step(run_dir: Path | None) -> int | None:
    path = run_dir / "metrics.jsonl" if run_dir else None
    if not path or not path.exists():
        return None
    import json  # noqa: PLC0415

    for line in reversed(path.read_text().splitlines()):
        try:
            return int(json.loads(line)["step"])
        except (ValueError, KeyError, TypeError):
            continue
    return None


def logs(target: str, follow: bool = False, out: TextIO | None = None) -> str:
    """Print the merged log of the run's newest job; with follow, keep printing until it ends.
    Returns the job's final state when followed to its end, else ""."""
    out = out or sys.stdout
    run_dir, subs = resolve(target)
    train = [s for s in subs if s[1] == "train"] or subs
    if not run_dir or not train:
        raise ValueError(f"{target}: no run directory or job known; pass the run directory")
    job_id, _, executor = train[-1]
    path = merged_log_path(run_dir, job_id)
    offset = _print_from(path, 0, out)
    if not follow:
        return ""
    while True:
        state = _job_state(job_id, "train", executor, _slurm_states([job_id]) if executor == "slurm" else {},
                           read_events(run_dir))
        offset = _print_from(path, offset, out)
        if not state.active:
            out.write(f"[olmo3hpc] job {job_id} {state.state}\n")
            return state.state
        time.sleep(1.0)  # polling a log file for new lines: nothing to wait on but time


def _print_from(path: Path, offset: int, out: TextIO) -> int:
    if not path.exists():
        return offset
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read()
    out.write(data.decode(errors="replace"))
    out.flush()
    return offset + len(data)


def cancel(target: str) -> list[str]:
    """scancel the run's unfinished Slurm jobs (SIGTERM to a local job's controller); returns their ids."""
    run_dir, subs = resolve(target)
    events = read_events(run_dir) if run_dir else []
    states = _slurm_states([j for j, _, ex in subs if ex == "slurm"])
    done = []
    for job_id, role, executor in subs:
        job = _job_state(job_id, role, executor, states, events)
        if executor == "slurm" and (job.active or job.state == "UNKNOWN"):
            subprocess.run(["scancel", job_id], check=True, capture_output=True, text=True, timeout=30)
            done.append(job_id)
        elif executor == "local" and job.state == "RUNNING":
            os.kill(int(job_id), signal.SIGTERM)
            done.append(job_id)
    if run_dir:
        for job_id in done:
            write_event(run_dir, "cancelled", job_id=job_id)
    return done
