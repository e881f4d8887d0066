"""Where each full-precision parameter of a DeepSpeed ZeRO 1/2/3 checkpoint lives, without loading it.

    tag_dir = locate_checkpoint(path)     # run_dir, run_dir/checkpoints, checkpoints/step_N or the tag dir
    layout = read_zero_layout(tag_dir)     # ZeroLayout: stage, world size, TensorSource per parameter

The fp32 master weights live in the per-rank optimizer files:
  * ZeRO-1/2: rank r holds slice r of each parameter group's flat buffer
    (`single_partition_of_fp32_groups`); parameters are laid out back to back in `param_shapes` order
    (plus `param_alignment_paddings` when recorded), so one parameter spans one or two ranks.
  * ZeRO-3: every parameter is split into world_size pieces of ceil(numel / world_size) elements;
    rank r's `fp32_flat_groups` hold its piece of each parameter back to back.
Buffers (and ZeRO-1/2 frozen parameters) come from the model-states file; ZeRO-3 frozen parameters
from the per-rank `frozen_param_fragments`. Only structure is read here (`torch_pickle`); the bytes
are streamed later by `tensor_stream.read_range`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from olmo3hpc.tools.tensor_stream import Segment, TensorSource
from olmo3hpc.tools.torch_pickle import CheckpointFileError, Opaque, StoredTensor, read_torch_file

_RANK = re.compile(r"zero_pp_rank_(\d+)_mp_rank_(\d+)_(model|optim)_states\.pt$")


@dataclass(frozen=True)
class ZeroLayout:
    tag_dir: Path
    stage: int
    world_size: int
    tensors: dict[str, TensorSource]
    shared: dict[str, str] = field(default_factory=dict)
    """Tied aliases: name -> the parameter it shares storage with (not stored separately)."""
    model_file: Path = Path()


def _has_states(d: Path) -> bool:
    return d.is_dir() and any(d.glob("*_model_states.pt"))


def locate_checkpoint(path: str | Path) -> Path:
    """The DeepSpeed tag directory under `path` (follows `latest` files and run_dir/checkpoints)."""
    p = Path(path)
    if _has_states(p):
        return p
    if (p / "latest").is_file():
        target = p / (p / "latest").read_text().strip()
        if not target.is_dir():
            raise FileNotFoundError(f"{p / 'latest'}: names {target}, which does not exist")
        return locate_checkpoint(target)
    if (p / "checkpoints").is_dir():
        return locate_checkpoint(p / "checkpoints")
    subdirs = [d for d in p.iterdir() if _has_states(d)] if p.is_dir() else []
    if len(subdirs) == 1:
        return subdirs[0]
    raise FileNotFoundError(f"{p}: no DeepSpeed checkpoint (*_model_states.pt) found there")


def _rank_files(tag_dir: Path, kind: str) -> list[Path]:
    found: dict[int, Path] = {}
    for f in tag_dir.glob(f"*zero_pp_rank_*_mp_rank_*_{kind}_states.pt"):
        m = _RANK.search(f.name)
        if m and m.group(2) != "00":
            raise CheckpointFileError(f"{f}: tensor/model-parallel checkpoints (mp_rank > 0) are not supported")
        if m:
            found[int(m.group(1))] = f
    return [found[r] for r in sorted(found)]


def _check_ranks(files: list[Path], world_size: int, tag_dir: Path, kind: str) -> None:
    ranks = {int(_RANK.search(f.name).group(1)) for f in files}
    missing = sorted(set(range(world_size)) - ranks)
    if missing:
        names = [f"zero_pp_rank_{r}_mp_rank_00_{kind}_states.pt" for r in missing]
        raise CheckpointFileError(f"{tag_dir}: missing {kind} file(s) {names} of a {world_size}-rank checkpoint")


def _stage(osd: dict, path: Path) -> int:
    raw = osd.get("zero_stage")
    value = raw.args[0] if isinstance(raw, Opaque) and raw.args else raw
    if not isinstance(value, int) or not 1 <= value <= 3:
        raise CheckpointFileError(f"{path}: not a ZeRO 1-3 optimizer file (zero_stage={raw!r})")
    return value


def _slice(parts: list[StoredTensor], start: int, count: int) -> list[Segment]:
    """Segments covering elements [start, start+count) of the concatenation of 1-D `parts`."""
    segs, pos = [], 0
    for part in parts:
        lo, hi = max(start, pos), min(start + count, pos + part.numel)
        if lo < hi:
            offset, _ = part.byte_range(lo - pos, hi - lo)
            segs.append(Segment(part.path, offset, hi - lo, part.dtype))
        pos += part.numel
    if sum(s.numel for s in segs) != count:
        raise CheckpointFileError(f"{parts[0].path}: flat buffers hold fewer elements than param_shapes need")
    return segs


def _zero12_params(model: dict, optims: list[dict], world: int, path: Path) -> dict[str, TensorSource]:
    out = {}
    paddings = optims[0]["optimizer_state_dict"].get("param_alignment_paddings")
    for g, shapes in enumerate(model["param_shapes"]):
        parts = [o["optimizer_state_dict"]["single_partition_of_fp32_groups"][g] for o in optims]
        offset = 0
        for i, (name, shape) in enumerate(shapes.items()):
            numel = math.prod(shape)
            out[name] = TensorSource(name, tuple(shape), tuple(_slice(parts, offset, numel)))
            offset += numel + (paddings[g][i] if paddings else 0)
        align = 2 * world  # DeepSpeed pads each group's flat buffer to a multiple of 2 x world size
        avail = sum(p.numel for p in parts)
        if math.ceil(offset / align) * align != math.ceil(avail / align) * align:
            raise CheckpointFileError(f"{path}: group {g} holds {avail} elements but param_shapes need {offset}")
    return out


def _zero3_params(model: dict, optims: list[dict], world: int, path: Path) -> dict[str, TensorSource]:
    out = {}
    per_rank = [o["optimizer_state_dict"]["fp32_flat_groups"] for o in optims]
    offset = 0
    for shapes in model["param_shapes"]:
        for name, shape in shapes.items():
            numel = math.prod(shape)
            piece = math.ceil(numel / world)
            segs = [s for parts in per_rank for s in _slice(parts, offset, piece)]
            out[name] = TensorSource(name, tuple(shape), tuple(segs))
            offset += piece
    avail = sum(p.numel for p in per_rank[0])
    if offset != avail:
        raise CheckpointFileError(f"{path}: rank flat buffers hold {avail} elements but param_shapes need {offset}")
    return out


def _whole(name: str, t: Any, path: Path) -> TensorSource:
    if not isinstance(t, StoredTensor) or not t.is_contiguous:
        raise CheckpointFileError(f"{path}: tensor {name!r} is missing or not contiguous")
    offset, _ = t.byte_range(0, t.numel)
    return TensorSource(name, t.shape, (Segment(t.path, offset, t.numel, t.dtype),))


def _extras(models: list[dict], model_files: list[Path], stage: int) -> dict[str, TensorSource]:
    """Buffers and frozen parameters."""
    first, out = models[0], {}
    for name in first.get("buffer_names") or []:
        out[name] = _whole(name, first["module"].get(name), model_files[0])
    for name, shape in (first.get("frozen_param_shapes") or {}).items():
        if stage < 3:
            out[name] = _whole(name, first["module"].get(name), model_files[0])
            continue
        frags = [m["frozen_param_fragments"][name] for m in models]
        segs = [s for f in frags for s in _slice([f], 0, f.numel)]
        out[name] = TensorSource(name, tuple(shape), tuple(segs))
    return out


def read_zero_layout(tag_dir: str | Path) -> ZeroLayout:
    """Parse a ZeRO 1/2/3 checkpoint directory; errors name the missing or inconsistent file."""
    tag_dir = Path(tag_dir)
    optim_files = _rank_files(tag_dir, "optim")
    if not optim_files:
        raise CheckpointFileError(f"{tag_dir}: no zero_pp_rank_*_optim_states.pt files (not a ZeRO 1-3 checkpoint)")
    optims = [read_torch_file(f) for f in optim_files]
    osd = optims[0]["optimizer_state_dict"]
    stage = _stage(osd, optim_files[0])
    world = max(osd["partition_count"]) if isinstance(osd["partition_count"], list) else int(osd["partition_count"])
    _check_ranks(optim_files, world, tag_dir, "optim")
    if stage == 3:
        model_files = _rank_files(tag_dir, "model")
        _check_ranks(model_files, world, tag_dir, "model")
    else:
        model_files = [tag_dir / "mp_rank_00_model_states.pt"]
    models = [read_torch_file(f) for f in model_files]
    build = _zero3_params if stage == 3 else _zero12_params
    tensors = {**_extras(models, model_files, stage), **build(models[0], optims, world, optim_files[0])}
    shared = dict(models[0].get("shared_params") or {})
    return ZeroLayout(tag_dir, stage, world, tensors, shared, model_files[0])
