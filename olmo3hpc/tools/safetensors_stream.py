"""Stream safetensors: read an HF directory's tensors as `TensorSource`s, write sharded output chunk by chunk.

    sources = read_safetensors_dir(model_dir)            # name -> TensorSource (headers only)
    write_safetensors_dir(out_dir, tensors, max_shard_bytes)   # model-0000i-of-0000N.safetensors + index

Every shard's header is computed from shapes before any data is written, then each tensor is
produced `CHUNK_ELEMS` elements at a time by its `fill(start, count)` callback and appended to the
open shard, so memory stays at one chunk whatever the model or shard size. Output is always the
sharded layout with `model.safetensors.index.json` (also for one shard), which `from_pretrained` reads.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from olmo3hpc.tools.tensor_stream import CHUNK_ELEMS, Segment, TensorSource, itemsize

INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class OutTensor:
    name: str
    shape: tuple[int, ...]
    dtype: str
    fill: Callable[[int, int], np.ndarray]
    """fill(start, count): flat elements [start, start+count) already encoded as `dtype`."""

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * itemsize(self.dtype)


def parse_size(text: str) -> int:
    """'5GB' / '500MB' (powers of 1000, as HF) / '2GiB' (powers of 1024) / '1000' -> bytes."""
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"max_shard_size: {text!r} is not a size like 5GB or 500MB")
    base = 1024 if "i" in str(text).lower() else 1000
    return int(float(m.group(1)) * base ** (" KMGT".index(m.group(2).upper() or " ")))


def read_header(path: Path) -> dict[str, TensorSource]:
    try:
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length))
    except (OSError, struct.error, ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not a readable safetensors file ({e})") from e
    base, size = 8 + length, path.stat().st_size
    sources = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        if base + end > size:
            raise ValueError(f"{path}: tensor {name!r} runs past the end of the file (truncated)")
        numel = math.prod(info["shape"])
        sources[name] = TensorSource(name, tuple(info["shape"]), (Segment(path, base + begin, numel, info["dtype"]),))
    return sources


def safetensors_files(model_dir: Path) -> list[Path]:
    index = model_dir / INDEX_NAME
    if index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        files = sorted({model_dir / f for f in weight_map.values()})
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise FileNotFoundError(f"{index}: names shard files that do not exist: {missing}")
        return files
    if (model_dir / SINGLE_NAME).is_file():
        return [model_dir / SINGLE_NAME]
    raise FileNotFoundError(f"{model_dir}: no {INDEX_NAME} or {SINGLE_NAME} (not an HF safetensors model)")


def read_safetensors_dir(model_dir: str | Path) -> dict[str, TensorSource]:
    """Every tensor of an HF safetensors directory (single file or sharded with an index)."""
    sources: dict[str, TensorSource] = {}
    for path in safetensors_files(Path(model_dir)):
        sources.update(read_header(path))
    return sources


def _plan_shards(tensors: list[OutTensor], max_shard_bytes: int) -> list[list[OutTensor]]:
    shards: list[list[OutTensor]] = [[]]
    size = 0
    for t in tensors:
        if shards[-1] and size + t.nbytes > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(t)
        size += t.nbytes
    return shards


def _write_shard(path: Path, tensors: list[OutTensor]) -> None:
    header: dict[str, dict] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for t in tensors:
        header[t.name] = {"dtype": t.dtype, "shape": list(t.shape), "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # safetensors aligns the data start to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        for t in tensors:
            numel = math.prod(t.shape)
            for start in range(0, numel, CHUNK_ELEMS):
                chunk = t.fill(start, min(CHUNK_ELEMS, numel - start))
                f.write(np.ascontiguousarray(chunk).data)


def write_safetensors_dir(out_dir: str | Path, tensors: list[OutTensor], max_shard_bytes: int) -> list[Path]:
    """Write `tensors` in order into shards of at most `max_shard_bytes` (a bigger tensor gets its own)."""
    out = Path(out_dir)
    shards = _plan_shards(tensors, max_shard_bytes)
    names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    for name, shard in zip(names, shards):
        _write_shard(out / name, shard)
    index = {
        "metadata": {"total_size": sum(t.nbytes for t in tensors)},
        "weight_map": {t.name: name for name, shard in zip(names, shards) for t in shard},
    }
    (out / INDEX_NAME).write_text(json.dumps(index, indent=2) + "\n")
    return [out / n for n in names]
