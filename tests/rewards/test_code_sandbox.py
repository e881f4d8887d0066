"""Code sandbox containment: each attack is contained and scored as failed; honest programs pass."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from olmo3hpc.rewards.code_sandbox import SandboxLimits, outputs_match, run_sandboxed

LIMITS = SandboxLimits(max_execution_time=1.0, startup_grace_s=2.0)
pytestmark = pytest.mark.timeout(60)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="namespace isolation needs root")


def _sandbox_processes() -> list[int]:
    """PIDs still running under a sandbox uid (>= 1_000_000)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
            if uid >= 1_000_000:
                pids.append(int(entry.name))
    return pids


def test_honest_program_passes_and_wrong_one_fails() -> None:
    program = "def add(a, b):\n    return a + b\n"
    assert run_sandboxed(program, "assert add(2, 3) == 5", None, LIMITS).passed
    assert not run_sandboxed(program, "assert add(2, 3) == 6", None, LIMITS).passed
    assert not run_sandboxed("def add(a, b) return", "assert True", None, LIMITS).passed


def test_stdio_program_and_output_comparison() -> None:
    result = run_sandboxed("import sys\nprint(sum(map(int, sys.stdin.read().split())))", None, "1 2 3\n", LIMITS)
    assert result.passed and outputs_match(result.stdout, "6")
    assert outputs_match("a  \nb\n\n", "a\nb")
    assert not outputs_match("a\nb", "a b")


def test_exit_before_tests_is_not_a_pass() -> None:
    for program in ("import os\nos._exit(0)", "import sys\nsys.exit(0)", "raise SystemExit"):
        assert not run_sandboxed(program, "assert False", None, LIMITS).passed


def test_files_in_own_directory_work() -> None:
    program = "open('scratch.txt', 'w').write('hi')\nassert open('scratch.txt').read() == 'hi'"
    assert run_sandboxed(program, None, None, LIMITS).passed


@needs_root
def test_fork_bomb_is_contained() -> None:
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    start = time.monotonic()
    assert not run_sandboxed(bomb, "assert True", None, LIMITS).passed
    assert time.monotonic() - start < LIMITS.wall_s + 5
    time.sleep(0.5)
    assert _sandbox_processes() == []


def test_memory_bomb_fails_fast() -> None:
    start = time.monotonic()
    assert not run_sandboxed("x = bytearray(64 * 1024**3)", "assert True", None, LIMITS).passed
    assert not run_sandboxed("x = []\nwhile True:\n    x.append(' ' * 10**7)", None, None, LIMITS).passed
    assert time.monotonic() - start < 2 * LIMITS.wall_s + 2


def test_infinite_loop_times_out() -> None:
    start = time.monotonic()
    result = run_sandboxed("while True:\n    pass", "assert True", None, LIMITS)
    assert not result.passed and result.status == "timeout"
    assert time.monotonic() - start < LIMITS.wall_s + 2


def test_slow_program_over_time_limit_fails() -> None:
    assert not run_sandboxed("import time\ntime.sleep(1.5)", None, None, LIMITS).passed


@needs_root
def test_cannot_read_a_file_outside_its_directory() -> None:
    with tempfile.TemporaryDirectory() as outside:
        os.chmod(outside, 0o755)
        secret = Path(outside, "secret.txt")
        secret.write_text("TOPSECRET")
        secret.chmod(0o644)
        program = f"assert open({str(secret)!r}).read() == 'TOPSECRET'"
        assert not run_sandboxed(program, None, None, LIMITS).passed
        assert not run_sandboxed("assert 'root' in open('/root/.bashrc').read() or True", None, None, LIMITS).passed


@needs_root
def test_cannot_write_outside_its_directory() -> None:
    with tempfile.TemporaryDirectory() as outside:
        os.chmod(outside, 0o777)
        target = Path(outside, "pwned.txt")
        program = f"open({str(target)!r}, 'w').write('x')"
        assert not run_sandboxed(program, None, None, LIMITS).passed
        assert not target.exists()
        assert not run_sandboxed("open('/etc/pwned', 'w').write('x')", None, None, LIMITS).passed
        assert not Path("/etc/pwned").exists()


def test_cannot_connect_to_a_loopback_listener() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    program = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\ns.sendall(b'hi')"
    try:
        assert not run_sandboxed(program, None, None, LIMITS).passed
        time.sleep(0.3)
        assert accepted == []
    finally:
        stop.set()
        thread.join(2)
        server.close()


def test_cannot_signal_its_parent() -> None:
    program = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(os.getppid(), signal.SIGTERM)"
    assert not run_sandboxed(program, "assert True", None, LIMITS).passed
    assert run_sandboxed("x = 1", "assert x == 1", None, LIMITS).passed  # the runner side is unharmed


def test_gigabytes_of_output_are_cut_off() -> None:
    flood = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(4096):\n    sys.stdout.write(chunk)"
    start = time.monotonic()
    result = run_sandboxed(flood, None, "", LIMITS)
    assert not result.passed and result.status in ("output_limit", "timeout") and result.stdout == ""
    assert not run_sandboxed(flood, "assert False", None, LIMITS).passed
    assert time.monotonic() - start < 2 * LIMITS.wall_s + 2


def test_unprivileged_fallback_still_scores() -> None:
    limits = SandboxLimits(max_execution_time=1.0, isolate=False)
    assert run_sandboxed("def f():\n    return 3", "assert f() == 3", None, limits).passed
    assert not run_sandboxed("def f():\n    return 3", "assert f() == 4", None, limits).passed
    assert not run_sandboxed("import socket\nsocket.create_connection(('127.0.0.1', 9))", None, None, limits).passed
