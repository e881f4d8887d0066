"""Model soup: a weighted average of HF models with the same architecture, streamed per tensor.

    olmo3hpc merge --models A B C [--weights 0.5 0.25 0.25] --output SOUP [--dtype bfloat16]
    merge(MergeArgs(...)) -> Path

This is the linear merge OLMo 3 used for the 32B Think SFT soup (open-instruct's direct_merge /
merge_models.py: sum_i w_i * theta_i). Each output tensor is computed a chunk at a time in float32
from the inputs' safetensors byte ranges, so memory stays at a few chunks whatever the model size.
Config, tokenizer and generation config are copied from the first model. Names and shapes must agree
across all inputs (the error names the model and tensor); the output appears only when complete.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from olmo3hpc.tools.hf_model import copy_model_files
from olmo3hpc.tools.safetensors_stream import OutTensor, parse_size, read_safetensors_dir, write_safetensors_dir
from olmo3hpc.tools.staging import staged_dir
from olmo3hpc.tools.tensor_stream import FLOAT_DTYPES, TensorSource, output_dtype, read_range, to_dtype


@dataclass(frozen=True)
class MergeArgs:
    models: tuple[str, ...]
    """HF model directories to average (at least two, same architecture)."""
    output: str
    """Output HF directory."""
    weights: tuple[float, ...] = ()
    """One weight per model; empty = uniform."""
    normalize: bool = True
    """Divide the weights by their sum (so 1 1 2 means 0.25 0.25 0.5)."""
    dtype: Literal["bfloat16", "float32"] = "bfloat16"
    """Dtype of the merged weights (the average itself is computed in float32)."""
    max_shard_size: str = "5GB"
    """Largest safetensors shard."""
    overwrite: bool = False
    """Replace an existing output directory (atomically, once the new one is complete)."""


def soup_weights(args: MergeArgs) -> list[float]:
    if len(args.models) < 2:
        raise ValueError(f"models: need at least two models to merge, got {len(args.models)}")
    weights = list(args.weights) or [1.0] * len(args.models)
    if len(weights) != len(args.models):
        raise ValueError(f"weights: {len(weights)} weights for {len(args.models)} models")
    total = sum(weights)
    if args.normalize:
        if not math.isfinite(total) or total <= 0:
            raise ValueError(f"weights: sum {total} must be > 0 to normalize")
        weights = [w / total for w in weights]
    return weights


def _check_same(models: tuple[str, ...], sources: list[dict[str, TensorSource]]) -> None:
    first = sources[0]
    for model, src in zip(models[1:], sources[1:]):
        missing, extra = sorted(set(first) - set(src)), sorted(set(src) - set(first))
        if missing or extra:
            raise ValueError(f"{model}: tensor names differ from {models[0]} (missing {missing[:5]}, extra {extra[:5]})")
        for name, t in first.items():
            if src[name].shape != t.shape:
                raise ValueError(f"{model}: tensor {name!r} has shape {list(src[name].shape)}, "
                                 f"{models[0]} has {list(t.shape)}")


def _averaged(name: str, parts: list[TensorSource], weights: list[float], dtype: str) -> OutTensor:
    if parts[0].dtype not in FLOAT_DTYPES:  # integer buffers are copied from the first model
        return OutTensor(name, parts[0].shape, parts[0].dtype, lambda s, n: read_range(parts[0], s, n))

    def fill(start: int, count: int) -> np.ndarray:
        acc = np.zeros(count, dtype=np.float32)
        for w, src in zip(weights, parts):
            acc += np.float32(w) * read_range(src, start, count)
        return to_dtype(acc, dtype)

    return OutTensor(name, parts[0].shape, dtype, fill)


def merge(args: MergeArgs) -> Path:
    """Write the weighted average of `args.models`; returns the output directory."""
    weights = soup_weights(args)
    dtype = output_dtype(args.dtype)
    sources = [read_safetensors_dir(m) for m in args.models]
    _check_same(args.models, sources)
    tensors = [_averaged(n, [s[n] for s in sources], weights, dtype) for n in sources[0]]
    out = Path(args.output)
    with staged_dir(out, overwrite=args.overwrite) as tmp:
        write_safetensors_dir(tmp, tensors, parse_size(args.max_shard_size))
        copy_model_files(Path(args.models[0]), tmp, args.dtype)
        provenance = {"method": "linear", "models": list(args.models), "weights": weights, "dtype": args.dtype}
        (tmp / "merge.json").write_text(json.dumps(provenance, indent=2) + "\n")
    return out
