"""The HF side of a conversion: which config and tokenizer an export gets, which tensor names and
shapes that model has, and the export's non-weight files.

    source = model_source(model="", tokenizer="", near=tag_dir)
    expected, arch = expected_tensors(source)    # {name: shape} (tied aliases dropped), model class
    write_metadata(out_dir, source, "bfloat16", arch)  # config.json, tokenizer files, generation_config

A source is either an HF directory (files are copied; names and shapes are read from its safetensors
headers when it has weights) or a config/tokenizer pair built through `engine.modelfactory` (random
test models, hub ids, directories without weights; shapes from the model built on the meta device).
The directory path needs no transformers import, which is most of a small conversion's run time.
Without an explicit `model`, the run directory above the checkpoint decides: its newest hf/ export,
else its model.init / model.tokenizer. The generation config is `modelfactory.generation_config`
(OLMo 3's two EOS ids, <|im_end|> and <|endoftext|>) unless the source directory's already stops on two.
"""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from olmo3hpc.tools.safetensors_stream import read_safetensors_dir

RUN_CONFIG = "config.yaml"
TOKENIZER_FILES = ("tokenizer*", "special_tokens_map.json", "added_tokens.json", "chat_template*", "vocab.*",
                   "merges.txt", "*.model", "*.tiktoken")


@dataclass(frozen=True)
class ModelSource:
    origin: str
    """Where config and tokenizer come from (named in error messages)."""
    hf_dir: Path | None = None
    config: Any = None
    tokenizer: Any = None


def find_run_dir(path: Path) -> Path | None:
    """The run directory (holding config.yaml and checkpoints/) that contains `path`, if any."""
    for parent in [path, *path.parents]:
        if (parent / RUN_CONFIG).is_file() and (parent / "checkpoints").is_dir():
            return parent
    return None


def _is_export(d: Path) -> bool:
    """A finished HF directory with a tokenizer (writers stage into hidden or `.tmp` directories)."""
    if d.name.startswith(".") or d.name.endswith(".tmp"):
        return False
    return (d / "config.json").is_file() and any(d.glob("tokenizer*"))


def _from_spec(init: str, tokenizer: str, output_root: str) -> ModelSource:
    from olmo3hpc.config import ModelConfig
    from olmo3hpc.engine import modelfactory

    cfg = ModelConfig(init=init, tokenizer=tokenizer)
    tok = modelfactory.load_tokenizer(cfg, output_root)
    if init.startswith("random:"):
        return ModelSource(init, config=modelfactory.random_model_config(init.removeprefix("random:"), tok),
                           tokenizer=tok)
    from transformers import AutoConfig

    return ModelSource(init, config=AutoConfig.from_pretrained(modelfactory.resolve_init(cfg, output_root)),
                       tokenizer=tok)


def _run_source(run_dir: Path) -> ModelSource:
    exports = sorted((d for d in (run_dir / "hf").glob("*") if _is_export(d)), key=lambda d: d.stat().st_mtime)
    if exports:
        return ModelSource(str(exports[-1]), hf_dir=exports[-1])
    from olmo3hpc.config import load_run

    run = load_run(run_dir / RUN_CONFIG)
    init = Path(run.model.init)
    if not run.model.tokenizer and _is_export(init):
        return ModelSource(str(init), hf_dir=init)
    return _from_spec(run.model.init, run.model.tokenizer, run.meta.output_root)


def model_source(model: str, tokenizer: str, near: Path) -> ModelSource:
    """Config + tokenizer: `model` (HF dir, hub id or random:<size>) or else the enclosing run's."""
    if model:
        if not tokenizer and _is_export(Path(model)):
            return ModelSource(model, hf_dir=Path(model))
        return _from_spec(model, tokenizer, "")
    run_dir = find_run_dir(near)
    if run_dir is None:
        raise FileNotFoundError(
            f"{near}: not inside a run directory (no {RUN_CONFIG} above it); pass --model <HF dir or hub id> "
            "to say which config and tokenizer the export gets"
        )
    return _run_source(run_dir)


def _config_object(source: ModelSource) -> Any:
    if source.config is not None:
        return source.config
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(source.hf_dir)


def expected_tensors(source: ModelSource) -> tuple[dict[str, tuple[int, ...]], str | None]:
    """Saved tensor names and shapes of the source's model, and its class name when it was built."""
    if source.hf_dir is not None:
        try:
            return {n: s.shape for n, s in read_safetensors_dir(source.hf_dir).items()}, None
        except FileNotFoundError:
            pass  # a config-only directory: build the model to learn its shapes
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(_config_object(source))
    seen: set[int] = set()
    out = {}
    for name, tensor in model.state_dict(keep_vars=True).items():
        if id(tensor) in seen:  # tied alias (e.g. lm_head = embeddings): stored once, as HF does
            continue
        seen.add(id(tensor))
        out[name] = tuple(tensor.shape)
    return out, type(model).__name__


def copy_model_files(source_dir: Path, out_dir: Path, dtype: str, architecture: str | None = None) -> None:
    config = json.loads((source_dir / "config.json").read_text())
    config["dtype"] = dtype  # what from_pretrained(dtype="auto") loads
    if architecture and not config.get("architectures"):
        config["architectures"] = [architecture]  # vLLM picks the model class from it
    (out_dir / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    for pattern in (*TOKENIZER_FILES, "generation_config.json"):
        for f in source_dir.glob(pattern):
            if f.is_file():
                shutil.copy2(f, out_dir / f.name)


def _has_chat_eos(path: Path) -> bool:
    """A generation config that already stops on two EOS ids (an OLMo 3 chat export) is kept as is."""
    if not path.is_file():
        return False
    eos = json.loads(path.read_text()).get("eos_token_id")
    return isinstance(eos, list) and len(eos) >= 2


def write_metadata(out_dir: Path, source: ModelSource, dtype: str, architecture: str | None = None) -> None:
    """config.json (with the export dtype and `architectures`), tokenizer files and generation_config.json."""
    if source.hf_dir is not None:
        copy_model_files(source.hf_dir, out_dir, dtype, architecture)
        if _has_chat_eos(out_dir / "generation_config.json"):
            return
    from olmo3hpc.engine.modelfactory import generation_config

    config = copy.deepcopy(_config_object(source))
    tokenizer = source.tokenizer
    if tokenizer is None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(source.hf_dir)
    if source.hf_dir is None:
        config.dtype = dtype
        config.architectures = config.architectures or ([architecture] if architecture else None)
        config.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
    generation_config(tokenizer, config).save_pretrained(out_dir)
