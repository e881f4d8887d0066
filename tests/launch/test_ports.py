"""Per-job Ray ports: distinct for concurrent jobs and for nodes sharing a host, never Ray's defaults."""

from __future__ import annotations

import socket
from pathlib import Path

from olmo3hpc.launch.ports import BLOCK, RayPorts, block_is_free, choose_ports, port_range


def _ports(p: RayPorts) -> set[int]:
    return set(range(p.base, p.base + BLOCK))


def test_jobs_and_nodes_get_disjoint_blocks() -> None:
    blocks = [choose_ports(job, node) for job in (41, 42, 43) for node in (0, 1)]
    for i, a in enumerate(blocks):
        for b in blocks[i + 1:]:
            assert not _ports(a) & _ports(b)


def test_blocks_sit_below_the_ephemeral_range_and_avoid_ray_defaults() -> None:
    low, high = port_range()
    p = choose_ports(7, 0)
    assert low <= p.base and p.base + BLOCK <= high
    flags = " ".join(p.flags(head=True))
    for default in ("6379", "8265", "10001", "52365"):
        assert f"={default}" not in flags
    assert "--include-dashboard" not in " ".join(p.flags(head=False))  # head-only flags stay off workers
    assert "--port=" not in " ".join(p.flags(head=False))


def test_busy_block_is_skipped() -> None:
    first = choose_ports(99, 0)
    holder = socket.socket()
    holder.bind(("", first.base + 5))
    try:
        assert not block_is_free(first.base)
        second = choose_ports(99, 0)
        assert second.base != first.base and not _ports(second) & {first.base + 5}
    finally:
        holder.close()


def test_port_window_moves_above_a_low_ephemeral_range(tmp_path: Path) -> None:
    fake = tmp_path / "range"
    fake.write_text("1024\t40000\n")
    assert port_range(fake) == (40001, 65536)
    fake.write_text("32768\t60999\n")
    assert port_range(fake) == (20000, 32768)
