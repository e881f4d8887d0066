"""The preemption contract between the node job and a stage's training loop.

Slurm (via the node job) sends SIGUSR1 for "time limit near" and SIGTERM for preemption. The driver
never dies mid-step: the handler only sets a flag; the loop checks `requested()` at each step
boundary, writes a checkpoint, and exits with REQUEUE_EXIT_CODE so the node job requeues the same
run directory. A second signal does not shorten this; Slurm's KillWait is the hard stop.
"""

from __future__ import annotations

import signal
import threading

REQUEUE_EXIT_CODE = 75
"""Driver exit status meaning "checkpointed at a step boundary; requeue me" (EX_TEMPFAIL)."""

_flag = threading.Event()


def install(signals: tuple[int, ...] = (signal.SIGUSR1, signal.SIGTERM)) -> None:
    """Route the given signals to the flag (call once, in the driver's main thread)."""
    for sig in signals:
        signal.signal(sig, _on_signal)


def _on_signal(signum: int, frame: object) -> None:
    _flag.set()


def requested() -> bool:
    """True once a checkpoint-and-requeue was asked for."""
    return _flag.is_set()


def request() -> None:
    """Ask for checkpoint-and-requeue from code (tests, or a watchdog)."""
    _flag.set()


def clear() -> None:
    _flag.clear()
