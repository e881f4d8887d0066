"""Read a `torch.save` zip file's structure without torch and without reading tensor data.

    obj = read_torch_file(path)     # nested dicts/lists; every tensor is a `StoredTensor`

A `StoredTensor` records where its bytes live in the file (`data_offset` of its storage, element
offset, shape, stride, dtype), so the converters can `pread` exactly the ranges they need, one chunk
at a time. Nothing pickled is executed: torch's rebuild functions and storage types map to small
stand-ins and every other class (DeepSpeed's LossScaler, ZeroStageEnum, ...) becomes an `Opaque`
that keeps its constructor arguments. That makes reading a multi-GB DeepSpeed optimizer file cost
a few milliseconds and no memory, and avoids importing deepspeed.
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STORAGE_DTYPES = {
    "FloatStorage": "F32", "BFloat16Storage": "BF16", "HalfStorage": "F16", "DoubleStorage": "F64",
    "LongStorage": "I64", "IntStorage": "I32", "ShortStorage": "I16", "CharStorage": "I8",
    "ByteStorage": "U8", "BoolStorage": "BOOL",
}
ITEMSIZE = {"F32": 4, "BF16": 2, "F16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
_ZIP_LOCAL_HEADER = struct.Struct("<4s5H3L2H")


class CheckpointFileError(ValueError):
    """A checkpoint file is missing, truncated, corrupt or not what it should be (message names it)."""


@dataclass(frozen=True)
class StoredTensor:
    path: Path
    data_offset: int
    """Byte offset of the tensor's storage in the file."""
    dtype: str
    storage_offset: int
    """Offset of element 0 in the storage, in elements."""
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    storage_numel: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def is_contiguous(self) -> bool:
        expected, acc = [], 1
        for dim in reversed(self.shape):
            expected.append(acc)
            acc *= dim
        return all(d == 1 or s == e for d, s, e in zip(self.shape, self.stride, reversed(expected)))

    def byte_range(self, start: int, count: int) -> tuple[int, int]:
        """(file offset, byte length) of elements [start, start+count) of this contiguous tensor."""
        size = ITEMSIZE[self.dtype]
        return self.data_offset + (self.storage_offset + start) * size, count * size


class Opaque:
    """A pickled object of a class the reader does not interpret; keeps its arguments and state."""

    qualname = "?"

    def __new__(cls, *args: Any, **_: Any) -> "Opaque":
        obj = super().__new__(cls)
        obj.args, obj.state = args, None
        return obj

    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"Opaque({self.qualname}{self.args!r})"


def _opaque_class(qualname: str) -> type:
    return type("Opaque_" + qualname.replace(".", "_"), (Opaque,), {"qualname": qualname})


@dataclass(frozen=True)
class _StorageType:
    dtype: str


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: str
    numel: int


def _size(*args: Any) -> tuple[int, ...]:
    return tuple(args[0]) if args else ()


def _rebuild_parameter(data: Any, *_: Any) -> Any:
    return data


def _rebuild_from_type(func: Any, _new_type: Any, args: tuple, _state: Any) -> Any:
    return func(*args)


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, path: Path, offsets: dict[str, int]) -> None:
        super().__init__(io.BytesIO(data))
        self.path, self.offsets = path, offsets

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict  # state dicts carry a `_metadata` attribute
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        if module == "torch" and name == "Size":
            return _size
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor_v3"):
            return self._rebuild_tensor
        if module == "torch._utils" and name.startswith("_rebuild_parameter"):
            return _rebuild_parameter
        if module == "torch._tensor" and name == "_rebuild_from_type_v2":
            return _rebuild_from_type
        return _opaque_class(f"{module}.{name}")

    def persistent_load(self, pid: Any) -> _StorageRef:
        kind, storage_type, key, _location, numel = pid
        if kind != "storage" or not isinstance(storage_type, _StorageType):
            raise CheckpointFileError(f"{self.path}: unsupported persistent object {kind!r} {storage_type!r}")
        return _StorageRef(str(key), storage_type.dtype, int(numel))

    def _rebuild_tensor(self, storage: _StorageRef, offset: int, size: Any, stride: Any, *_: Any) -> StoredTensor:
        if storage.key not in self.offsets:
            raise CheckpointFileError(f"{self.path}: tensor data record {storage.key!r} is missing (truncated file?)")
        return StoredTensor(self.path, self.offsets[storage.key], storage.dtype, int(offset), tuple(size),
                            tuple(stride), storage.numel)


def _data_offsets(zf: zipfile.ZipFile, raw: Any, prefix: str, path: Path) -> dict[str, int]:
    """Byte offset in the file of every stored tensor record `<prefix>/data/<key>`."""
    offsets = {}
    for info in zf.infolist():
        head, _, key = info.filename.rpartition("/data/")
        if head != prefix or not key or "/" in key:
            continue
        if info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointFileError(f"{path}: record {info.filename} is compressed; torch never writes that")
        raw.seek(info.header_offset)
        fields = _ZIP_LOCAL_HEADER.unpack(raw.read(_ZIP_LOCAL_HEADER.size))
        if fields[0] != b"PK\x03\x04":
            raise CheckpointFileError(f"{path}: corrupt zip header of record {info.filename}")
        name_len, extra_len = fields[-2], fields[-1]
        start = info.header_offset + _ZIP_LOCAL_HEADER.size + name_len + extra_len
        if start + info.file_size > path.stat().st_size:
            raise CheckpointFileError(f"{path}: record {info.filename} runs past the end of the file (truncated)")
        offsets[key] = start
    return offsets


def read_torch_file(path: str | Path) -> Any:
    """The unpickled structure of a torch zip checkpoint with tensors as `StoredTensor` (no data read)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointFileError(f"{path}: file not found")
    try:
        with open(path, "rb") as raw, zipfile.ZipFile(raw) as zf:
            pkl = [n for n in zf.namelist() if n.endswith("/data.pkl")]
            if len(pkl) != 1:
                raise CheckpointFileError(f"{path}: not a torch zip checkpoint (no single data.pkl record)")
            prefix = pkl[0][: -len("/data.pkl")]
            order = f"{prefix}/byteorder"
            if order in zf.namelist() and zf.read(order).decode() != "little":
                raise CheckpointFileError(f"{path}: big-endian checkpoints are not supported")
            offsets = _data_offsets(zf, raw, prefix, path)
            return _Unpickler(zf.read(pkl[0]), path, offsets).load()
    except CheckpointFileError:
        raise
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError, struct.error, ValueError, TypeError) as e:
        raise CheckpointFileError(f"{path}: corrupt or truncated checkpoint file ({type(e).__name__}: {e})") from e
