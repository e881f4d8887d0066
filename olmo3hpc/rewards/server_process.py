"""A local HTTP service run as its own process group: started, polled until healthy, stopped by PID.

The code-execution service and the judge server both run this way: the child either prints
`<PORT_LINE><port>` once its socket is bound (port 0 = the OS picks one, so two jobs on a node
never collide) or is handed a concrete port; the parent polls a health URL, and `stop()` ends the
whole process group (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from types import TracebackType

import httpx


class ServerProcess:
    """Base of CodeService and JudgeServer; subclasses build the command and call `_launch`."""

    name = "server"
    health_path = "/health"
    term_grace_s = 10.0

    def __init__(self, host: str) -> None:
        self.host = host
        self.url: str | None = None
        self._proc: subprocess.Popen | None = None

    def start(self) -> str:
        raise NotImplementedError

    def _launch(self, cmd: list[str], port: int | str, timeout: float, env: dict[str, str] | None = None) -> str:
        """Run `cmd` (environment + `env`); `port` is the port it binds, or the line prefix it prints
        the bound port after."""
        if self._proc is not None:
            raise RuntimeError(f"{self.name} already running at {self.url}")
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, start_new_session=True, text=True,
                                      env={**os.environ, **(env or {})})
        try:
            bound = self._read_port(port, timeout) if isinstance(port, str) else port
            self.url = f"http://{self.host}:{bound}"
            self._wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self.url

    def _read_port(self, port_line: str, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._proc.stdout], [], [], 1.0)
            if not ready:
                continue
            line = self._proc.stdout.readline()
            if line.startswith(port_line):
                return int(line[len(port_line):])
            if not line:  # EOF: the child died before binding
                break
        raise RuntimeError(f"{self.name} did not report its port (exit code {self._proc.poll()})")

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self._proc.returncode}")
            try:
                if httpx.get(f"{self.url}{self.health_path}", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} at {self.url} not healthy after {timeout}s")

    def stop(self) -> None:
        """SIGTERM the process group (a launcher stops its workers), then SIGKILL what is left."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, self.term_grace_s), (signal.SIGKILL, None)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        if proc.stdout is not None:
            proc.stdout.close()
        self.url = None

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
