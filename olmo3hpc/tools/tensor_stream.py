"""Tensors as byte ranges in files, read a bounded chunk at a time (numpy only, no torch).

A `TensorSource` is a named tensor whose flat elements are the concatenation of `Segment`s (byte
ranges of checkpoint files), truncated to the tensor's size: a ZeRO-3 parameter is one segment per
rank, a ZeRO-1/2 parameter one or two, a safetensors tensor exactly one. `read_range` returns any
element range as float32 (floating dtypes) so converters and the model soup never hold more than one
chunk per input. `to_dtype` encodes float32 chunks as F32 or BF16 (round to nearest even, like torch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NUMPY_DTYPES = {
    "F32": np.float32, "F16": np.float16, "F64": np.float64, "BF16": np.uint16, "I64": np.int64,
    "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}
FLOAT_DTYPES = ("F32", "BF16", "F16", "F64")
OUTPUT_DTYPES = {"float32": "F32", "bfloat16": "BF16"}
CHUNK_ELEMS = 1 << 23
"""Elements per read (32 MiB of fp32): bounds the converter's working memory independent of model size."""


@dataclass(frozen=True)
class Segment:
    path: Path
    offset: int
    """Byte offset of the first element in the file."""
    numel: int
    dtype: str


@dataclass(frozen=True)
class TensorSource:
    name: str
    shape: tuple[int, ...]
    segments: tuple[Segment, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def dtype(self) -> str:
        return self.segments[0].dtype if self.segments else "F32"

    @property
    def available(self) -> int:
        return sum(s.numel for s in self.segments)


def itemsize(dtype: str) -> int:
    return np.dtype(NUMPY_DTYPES[dtype]).itemsize


def _read_segment(seg: Segment, start: int, count: int) -> np.ndarray:
    size = itemsize(seg.dtype)
    out = np.empty(count, dtype=NUMPY_DTYPES[seg.dtype])
    with open(seg.path, "rb") as f:
        f.seek(seg.offset + start * size)
        got = f.readinto(memoryview(out).cast("B"))
    if got != count * size:
        raise OSError(f"{seg.path}: file ends {count * size - got} bytes early (truncated checkpoint)")
    return out


def _as_float32(raw: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "BF16":
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return raw.astype(np.float32, copy=False)


def read_range(src: TensorSource, start: int, count: int) -> np.ndarray:
    """Elements [start, start+count) of the flat tensor; float32 for floating dtypes, else raw."""
    parts, pos = [], 0
    for seg in src.segments:
        lo, hi = max(start, pos), min(start + count, pos + seg.numel)
        if lo < hi:
            raw = _read_segment(seg, lo - pos, hi - lo)
            parts.append(_as_float32(raw, seg.dtype) if seg.dtype in FLOAT_DTYPES else raw)
        pos += seg.numel
        if pos >= start + count:
            break
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def float32_to_bf16(x: np.ndarray) -> np.ndarray:
    """Round-to-nearest-even float32 -> bfloat16 bits (uint16); NaN stays NaN, as torch does."""
    bits = x.view(np.uint32)
    rounded = ((bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    if nan.any():
        rounded[nan] = np.uint16(0x7FC0)
    return rounded


def to_dtype(chunk: np.ndarray, dtype: str) -> np.ndarray:
    """Encode a float32 chunk as `dtype` ("F32" or "BF16"); non-float chunks pass through."""
    if chunk.dtype != np.float32:
        return chunk
    if dtype == "BF16":
        return float32_to_bf16(chunk)
    return chunk.astype(NUMPY_DTYPES[dtype], copy=False)


def output_dtype(name: str) -> str:
    if name not in OUTPUT_DTYPES:
        raise ValueError(f"dtype: {name!r} is not one of {sorted(OUTPUT_DTYPES)}")
    return OUTPUT_DTYPES[name]
