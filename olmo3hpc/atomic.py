"""Single files that readers see whole or not at all: write a hidden sibling, then rename over the target.

    with staged_file(path) as tmp: ...write tmp...     # path replaced when the block ends; tmp gone on error
    write_text_atomic(path, text, durable=False)      # durable: fsync before the rename (checkpoint markers)

The temporary name carries host and PID: writers on several hosts of a shared filesystem (eval array
tasks re-merging one sweep, nodes of one job) may finish together, and PIDs repeat across hosts.
No imports from the package: launch, engine, stages and tools all use it.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def staged_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same extension, so tools that infer a format from it work)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.stem}.tmp-{socket.gethostname()}-{os.getpid()}{path.suffix}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str, durable: bool = False) -> None:
    """Write `text` so readers see the old or the new content, never a prefix; `durable` also fsyncs it."""
    with staged_file(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text)
            if durable:
                f.flush()
                os.fsync(f.fileno())
