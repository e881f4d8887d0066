"""Ray inside the allocation: one `ray start --block` per node, started, watched and stopped by PID.

Imports no Ray at module level (the GCS client is imported inside `gcs_nodes`). Each Ray node runs
in its own session so the whole process group can be killed at teardown; `ray stop` is never
used because it kills every Ray on the host, other jobs' included.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from olmo3hpc.launch.ports import RayPorts
from olmo3hpc.launch.runlog import JobLog

SOCKET_PATH_LIMIT = 107
"""Linux AF_UNIX path limit; Ray's sockets live at <temp>/session_<date>_<pid>/sockets/plasma_store."""
_SESSION_SUFFIX = len("/session_2026-11-25_08-42-59_618990_4194304/sockets/plasma_store")


@dataclass(frozen=True)
class NodeSpec:
    """What one Ray node offers: the plan's GPUs, the allocation's CPUs, a capped object store."""

    index: int
    ip: str
    num_cpus: int
    num_gpus: int
    object_store_bytes: int
    temp_dir: str

    def start_flags(self) -> list[str]:
        return [
            f"--node-ip-address={self.ip}", f"--num-cpus={self.num_cpus}", f"--num-gpus={self.num_gpus}",
            f"--object-store-memory={self.object_store_bytes}", f"--temp-dir={self.temp_dir}",
            "--resources=" + json.dumps({f"node:{self.index}": 1000}, separators=(",", ":")),
            "--disable-usage-stats", "--log-style=record", "--log-color=false", "--block",
        ]


def versions() -> dict[str, str]:
    """Ray and Python versions of this node (Ray's version read without importing Ray)."""
    from importlib.metadata import version

    return {"ray": version("ray"), "python": platform.python_version()}


def node_ip(ifname: str = "") -> str:
    """The IPv4 of `ifname` (multi-homed nodes: the fabric interface, from OLMO3HPC_NODE_IFNAME in
    the site's env), else the interface of the default route (what Ray would pick), else the
    hostname's address."""
    if ifname:
        return interface_ip(ifname)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("8.8.8.8", 53))  # UDP connect sends nothing; it only selects a route
            return s.getsockname()[0]
    except OSError:
        return socket.gethostbyname(socket.gethostname())


def interface_ip(ifname: str) -> str:
    import fcntl  # noqa: PLC0415
    import struct  # noqa: PLC0415

    siocgifaddr = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            packed = fcntl.ioctl(s.fileno(), siocgifaddr, struct.pack("256s", ifname[:15].encode()))
        except OSError as e:
            raise ValueError(f"OLMO3HPC_NODE_IFNAME={ifname}: no IPv4 address on {socket.gethostname()} ({e})") from e
    return socket.inet_ntoa(packed[20:24])


def short_temp_dir(root: str, job_key: str, node: int) -> str:
    """`<root>/o3h-<job>-<node>`; refuses a root so long that Ray's socket paths would not fit."""
    path = f"{root.rstrip('/') or ''}/o3h-{job_key}-{node}"
    if len(path) + _SESSION_SUFFIX > SOCKET_PATH_LIMIT:
        raise ValueError(
            f"ray.temp_root {root!r}: Ray's socket path {path}{'/session_.../sockets/plasma_store'} would exceed "
            f"the {SOCKET_PATH_LIMIT}-byte Unix socket limit; use a shorter root such as /tmp"
        )
    return path


def object_store_bytes(mb: int, node_mem_bytes: int) -> int:
    """Configured MiB, else 10% of the node's memory capped at 20 GiB (each raylet believes it owns
    the whole machine, and /dev/shm is shared by every job on the node)."""
    if mb > 0:
        return mb * 1024 * 1024
    return max(min(node_mem_bytes // 10, 20 * 1024**3), 78 * 1024 * 1024)


def tcp_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
        return True
    except OSError:
        return False


def _ignore_user_signals() -> None:
    """In the child before exec: Slurm's time-limit signal (USR2 via --signal) reaches every process
    of the step; the default action would kill Ray daemons and actors. SIG_IGN survives exec."""
    for sig in (signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_IGN)


def spawn(cmd: list[str], env: dict[str, str], log: JobLog, source: str) -> subprocess.Popen:
    """Start `cmd` in its own session, its output teed line by line into the merged job log."""
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True, preexec_fn=_ignore_user_signals, text=True, bufsize=1,
    )
    threading.Thread(target=_pump, args=(proc, log, source), daemon=True).start()
    return proc


def _pump(proc: subprocess.Popen, log: JobLog, source: str) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        log.line(line, source=source)


def ray_start_cmd(spec: NodeSpec, ports: RayPorts, head_address: str | None) -> list[str]:
    ray = str(Path(sys.executable).with_name("ray"))
    cmd = [ray, "start", *spec.start_flags(), *ports.flags(head=head_address is None)]
    if head_address is None:
        return cmd[:2] + ["--head", "--include-dashboard=false"] + cmd[2:]
    return cmd[:2] + [f"--address={head_address}"] + cmd[2:]


def stop(proc: subprocess.Popen, grace_s: float = 10.0) -> int | None:
    """SIGTERM to the `ray start --block` process (it stops its own children), then SIGKILL to its
    whole process group: our Ray processes only, by PID, never `ray stop`."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=grace_s)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        return proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        return None


def stop_and_say(proc: subprocess.Popen, what: str) -> str:
    """`stop` and a log line; a Ray we stopped exits 1 on SIGTERM, which is not a failure."""
    if proc.poll() is not None:
        return f"{what} had already exited (code {proc.returncode})"
    code = stop(proc)
    return f"{what} stopped" + ("" if code in (0, 1, -signal.SIGTERM, -signal.SIGKILL) else f" (exit {code})")


def remove_temp_dir(path: str) -> None:
    """Ray leaves its session (logs, spilled objects) in the temp dir; it is ours alone, per job."""
    shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class NodeSeen:
    index: int
    ip: str
    cpus: float
    gpus: float


def gcs_nodes(address: str, timeout_s: float = 5.0) -> list[NodeSeen]:
    """Alive Ray nodes of this job's cluster that carry a `node:<k>` resource."""
    from ray._raylet import GcsClient  # noqa: PLC0415  (only inside the job)

    seen = []
    for info in GcsClient(address=address).get_all_node_info(timeout=timeout_s).values():
        if info.state != 0:  # GcsNodeInfo.ALIVE
            continue
        res = dict(info.resources_total)
        idx = [int(k.split(":")[1]) for k in res if k.startswith("node:") and k.split(":")[1].isdigit()]
        if idx:
            seen.append(NodeSeen(idx[0], info.node_manager_address, res.get("CPU", 0.0), res.get("GPU", 0.0)))
    return seen
