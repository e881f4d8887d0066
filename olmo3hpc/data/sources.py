"""Where a dataset name in `data.mixer_list` points: a local .jsonl/.parquet file, a local directory laid
out like a hub dataset repo, or a hub dataset id (downloaded with `huggingface_hub`; the `datasets`
library is not needed). Local files have only a train split, as in open-instruct."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from olmo3hpc.data.rows import DataError

DATA_SUFFIXES = (".parquet", ".jsonl", ".json")


def split_files(repo_files: list[str], split: str) -> list[str]:
    """The data files of `split` in a hub-style file list, in name order.

    Follows the hub's conventions: `<dir>/<split>-*.ext`, `<split>/...`, `<dir>/<split>.ext`, or names
    containing the split as a word (`data/train_sft.jsonl` does not count as `train`)."""
    data = sorted(f for f in repo_files if f.endswith(DATA_SUFFIXES))
    patterns = (f"{split}-*", f"{split}.*", f"*/{split}-*", f"*/{split}.*", f"{split}/*", f"*/{split}/*")
    chosen = [f for f in data if any(fnmatch.fnmatch(f, p) for p in patterns)]
    if not chosen and split == "train":
        # A repo whose files carry no split name is all train (the hub's own default).
        named = [f for f in data if any(s in f for s in ("test", "valid", "eval", "dev"))]
        chosen = [f for f in data if f not in named]
    # Prefer parquet when a repo ships both formats of the same split.
    parquet = [f for f in chosen if f.endswith(".parquet")]
    return parquet or chosen


def local_files(name: str, split: str) -> list[Path] | None:
    """Files for a local name, or None when `name` is not a local path."""
    path = Path(name).expanduser()
    if path.is_file():
        if split != "train":
            raise DataError(f"{name}: local files have only a 'train' split, got split {split!r}")
        return [path]
    if path.is_dir():
        rel = [str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()]
        files = split_files(rel, split)
        if not files:
            raise DataError(f"{name}: no .parquet/.jsonl files for split {split!r} in this directory")
        return [path / f for f in files]
    if name.endswith(DATA_SUFFIXES) or os.sep in name and not _looks_like_hub_id(name):
        raise DataError(f"{name}: no such file")
    return None


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "~"))


def hub_files(name: str, split: str, revision: str = "main") -> list[Path]:
    """Download the files of one split of a hub dataset repo; returns local paths (HF cache)."""
    from huggingface_hub import HfApi, hf_hub_download

    api = HfApi()
    files = split_files(api.list_repo_files(name, repo_type="dataset", revision=revision), split)
    if not files:
        raise DataError(f"{name}: hub dataset has no .parquet/.jsonl files for split {split!r} at {revision!r}")
    return [Path(hf_hub_download(name, f, repo_type="dataset", revision=revision)) for f in files]


def hub_revision(name: str, revision: str = "main") -> str:
    """Commit sha of a hub dataset revision (part of the cache key, so new pushes re-tokenize).

    Offline (GPU nodes often are), the sha recorded in the local HF cache by the download is used, so
    a job finds the cache its pre-tokenization job built when both share HF_HOME."""
    from huggingface_hub import HfApi, constants

    try:
        if not constants.HF_HUB_OFFLINE:
            return HfApi().dataset_info(name, revision=revision).sha or revision
    except Exception:  # noqa: BLE001 -- any network/auth failure: fall back to the local record
        pass
    ref = Path(constants.HF_HUB_CACHE) / f"datasets--{name.replace('/', '--')}" / "refs" / revision
    if ref.is_file():
        return ref.read_text().strip()
    raise DataError(f"{name}: cannot reach the hub to resolve revision {revision!r}, and no local download of it")


def resolve_files(name: str, split: str) -> list[Path]:
    files = local_files(name, split)
    return files if files is not None else hub_files(name, split)


def fingerprint(name: str, split: str) -> str:
    """What identifies the data behind a name: local paths, sizes and mtimes, or the hub commit."""
    files = local_files(name, split)
    if files is None:
        return f"hub:{name}@{hub_revision(name)}:{split}"
    stats = [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    return f"local:{stats}:{split}"
