"""Rendezvous of one job's nodes through files in the run directory (the only shared storage
the job is guaranteed). One folder per job attempt, `run_dir/ray/<job key>/`:

    node-<k>.json    node k is alive: host, pid, Ray/Python versions, its log path
    head.json        the head's GCS address (written atomically once the head is up)
    node-<k>.failed  node k could not start or lost its Ray node (the reason inside)
    done             the head is leaving; workers stop their Ray node and exit
    node-<k>.left    worker k has stopped its Ray node
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from olmo3hpc.atomic import write_text_atomic


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(data, sort_keys=True))


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


@dataclass(frozen=True)
class Rendezvous:
    folder: Path

    @classmethod
    def for_job(cls, run_dir: Path, job_key: str) -> "Rendezvous":
        folder = Path(run_dir) / "ray" / job_key
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder)

    @property
    def head_file(self) -> Path:
        return self.folder / "head.json"

    @property
    def done_file(self) -> Path:
        return self.folder / "done"

    def node_file(self, k: int) -> Path:
        return self.folder / f"node-{k}.json"

    def failed_file(self, k: int) -> Path:
        return self.folder / f"node-{k}.failed"

    def left_file(self, k: int) -> Path:
        return self.folder / f"node-{k}.left"

    def publish_node(self, k: int, info: dict[str, Any]) -> None:
        write_json_atomic(self.node_file(k), info)

    def publish_head(self, info: dict[str, Any]) -> None:
        write_json_atomic(self.head_file, info)

    def mark_failed(self, k: int, reason: str) -> None:
        write_json_atomic(self.failed_file(k), {"node": k, "reason": reason, "time": time.time()})

    def mark_done(self) -> None:
        self.done_file.touch()

    def mark_left(self, k: int) -> None:
        self.left_file(k).touch()

    def nodes(self, count: int) -> dict[int, dict[str, Any]]:
        found = {k: read_json(self.node_file(k)) for k in range(count)}
        return {k: v for k, v in found.items() if v is not None}

    def failures(self, count: int) -> dict[int, str]:
        found = {k: read_json(self.failed_file(k)) for k in range(count)}
        return {k: v["reason"] for k, v in found.items() if v is not None}


def poll_until(check: Callable[[], Any], timeout_s: float, interval_s: float = 0.1) -> Any:
    """Return check()'s first truthy value; None once `timeout_s` passed. Readiness is decided by
    the check (a file appearing, a port answering), never by how long we slept."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval_s)
