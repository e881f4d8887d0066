"""Directories and files that appear complete or not at all: build in a hidden sibling, rename at the end.

    with staged_dir(out, overwrite=False) as tmp:
        ...write everything into tmp...
    # out now exists and is complete; on an exception or kill, out is untouched
    with staged_file(path) as tmp: ...write tmp...      # likewise for one file
    write_text_atomic(path, text)

The staging directory is `<parent>/.<name>.partial-<pid>` on the same filesystem (rename is atomic
there); a crashed run leaves only that hidden directory, never something at `out`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path


class OutputExistsError(FileExistsError):
    pass


@contextlib.contextmanager
def staged_dir(final: str | Path, overwrite: bool = False) -> Iterator[Path]:
    final = Path(final)
    if final.exists() and not overwrite:
        raise OutputExistsError(f"{final}: already exists (pass --overwrite to replace it)")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = final.parent / f".{final.name}.old-{os.getpid()}"
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same extension) that replaces `path` when the block ends.
    Writers on several hosts of a shared filesystem may finish together (eval array tasks re-merging one
    sweep), so the temporary name carries host and PID."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.stem}.tmp-{socket.gethostname()}-{os.getpid()}{path.suffix}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write a file so readers see the old or the new content, never a prefix."""
    with staged_file(path) as tmp:
        tmp.write_text(text)
