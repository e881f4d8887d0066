"""Run a function in a persistent helper process with a hard wall-clock bound.

A signal-based timeout cannot interrupt C-level work (a big-integer power inside sympy never returns to
the interpreter), and `signal.alarm` only works in the main thread. The helper process is killed and
restarted lazily when a call overruns, so a pathological input costs one timeout and one restart.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger(__name__)


def _serve(conn: Connection, fn: Callable[..., Any]) -> None:
    while True:
        try:
            args = conn.recv()
        except EOFError:
            return
        try:
            conn.send((True, fn(*args)))
        except Exception as exc:  # the caller decides what a failure means; keep serving
            conn.send((False, f"{type(exc).__name__}: {exc}"))


class TimeBoundedWorker:
    """`call(*args, timeout=s)` runs `fn(*args)` in a child; raises TimeoutError and restarts on overrun."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn
        self._lock = threading.Lock()
        self._proc: mp.process.BaseProcess | None = None
        self._conn: Connection | None = None

    def _ensure_started(self) -> Connection:
        if self._proc is not None and self._proc.is_alive() and self._conn is not None:
            return self._conn
        # fork is cheap and inherits imported sympy; it is only safe while this process has one thread
        method = "fork" if threading.active_count() == 1 else "spawn"
        ctx = mp.get_context(method)
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child, self._fn), daemon=True, name="time-bounded-worker")
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        return parent

    def call(self, *args: Any, timeout: float) -> Any:
        with self._lock:
            try:
                conn = self._ensure_started()
                conn.send(args)
                if not conn.poll(timeout):
                    raise TimeoutError(f"{getattr(self._fn, '__name__', 'call')} exceeded {timeout:.1f}s")
                ok, value = conn.recv()
            except EOFError as exc:  # helper died (e.g. out of memory): restart next time
                self._kill()
                raise RuntimeError("time-bounded worker died") from exc
            except BaseException:  # timeout or an interrupt mid-call: the reply pipe is out of sync
                self._kill()
                raise
        if not ok:
            raise RuntimeError(value)
        return value

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc, self._conn = None, None

    def close(self) -> None:
        with self._lock:
            self._kill()
