"""Launcher and job records in the run directory: `events.jsonl` and the merged per-job log.

Every node of a job appends to the same `logs/<job_id>.log`, one `write()` per line (O_APPEND),
each line stamped with time, node index and host, so one file tells the whole story of a job.
`events.jsonl` holds machine-readable milestones (submitted, started, ray_ready, requeue, failed,
done) that `olmo3hpc status` reads.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

EVENTS = "events.jsonl"


def append_line(path: Path, text: str) -> None:
    """Append one line with a single write so concurrent writers never interleave within a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (text.rstrip("\n") + "\n").encode())
    finally:
        os.close(fd)


def write_event(run_dir: Path, event: str, **fields: Any) -> None:
    record = {"event": event, "time": round(time.time(), 3), **fields}
    append_line(Path(run_dir) / EVENTS, json.dumps(record, sort_keys=True))


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / EVENTS
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a killed writer must not hide the others
    return events


def merged_log_path(run_dir: Path, job_id: str) -> Path:
    return Path(run_dir) / "logs" / f"{job_id}.log"


class JobLog:
    """One node's writer to the job's merged log (and to its own stdout, i.e. the submitit log)."""

    def __init__(self, run_dir: Path, job_id: str, node: int) -> None:
        self.run_dir = Path(run_dir)
        self.job_id = job_id
        self.node = node
        self.path = merged_log_path(run_dir, job_id)
        self.prefix = f"[node{node} {socket.gethostname()}]"

    def line(self, text: str, source: str = "") -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        tag = f"{self.prefix}{'[' + source + ']' if source else ''}"
        for part in text.rstrip("\n").splitlines() or [""]:
            append_line(self.path, f"{stamp} {tag} {part}")
        print(f"{tag} {text.rstrip()}", file=sys.stdout, flush=True)

    def event(self, event: str, **fields: Any) -> None:
        write_event(self.run_dir, event, job_id=self.job_id, node=self.node, **fields)
        detail = " ".join(f"{k}={v}" for k, v in fields.items())
        self.line(f"{event} {detail}".rstrip())
