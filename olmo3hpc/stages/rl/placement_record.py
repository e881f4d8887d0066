"""Where the learner and engine actors really run, written to `<run_dir>/placement.json`.

The plan says where actors should go; this records where Ray put them: each actor reports its Ray
node id from inside its process, and the driver maps that id to the `node:<i>` resource (the Slurm
node index) that node carries. Users and the Slurm tests read it to check a separate placement.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILE_NAME = "placement.json"


def actor_node_id() -> str:
    """The Ray node id of the calling process (called inside an actor)."""
    import ray

    return ray.get_runtime_context().get_node_id()


def node_indices() -> dict[str, int]:
    """Ray node id -> the node index of its `node:<i>` resource, for every live node."""
    import ray

    out: dict[str, int] = {}
    for node in ray.nodes():
        indices = [int(k[5:]) for k in node.get("Resources", {}) if k.startswith("node:") and k[5:].isdigit()]
        if node.get("Alive") and indices:
            out[node["NodeID"]] = indices[0]
    return out


def record(run_dir: Path, learner_ids: list[str], engine_ids: list[str]) -> dict[str, Any]:
    """Write placement.json ({"learners": [...], "engines": [...]}, one entry per rank / engine)."""
    index = node_indices()

    def entries(ids: list[str]) -> list[dict[str, Any]]:
        return [{"ray_node_id": i, "node_index": index.get(i, -1)} for i in ids]

    placement = {"learners": entries(learner_ids), "engines": entries(engine_ids)}
    path = Path(run_dir) / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(placement, indent=1) + "\n")
    os.replace(tmp, path)
    log.info("rl placement: learners on nodes %s, engines on nodes %s",
             [e["node_index"] for e in placement["learners"]], [e["node_index"] for e in placement["engines"]])
    return placement


def read(run_dir: Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / FILE_NAME).read_text())
