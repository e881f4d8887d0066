"""Parent side of the code sandbox: start `sandbox_child.py`, enforce the wall clock and output cap,
and kill the whole process group afterwards.

Isolation (as root): mount/network/pid namespaces, private tmpfs over /tmp, /root, /home, /work, ...,
a uid unique to the sandbox, RLIMIT_CPU/AS/FSIZE/NPROC/NOFILE. Fork bombs are bounded by RLIMIT_NPROC
(enforced because the uid is unprivileged) and die with the namespace's pid 1.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CHILD_SCRIPT = Path(__file__).with_name("sandbox_child.py")
# Exit codes of a run killed by RLIMIT_CPU (SIGXCPU at the soft, SIGKILL at the hard limit), as the
# isolated runner relays them (128 + signal) or as Popen reports them directly (-signal).
_CPU_LIMIT_CODES = {128 + signal.SIGXCPU, 128 + signal.SIGKILL, -signal.SIGXCPU, -signal.SIGKILL}
HIDE_PATHS = ("/tmp", "/var/tmp", "/dev/shm", "/root", "/home", "/work", "/run", "/mnt", "/media", "/srv", "/opt")


@dataclass(frozen=True)
class SandboxLimits:
    """Per-run limits. `wall_s` bounds the whole run including interpreter start-up."""

    max_execution_time: float = 1.0
    startup_grace_s: float = 2.0
    memory_mb: int = 2048
    file_size_mb: int = 16
    nproc: int = 32
    tmpfs_mb: int = 64
    max_output_bytes: int = 8 * 1024 * 1024
    isolate: bool = True

    @property
    def wall_s(self) -> float:
        return self.max_execution_time + self.startup_grace_s


@dataclass(frozen=True)
class SandboxResult:
    passed: bool
    runtime: float
    stdout: str
    status: str  # "ok" | "failed" | "timeout" | "output_limit"


def _keep_paths() -> list[str]:
    """The interpreter's install trees, bound back into the sandbox so stdlib imports work."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths.add(str(Path(os.path.realpath(sys.executable)).parent.parent))
    return sorted(p for p in paths if p and p != "/")


def _job(program: str, test: str | None, stdin: str | None, limits: SandboxLimits, result_fd: int) -> dict:
    return {
        "program": program, "test": test, "stdin": stdin, "stdio": stdin is not None, "nonce": secrets.token_hex(16),
        "cpu_s": max(1, int(limits.max_execution_time + 0.999)) + 1, "memory_mb": limits.memory_mb,
        "file_size_mb": limits.file_size_mb, "nproc": limits.nproc, "tmpfs_mb": limits.tmpfs_mb,
        "isolate": limits.isolate, "keep_paths": _keep_paths(), "hide_paths": list(HIDE_PATHS),
        "result_fd": result_fd, "fallback_workdir": "",
    }


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_capped(proc: subprocess.Popen, deadline: float, cap: int) -> tuple[bytes, str]:
    """Read stdout until EOF, the deadline or the byte cap; returns (data, status)."""
    chunks, total = [], 0
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b"".join(chunks), "timeout"
            if not sel.select(remaining):
                continue
            data = os.read(proc.stdout.fileno(), 65536)
            if not data:
                return b"".join(chunks), "ok"
            total += len(data)
            if total > cap:
                return b"", "output_limit"
            chunks.append(data)


def _spawn(job: dict, capture: bool, result_fd: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-I", "-B", str(CHILD_SCRIPT)], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        pass_fds=(result_fd,), start_new_session=True, close_fds=True, env={"PATH": os.environ.get("PATH", "")},
    )
    try:
        proc.stdin.write(json.dumps(job).encode())
        proc.stdin.close()
    except BrokenPipeError:
        pass
    return proc


def run_sandboxed(program: str, test: str | None, stdin: str | None, limits: SandboxLimits) -> SandboxResult:
    """Run `program` (+ an assert-style `test`, or fed `stdin`) confined; passed = ran to completion in time."""
    read_fd, write_fd = os.pipe()
    with tempfile.TemporaryDirectory(prefix="olmo3hpc-sbx-") as fallback:
        os.chmod(fallback, 0o777)
        job = _job(program, test, stdin, limits, write_fd)
        job["fallback_workdir"] = fallback
        start = time.monotonic()
        deadline = start + limits.wall_s
        proc = _spawn(job, capture=stdin is not None, result_fd=write_fd)
        os.close(write_fd)
        output, status = b"", "ok"
        try:
            if stdin is not None:
                output, status = _read_capped(proc, deadline, limits.max_output_bytes)
            if status == "ok":
                proc.wait(timeout=max(0.01, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            status = "timeout"
        finally:
            _kill_group(proc)
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        elapsed = time.monotonic() - start
        marker = _read_marker(read_fd)
    if status == "ok" and proc.returncode in _CPU_LIMIT_CODES:
        status = "timeout"
    return _verdict(job["nonce"], marker, status, elapsed, output, limits)


def _read_marker(fd: int) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 256)
    except BlockingIOError:
        return b""
    finally:
        os.close(fd)


def _verdict(
    nonce: str, marker: bytes, status: str, elapsed: float, output: bytes, limits: SandboxLimits
) -> SandboxResult:
    parts = marker.decode(errors="replace").split()
    completed = status == "ok" and len(parts) == 2 and parts[0] == nonce
    runtime = float(parts[1]) if completed else elapsed
    passed = completed and runtime <= limits.max_execution_time
    if status == "ok" and not passed:
        status = "timeout" if completed else "failed"
    return SandboxResult(passed, runtime, output.decode(errors="replace"), status)


def outputs_match(actual: str, expected: str) -> bool:
    """Competitive-programming comparison: per-line trailing whitespace and blank edges ignored."""
    def norm(text: str) -> list[str]:
        return [line.rstrip() for line in text.strip().splitlines()]
    return norm(actual) == norm(expected)
