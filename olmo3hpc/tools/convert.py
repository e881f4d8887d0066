"""DeepSpeed ZeRO 1/2/3 checkpoint -> HF safetensors directory, streamed.

    olmo3hpc convert --checkpoint runs/smoke_sft [--output DIR] [--dtype bfloat16] [--max-shard-size 5GB]
    convert(ConvertArgs(...)) -> Path of the finished HF directory

Peak memory is one read chunk (32 MiB of fp32) plus the Python/torch runtime, whatever the model size:
the per-rank optimizer files are never loaded, only parsed for structure (`zero_checkpoint`), and each
output tensor is assembled from byte ranges of the rank files chunk by chunk while its shard is
written (`safetensors_stream`). The export gets the run's config and tokenizer and OLMo 3's generation
config, and is built in a hidden staging directory renamed into place at the end, so an interrupted or
failed conversion never leaves a directory that looks complete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from olmo3hpc.tools import hf_model
from olmo3hpc.tools.safetensors_stream import OutTensor, parse_size, write_safetensors_dir
from olmo3hpc.tools.staging import staged_dir
from olmo3hpc.tools.tensor_stream import FLOAT_DTYPES, TensorSource, output_dtype, read_range, to_dtype
from olmo3hpc.tools.torch_pickle import CheckpointFileError
from olmo3hpc.tools.zero_checkpoint import ZeroLayout, locate_checkpoint, read_zero_layout


@dataclass(frozen=True)
class ConvertArgs:
    checkpoint: str
    """DeepSpeed checkpoint: a run directory (uses checkpoints/latest), its checkpoints/ directory, a
    checkpoints/step_N directory or a DeepSpeed tag directory."""
    output: str = ""
    """Output HF directory; empty = <run_dir>/hf/<step> inside a run directory, else <checkpoint>-hf."""
    dtype: Literal["bfloat16", "float32"] = "bfloat16"
    """Dtype of the exported weights (the fp32 master weights are rounded to nearest even for bf16)."""
    max_shard_size: str = "5GB"
    """Largest safetensors shard (a single bigger tensor gets a shard of its own)."""
    model: str = ""
    """Config/tokenizer of the export: an HF directory, hub id or random:<size>; empty = the run's
    config.yaml (model.init and model.tokenizer) found above the checkpoint."""
    tokenizer: str = ""
    """Tokenizer when `model` is given and has none of its own (e.g. random:bpe for random:tiny)."""
    overwrite: bool = False
    """Replace an existing output directory (atomically, once the new one is complete)."""


def default_output(tag_dir: Path) -> Path:
    run_dir = hf_model.find_run_dir(tag_dir)
    if run_dir is None:
        return tag_dir.with_name(tag_dir.name + "-hf")
    step = tag_dir.relative_to(run_dir / "checkpoints").parts[0]
    return run_dir / "hf" / step


def check_fits(layout: ZeroLayout, expected: dict[str, tuple[int, ...]], origin: str) -> dict[str, TensorSource]:
    """The checkpoint tensor for each expected name; a clear error when the shapes or names differ."""
    tensors = dict(layout.tensors)
    for alias, target in layout.shared.items():
        if alias in expected and alias not in tensors and target in tensors:
            tensors[alias] = tensors[target]
    missing = [n for n in expected if n not in tensors]
    unexpected = [n for n in tensors if n not in expected and n not in layout.shared]
    mismatched = [f"{n}: checkpoint {list(tensors[n].shape)} vs model {list(s)}"
                  for n, s in expected.items() if n in tensors and tuple(tensors[n].shape) != s]
    if missing or unexpected or mismatched:
        raise CheckpointFileError(
            f"{layout.model_file}: checkpoint does not match the model of {origin}: "
            f"{len(mismatched)} shape mismatches {mismatched[:3]}, missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    for name, src in tensors.items():
        if name in expected and src.available < src.numel:
            raise CheckpointFileError(f"{layout.model_file}: tensor {name!r} has only {src.available} elements")
    return {n: tensors[n] for n in expected}


def _out_tensor(src: TensorSource, dtype: str, name: str) -> OutTensor:
    dt = dtype if src.dtype in FLOAT_DTYPES else src.dtype
    return OutTensor(name, src.shape, dt, lambda start, count: to_dtype(read_range(src, start, count), dt))


def convert(args: ConvertArgs) -> Path:
    """Convert the checkpoint; returns the finished HF directory."""
    dtype = output_dtype(args.dtype)
    max_shard = parse_size(args.max_shard_size)
    tag_dir = locate_checkpoint(args.checkpoint)
    layout = read_zero_layout(tag_dir)
    source = hf_model.model_source(args.model, args.tokenizer, tag_dir)
    expected, architecture = hf_model.expected_tensors(source)
    tensors = check_fits(layout, expected, source.origin)
    out = Path(args.output) if args.output else default_output(tag_dir)
    with staged_dir(out, overwrite=args.overwrite) as tmp:
        write_safetensors_dir(tmp, [_out_tensor(src, dtype, n) for n, src in tensors.items()], max_shard)
        hf_model.write_metadata(tmp, source, args.dtype, architecture)
        provenance = {"checkpoint": str(tag_dir), "zero_stage": layout.stage, "world_size": layout.world_size,
                      "dtype": args.dtype, "model": source.origin}
        (tmp / "conversion.json").write_text(json.dumps(provenance, indent=2) + "\n")
    return out
