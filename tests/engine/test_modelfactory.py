import json
import subprocess
import sys

import pytest
import torch

from olmo3hpc.config import ConfigError, ModelConfig
from olmo3hpc.engine import modelfactory as mf

TINY = ModelConfig(init="random:tiny", tokenizer="random:bpe", dtype="float32")
TEXT = "<|im_start|>user\nWhat is 12 + 30?<|im_end|>\n<|im_start|>assistant\n<think>42</think>Answer: 42<|im_end|>"

# The trained vocabulary and merges (what could differ between processes) without importing transformers.
_IDS_SCRIPT = """
import json
from tokenizers import Tokenizer
from olmo3hpc.engine.modelfactory import _bpe_json
text = _bpe_json()
print(json.dumps({"ids": Tokenizer.from_str(text).encode(%r).ids, "json": text}))
"""


def test_random_bpe_is_identical_in_another_process():
    tok = mf.load_tokenizer(TINY)
    out = subprocess.run([sys.executable, "-c", _IDS_SCRIPT % TEXT], capture_output=True, text=True, timeout=120,
                         check=True)
    other = json.loads(out.stdout.strip().splitlines()[-1])
    assert other["ids"] == tok(TEXT).input_ids
    assert other["json"] == mf._bpe_json()


def test_random_bpe_special_tokens_are_single_ids_and_round_trip():
    tok = mf.load_tokenizer(TINY)
    for i, token in enumerate(mf.SPECIAL_TOKENS):
        assert tok.convert_tokens_to_ids(token) == i
        assert tok(token).input_ids == [i]
    assert (tok.eos_token, tok.pad_token) == ("<|endoftext|>", "<|pad|>")
    assert tok.decode(tok(TEXT).input_ids) == TEXT
    assert tok.decode(tok("naïve 東京 ∑x²").input_ids) == "naïve 東京 ∑x²"  # byte-level: nothing is unknown


def test_random_tiny_is_seeded_and_matches_the_tokenizer():
    tok = mf.load_tokenizer(TINY)
    a, b, c = (mf.load_model(TINY, seed=s, tokenizer=tok) for s in (7, 7, 8))
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.lm_head.weight, c.lm_head.weight)
    cfg = a.config
    assert cfg.vocab_size == len(tok) and cfg.eos_token_id == tok.eos_token_id and cfg.pad_token_id == tok.pad_token_id
    assert cfg.layer_types == ["sliding_attention", "full_attention"]
    assert (cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.sliding_window) == (64, 4, 2, 64)


def test_random_1b_config_has_about_a_billion_parameters():
    cfg = mf.random_model_config("1b", mf.load_tokenizer(TINY))
    per_layer = 4 * cfg.hidden_size**2 + 3 * cfg.hidden_size * cfg.intermediate_size
    assert 0.9e9 < per_layer * cfg.num_hidden_layers < 1.2e9
    assert cfg.layer_types.count("full_attention") == cfg.num_hidden_layers // 4


def test_unknown_random_size_names_the_field():
    with pytest.raises(ConfigError, match="model.init"):
        mf.load_model(ModelConfig(init="random:huge", tokenizer="random:bpe"))


def test_recipe_lineage_without_output_names_the_missing_export(tmp_path):
    cfg = ModelConfig(init="recipe:7b_think_sft", tokenizer="random:bpe", public_equivalent="allenai/x")
    with pytest.raises(ConfigError, match="7b_think_sft/hf/final.*allenai/x"):
        mf.resolve_init(cfg, tmp_path)


def test_save_hf_reloads_with_transformers_and_stops_on_both_eos(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    tok = mf.load_tokenizer(TINY)
    model = mf.load_model(TINY, seed=1, tokenizer=tok)
    mf.save_hf(model.state_dict(), model.config, tok, tmp_path / "hf")
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "hf")
    ids = torch.tensor([tok(TEXT).input_ids])
    assert torch.equal(model(ids).logits, again(ids).logits)
    assert AutoTokenizer.from_pretrained(tmp_path / "hf")(TEXT).input_ids == tok(TEXT).input_ids
    eos = GenerationConfig.from_pretrained(tmp_path / "hf").eos_token_id
    assert eos == [tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")]
    # the init path of a later stage: a local HF dir
    reloaded = mf.load_model(ModelConfig(init=str(tmp_path / "hf"), dtype="float32"))
    assert torch.equal(reloaded(ids).logits, model(ids).logits)
