"""Ragged token arrays on disk: one flat `.npy` per field plus an offsets index, written as a stream
(sizes are unknown until the end) and memory-mapped for reading.

Layout for a stream named `doc`: `doc.ids.npy` (uint32), `doc.mask.npy` (uint8, 1 = trained on;
absent for prompt-only streams) and `doc.offsets.npy` (int64, n+1 entries: sequence i is
`[offsets[i], offsets[i+1])`). Files are standard .npy: `np.load(path, mmap_mode="r")` opens them.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

_HEADER_BYTES = 128  # reserved up front; the real header (shape known at the end) is padded into it


def _npy_header(dtype: np.dtype, length: int) -> bytes:
    header = repr({"descr": np.dtype(dtype).str, "fortran_order": False, "shape": (length,)})
    body_len = _HEADER_BYTES - 10  # magic (6) + version (2) + header length (2)
    padded = header.ljust(body_len - 1) + "\n"
    if len(padded) != body_len:
        raise ValueError(f"npy header too long for {length} items")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", body_len) + padded.encode("latin1")


class _FlatWriter:
    """Appends 1-D chunks to a .npy file, fixing the header on close."""

    def __init__(self, path: Path, dtype: np.dtype) -> None:
        self.path, self.dtype, self.length = path, np.dtype(dtype), 0
        self._file = open(path, "wb")
        self._file.write(b"\0" * _HEADER_BYTES)

    def append(self, values: np.ndarray) -> None:
        self._file.write(np.ascontiguousarray(values, dtype=self.dtype).tobytes())
        self.length += len(values)

    def close(self) -> None:
        self._file.seek(0)
        self._file.write(_npy_header(self.dtype, self.length))
        self._file.close()


class RaggedWriter:
    """Writes sequences (ids, optional mask) of one stream; `close()` writes the offsets index."""

    def __init__(self, directory: Path, name: str, with_mask: bool = True) -> None:
        self.ids = _FlatWriter(directory / f"{name}.ids.npy", np.uint32)
        self.mask = _FlatWriter(directory / f"{name}.mask.npy", np.uint8) if with_mask else None
        self.offsets_path = directory / f"{name}.offsets.npy"
        self.lengths: list[int] = []

    def append(self, ids: np.ndarray, mask: np.ndarray | None = None) -> None:
        self.ids.append(ids)
        if self.mask is not None:
            if mask is None or len(mask) != len(ids):
                raise ValueError("RaggedWriter: mask must have the length of ids")
            self.mask.append(mask)
        self.lengths.append(len(ids))

    def close(self) -> None:
        self.ids.close()
        if self.mask is not None:
            self.mask.close()
        offsets = np.zeros(len(self.lengths) + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=offsets[1:])
        np.save(self.offsets_path, offsets)


class RaggedArray:
    """Memory-mapped view of one stream; `len()` sequences, `ids(i)`, `mask(i)`, `lengths`."""

    def __init__(self, directory: Path, name: str) -> None:
        self._ids = np.load(directory / f"{name}.ids.npy", mmap_mode="r")
        mask_path = directory / f"{name}.mask.npy"
        self._mask = np.load(mask_path, mmap_mode="r") if mask_path.exists() else None
        self.offsets = np.load(directory / f"{name}.offsets.npy")
        if self.offsets[-1] != len(self._ids):
            raise ValueError(f"{directory}/{name}: offsets end at {self.offsets[-1]}, ids hold {len(self._ids)}")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def num_tokens(self) -> int:
        return int(self.offsets[-1])

    def ids(self, i: int) -> np.ndarray:
        return self._ids[self.offsets[i]:self.offsets[i + 1]]

    def mask(self, i: int) -> np.ndarray:
        if self._mask is None:
            raise ValueError("this stream has no label mask (prompt-only)")
        return self._mask[self.offsets[i]:self.offsets[i + 1]].view(bool)

    def num_label_tokens(self) -> int:
        return int(np.count_nonzero(self._mask)) if self._mask is not None else 0
