"""Connect a stage driver to Ray: the job's cluster (RAY_ADDRESS) or a private single-node one.

API:
    handle = connect()        # ray.init(address=$RAY_ADDRESS), else start a private local Ray
    handle.node_count         # nodes carrying a `node:<i>` resource
    handle.shutdown()         # disconnect; stops the private Ray if this call started it; a no-op
                              # when Ray was already initialized before connect() (test fixtures)

Every node carries the custom resource `node:<index>` = 1000 (`node:0` is the head; the node job
sets it on a Slurm allocation, `connect()` on the private cluster), so actors are pinned to a
planned node with `resources={f"node:{i}": 1}`. The private cluster never uses default ports or the
dashboard, and lives in a short temp dir (Unix socket paths are limited to 107 bytes).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass

NODE_RESOURCE_UNITS = 1000


def node_resource(index: int) -> str:
    return f"node:{index}"


@dataclass
class ClusterHandle:
    private: bool
    """True when connect() started this Ray itself (tests, direct calls)."""
    temp_dir: str | None
    owned: bool = True
    """False when Ray was already initialized by the caller: shutdown() then leaves it running."""

    @property
    def node_count(self) -> int:
        import ray

        names = {k for n in ray.nodes() if n.get("Alive") for k in n.get("Resources", {})}
        return sum(1 for k in names if k.startswith("node:") and k[5:].isdigit())

    def shutdown(self) -> None:
        import ray

        if not self.owned:
            return
        ray.shutdown()
        if self.private and self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)


def connect(num_cpus: int | None = None, temp_root: str = "/tmp") -> ClusterHandle:
    """Join $RAY_ADDRESS (the job's Ray) or start a private local Ray with resource `node:0`."""
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    # Actors inherit these; they make DeepSpeed/transformers quiet and deterministic to import.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if ray.is_initialized():
        return ClusterHandle(private=False, temp_dir=None, owned=False)
    address = os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=True)
        return ClusterHandle(private=False, temp_dir=None)
    temp_dir = tempfile.mkdtemp(prefix="o3r", dir=temp_root)
    cpus = num_cpus or max(os.cpu_count() or 1, 2)
    ray.init(
        num_cpus=cpus, resources={node_resource(0): NODE_RESOURCE_UNITS}, include_dashboard=False,
        _temp_dir=temp_dir, log_to_driver=True, configure_logging=False,
    )
    return ClusterHandle(private=True, temp_dir=temp_dir)
