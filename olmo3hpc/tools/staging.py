"""Directories that appear complete or not at all: build in a hidden sibling, rename at the end.

    with staged_dir(out, overwrite=False) as tmp:
        ...write everything into tmp...
    # out now exists and is complete; on an exception or kill, out is untouched

The staging directory is `<parent>/.<name>.partial-<pid>` on the same filesystem (rename is atomic
there); a crashed run leaves only that hidden directory, never something at `out`. Single files:
olmo3hpc/atomic.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
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
