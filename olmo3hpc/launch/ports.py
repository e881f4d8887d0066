"""Per-job Ray ports that two jobs on one node never share.

Every Ray port (GCS, raylet, object manager, agents, metrics, client server and the worker range)
comes from one block of `BLOCK` consecutive ports below the kernel's ephemeral range, so no Ray
port can be taken by an outgoing connection. The first block tried is derived from the Slurm job
id and the node index (different jobs start on different blocks by construction); every port of
a block is bind-probed and a busy block moves on to the next one.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

BLOCK = 64
"""Ports per Ray node: 9 named ports + 55 worker ports (one per Ray worker process)."""
_FLOOR = 20000
_STRIDE = 16  # up to 16 nodes of one job on one host get distinct first blocks


@dataclass(frozen=True)
class RayPorts:
    base: int

    @property
    def gcs(self) -> int:
        return self.base

    def flags(self, head: bool) -> list[str]:
        """`ray start` flags pinning every port Ray would otherwise pick or default (6379, 8265, 10001...)."""
        b = self.base
        flags = [
            f"--node-manager-port={b + 1}", f"--object-manager-port={b + 2}",
            f"--dashboard-agent-listen-port={b + 3}", f"--dashboard-agent-grpc-port={b + 4}",
            f"--runtime-env-agent-port={b + 5}", f"--metrics-export-port={b + 6}",
            f"--min-worker-port={b + 9}", f"--max-worker-port={b + BLOCK - 1}",
        ]
        if head:
            flags = [f"--port={b}", f"--dashboard-port={b + 7}", f"--ray-client-server-port={b + 8}"] + flags
        return flags


def port_range(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> tuple[int, int]:
    """[low, high) window for Ray ports: below the ephemeral range, else above it."""
    try:
        eph_lo, eph_hi = (int(x) for x in path.read_text().split())
    except (OSError, ValueError):
        eph_lo, eph_hi = 32768, 60999
    if eph_lo - _FLOOR >= 16 * BLOCK:
        return _FLOOR, eph_lo
    return eph_hi + 1, 65536


def first_slot(job_id: int, node: int, slots: int) -> int:
    return (job_id * _STRIDE + node) % slots


def block_is_free(base: int) -> bool:
    """Every port of the block binds on all interfaces right now."""
    socks = []
    try:
        for port in range(base, base + BLOCK):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("", port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def choose_ports(job_id: int, node: int, skip: int = 0) -> RayPorts:
    """The first free block at or after this job/node's slot (`skip` moves past blocks that failed)."""
    low, high = port_range()
    slots = (high - low) // BLOCK
    start = first_slot(job_id, node, slots) + skip
    for i in range(slots):
        base = low + ((start + i) % slots) * BLOCK
        if block_is_free(base):
            return RayPorts(base)
    raise RuntimeError(f"no free block of {BLOCK} ports in [{low}, {high}) on {socket.gethostname()}")
