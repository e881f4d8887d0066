"""Where learner and engine actors really run, recorded in `<run_dir>/placement.json`.

The plan says where actors should go; this records where Ray put them. Each actor reports its
`whereabouts()` from inside its process (host, pid, Ray node id, the CPU cores it may run on); the
driver adds the Slurm node index of that Ray node (its `node:<i>` resource) and writes
{"learners": [...], "engines": [...]}. Users and the tests read it to check a placement.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from olmo3hpc.atomic import write_text_atomic

FILE_NAME = "placement.json"


def whereabouts() -> dict[str, Any]:
    """Where the calling process runs; no Ray node id when it runs without Ray (benchmarks)."""
    where: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid(),
                             "cpu_cores": sorted(os.sched_getaffinity(0))}
    ray = sys.modules.get("ray")  # an actor has Ray imported; a bare process may not have it installed
    if ray is not None and ray.is_initialized():
        where["ray_node_id"] = ray.get_runtime_context().get_node_id()
    return where


def node_indices() -> dict[str, int]:
    """Ray node id -> the index of its `node:<i>` resource, for every live node of the cluster."""
    import ray

    out: dict[str, int] = {}
    for node in ray.nodes():
        found = [int(k[5:]) for k in node.get("Resources", {}) if k.startswith("node:") and k[5:].isdigit()]
        if node.get("Alive") and found:
            out[node["NodeID"]] = found[0]
    return out


def locate(reports: Sequence[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """Actor reports (each holding `whereabouts()`) reduced to `keys` + where, with their node index."""
    index = node_indices()
    fields = (*keys, "ray_node_id", "host", "pid", "cpu_cores")
    return [{**{k: r.get(k) for k in fields}, "node_index": index.get(r.get("ray_node_id"), -1)} for r in reports]


def write(run_dir: str | Path, learners: Sequence[dict[str, Any]], engines: Sequence[dict[str, Any]] = ()) -> Path:
    path = Path(run_dir) / FILE_NAME
    write_text_atomic(path, json.dumps({"learners": list(learners), "engines": list(engines)}, indent=1) + "\n")
    return path


def read(run_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / FILE_NAME).read_text())
