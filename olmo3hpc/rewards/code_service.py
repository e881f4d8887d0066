"""The code-execution HTTP service (open-instruct's `code_utils/api.py` contract) and its lifecycle.

`python -m olmo3hpc.rewards.code_service --workers N --port 0` binds one listening socket, prints
`CODE_SERVICE_PORT=<port>`, and forks N uvicorn worker processes that share it (a dead worker is
replaced). `CodeService` starts that launcher on the job's CPU cores and stops it by PID.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import time

from fastapi import FastAPI
from pydantic import BaseModel, Field

from olmo3hpc.rewards.code_sandbox import SandboxLimits, outputs_match, run_sandboxed
from olmo3hpc.rewards.server_process import ServerProcess

PORT_LINE = "CODE_SERVICE_PORT="
_MAX_TIME_S = 60.0


class ProgramRequest(BaseModel):
    program: str
    tests: list[str]
    max_execution_time: float = Field(1.0, gt=0, le=_MAX_TIME_S)


class StdioTest(BaseModel):
    input: str = ""
    output: str = ""


class StdioRequest(BaseModel):
    program: str
    tests: list[StdioTest]
    max_execution_time: float = Field(1.0, gt=0, le=_MAX_TIME_S)


class TestResults(BaseModel):
    results: list[int]
    runtimes: list[float]


def create_app(concurrency: int = 1) -> FastAPI:
    """The FastAPI app; `concurrency` bounds simultaneous sandboxes per worker process (CPU cores)."""
    app = FastAPI(title="olmo3hpc code execution")
    slots = threading.BoundedSemaphore(concurrency)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/test_program")
    def test_program(req: ProgramRequest) -> TestResults:
        limits = SandboxLimits(max_execution_time=req.max_execution_time)
        results, runtimes = [], []
        for test in req.tests:
            with slots:
                outcome = run_sandboxed(req.program, test, None, limits)
            results.append(int(outcome.passed))
            runtimes.append(round(outcome.runtime, 6))
        return TestResults(results=results, runtimes=runtimes)

    @app.post("/test_program_stdio")
    def test_program_stdio(req: StdioRequest) -> TestResults:
        limits = SandboxLimits(max_execution_time=req.max_execution_time)
        results, runtimes = [], []
        for test in req.tests:
            capped = SandboxLimits(**{**limits.__dict__, "max_output_bytes": max(1 << 20, 4 * len(test.output))})
            with slots:
                outcome = run_sandboxed(req.program, None, test.input, capped)
            results.append(int(outcome.passed and outputs_match(outcome.stdout, test.output)))
            runtimes.append(round(outcome.runtime, 6))
        return TestResults(results=results, runtimes=runtimes)

    return app


def _serve_worker(sock: socket.socket, concurrency: int) -> None:
    import uvicorn

    config = uvicorn.Config(create_app(concurrency), log_level="warning", access_log=False, timeout_keep_alive=30)
    uvicorn.Server(config).run(sockets=[sock])


def _fork_worker(sock: socket.socket, concurrency: int) -> int:
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            _serve_worker(sock, concurrency)
        finally:
            os._exit(0)
    return pid


def serve(host: str, port: int, workers: int, concurrency: int) -> None:
    """Launcher main loop: bind, announce the port, keep `workers` worker processes alive until SIGTERM."""
    sock = socket.create_server((host, port), backlog=1024, reuse_port=False)
    print(f"{PORT_LINE}{sock.getsockname()[1]}", flush=True)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children = {_fork_worker(sock, concurrency) for _ in range(workers)}
    while not stopping:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pid = 0
        if pid in children:  # a worker died: replace it so the service keeps serving
            children.discard(pid)
            children.add(_fork_worker(sock, concurrency))
        time.sleep(0.2)
    for pid in children:
        _signal(pid, signal.SIGTERM)
    _reap(children, timeout=5.0)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _reap(pids: set[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = set(pids)
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                pending.discard(pid)
        time.sleep(0.05)
    for pid in pending:
        _signal(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


class CodeService(ServerProcess):
    """Start/stop the code service as a child process tree; usable as a context manager."""

    name = "code service"
    health_path = "/health"

    def __init__(self, workers: int = 4, port: int = 0, host: str = "127.0.0.1", concurrency: int = 1) -> None:
        super().__init__(host)
        self.workers, self.port, self.concurrency = workers, port, concurrency

    def start(self, workers: int | None = None, port: int | None = None, timeout: float = 60.0) -> str:
        workers = self.workers if workers is None else workers
        port = self.port if port is None else port
        cmd = [sys.executable, "-m", "olmo3hpc.rewards.code_service", "--host", self.host, "--port", str(port),
               "--workers", str(workers), "--concurrency", str(self.concurrency)]
        return self._launch(cmd, PORT_LINE, timeout)


def main() -> None:
    parser = argparse.ArgumentParser(description="olmo3hpc sandboxed code-execution service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--concurrency", type=int, default=1, help="simultaneous sandboxes per worker")
    args = parser.parse_args()
    serve(args.host, args.port, args.workers, args.concurrency)


if __name__ == "__main__":
    main()
