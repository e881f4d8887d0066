"""Chat templates: exact rendered strings per template, HF parity, and exact label masks (checked against
open-instruct's prefix-rendering algorithm run through HF `apply_chat_template`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from olmo3hpc.data.encode import encode_chats
from olmo3hpc.data.templates import CHAT_TEMPLATES, ChatRenderer, set_chat_template

OLMO_SYS = (
    "You are OLMo, a helpful function-calling AI assistant built by Ai2. Your date cutoff is November 2024, and "
    "your model weights are available at https://huggingface.co/allenai. You do not currently have access to "
    "any functions. <functions></functions>"
)
IDENTITY_7B = (
    "You are Olmo, a helpful AI assistant built by Ai2. Your date cutoff is December 2024, and your model weights "
    "are available at https://huggingface.co/allenai."
)
NO_FUNCS = " You do not currently have access to any functions. <functions></functions>"

TWO_TURNS = [
    {"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
    {"role": "assistant", "content": "4"}, {"role": "user", "content": "3+3?"}, {"role": "assistant", "content": "6"},
]
NO_SYSTEM = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
TOOLS = [
    {"role": "system", "content": "S", "functions": "[f]"}, {"role": "user", "content": "call f", "functions": "[g]"},
    {"role": "assistant", "content": "", "function_calls": "f()"}, {"role": "environment", "content": "42"},
    {"role": "assistant", "content": "done"},
]
CHATML = ["olmo", "olmo_thinker", "olmo_thinker_no_think_7b", "olmo_thinker_no_think_sft_tokenization"]


def renderer(tokenizer, name: str) -> ChatRenderer:
    return ChatRenderer.for_tokenizer(tokenizer, name)


@pytest.mark.parametrize("name,system", [
    ("olmo", OLMO_SYS), ("olmo_thinker", "You are a helpful AI assistant."),
    ("olmo_thinker_no_think_7b", IDENTITY_7B),
    ("olmo_thinker_no_think_sft_tokenization", "You are a helpful AI assistant."),
])
def test_chatml_default_system_prompt_and_single_eos(tokenizer, name, system):
    text = renderer(tokenizer, name).render(NO_SYSTEM)
    assert text == (
        f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
        "<|im_start|>assistant\nhello<|endoftext|>"
    )


@pytest.mark.parametrize("name,prompt", [
    ("olmo", "<|im_start|>assistant\n"), ("olmo_thinker", "<|im_start|>assistant\n<think>"),
    ("olmo_thinker_no_think_7b", "<|im_start|>assistant\n"),
    ("olmo_thinker_no_think_sft_tokenization", "<|im_start|>assistant\n"),
])
def test_generation_prompt(tokenizer, name, prompt):
    text = renderer(tokenizer, name).render(TWO_TURNS[:2], add_generation_prompt=True)
    assert text == f"<|im_start|>system\nBe brief.{NO_FUNCS}<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n{prompt}"


def test_multi_turn_closes_inner_turns_with_im_end(tokenizer):
    text = renderer(tokenizer, "olmo").render(TWO_TURNS)
    assert text == (
        f"<|im_start|>system\nBe brief.{NO_FUNCS}<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
        "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\n3+3?<|im_end|>\n<|im_start|>assistant\n6<|endoftext|>"
    )
    assert text.count("<|endoftext|>") == 1


def test_functions_function_calls_and_environment(tokenizer):
    text = renderer(tokenizer, "olmo").render(TOOLS)
    assert text == (
        "<|im_start|>system\nS <functions>[f]</functions><|im_end|>\n"
        "<|im_start|>user\ncall f\n<functions>[g]</functions><|im_end|>\n"
        "<|im_start|>assistant\n<function_calls>f()</function_calls><|im_end|>\n"
        "<|im_start|>environment\n42<|im_end|>\n<|im_start|>assistant\ndone<|endoftext|>"
    )


def test_rlzero_templates_are_plain_text(tokenizer):
    prompt = [{"role": "user", "content": "What is 1+1?"}]
    math = renderer(tokenizer, "olmo_thinker_rlzero").render(prompt, add_generation_prompt=True)
    assert math == (
        "Solve the following problem step by step. The last line of your response should be the answer to the "
        "problem in form Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\n"
        'What is 1+1?\n\nRemember to put your answer on its own line after "Answer:"'
    )
    code = renderer(tokenizer, "olmo_thinker_code_rlzero").render(prompt, add_generation_prompt=True)
    assert code.startswith("Solve the following code problem step by step. The last part of your response")
    assert code.endswith("What is 1+1?\n\nRemember to put your solution inside the ```\npython\nCODE\n``` tags")
    assert "<|im_start|>" not in math + code


@pytest.mark.parametrize("name", sorted(CHAT_TEMPLATES))
@pytest.mark.parametrize("conv", [TWO_TURNS, NO_SYSTEM, TOOLS, TWO_TURNS[:2]])
@pytest.mark.parametrize("gen", [False, True])
def test_render_equals_hf_apply_chat_template(tokenizer, name, conv, gen):
    set_chat_template(tokenizer, name)
    expected = tokenizer.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen)
    assert renderer(tokenizer, name).render(conv, add_generation_prompt=gen) == expected


def _hf_ids(tokenizer, messages, gen=False) -> list[int]:
    out = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=gen)
    return list(out["input_ids"] if isinstance(out, Mapping) else out)


def open_instruct_mask(tokenizer, messages) -> np.ndarray:
    """open-instruct `sft_tulu_tokenize_and_truncate_v1`: mask each non-assistant message's token range,
    found by tokenizing prefixes (with the generation prompt when an assistant turn follows)."""
    ids = _hf_ids(tokenizer, messages)
    trained = np.ones(len(ids), dtype=bool)
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            continue
        start = len(_hf_ids(tokenizer, messages[:i])) if i else 0
        next_is_assistant = i + 1 < len(messages) and messages[i + 1]["role"] == "assistant"
        end = len(_hf_ids(tokenizer, messages[: i + 1], gen=next_is_assistant))
        trained[start:end] = False
    return trained


def trained_pieces(tokenizer, ids, mask) -> list[str]:
    pieces, run = [], []
    for token, on in zip(ids.tolist(), mask.tolist()):
        if on:
            run.append(token)
        elif run:
            pieces.append(tokenizer.decode(run))
            run = []
    return pieces + ([tokenizer.decode(run)] if run else [])


@pytest.mark.parametrize("name", [n for n in CHATML if n != "olmo_thinker"])
@pytest.mark.parametrize("conv", [TWO_TURNS, NO_SYSTEM, TOOLS])
def test_masks_equal_open_instruct_prefix_masks_and_hf_ids(tokenizer, name, conv):
    set_chat_template(tokenizer, name)
    (enc,) = encode_chats(tokenizer, renderer(tokenizer, name), [conv])
    assert enc.ids.tolist() == _hf_ids(tokenizer, conv)
    np.testing.assert_array_equal(enc.mask, open_instruct_mask(tokenizer, conv))


@pytest.mark.parametrize("conv", [TWO_TURNS, NO_SYSTEM, TOOLS])
def test_thinker_differs_from_open_instruct_only_by_its_think_bug(tokenizer, conv):
    """open-instruct's prefix lengths include the `<think>` of the generation prompt, so it masks the
    first token of every assistant turn (the documented bug); we train it and nothing else differs."""
    set_chat_template(tokenizer, "olmo_thinker")
    (enc,) = encode_chats(tokenizer, renderer(tokenizer, "olmo_thinker"), [conv])
    first_of_turn = enc.mask & ~np.concatenate([[False], enc.mask[:-1]])
    np.testing.assert_array_equal(enc.mask & ~first_of_turn, open_instruct_mask(tokenizer, conv))


@pytest.mark.parametrize("name", CHATML)
def test_masks_equal_hf_assistant_tokens_mask(tokenizer, name):
    set_chat_template(tokenizer, name)
    out = tokenizer.apply_chat_template(TWO_TURNS, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    (enc,) = encode_chats(tokenizer, renderer(tokenizer, name), [TWO_TURNS])
    assert enc.mask.astype(int).tolist() == list(out["assistant_masks"])


def test_trained_text_is_assistant_output_and_closing_tokens(tokenizer):
    (enc,) = encode_chats(tokenizer, renderer(tokenizer, "olmo"), [TWO_TURNS])
    assert trained_pieces(tokenizer, enc.ids, enc.mask) == ["4<|im_end|>", "6<|endoftext|>"]
    (enc,) = encode_chats(tokenizer, renderer(tokenizer, "olmo"), [TOOLS])
    assert trained_pieces(tokenizer, enc.ids, enc.mask) == [
        "<function_calls>f()</function_calls><|im_end|>", "done<|endoftext|>"
    ]
    assert enc.labels[~enc.mask].tolist() == [-100] * int((~enc.mask).sum())


def test_thinker_trains_the_whole_thinking_trace(tokenizer):
    conv = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>hmm</think>A"}]
    (enc,) = encode_chats(tokenizer, renderer(tokenizer, "olmo_thinker"), [conv])
    assert trained_pieces(tokenizer, enc.ids, enc.mask) == ["<think>hmm</think>A<|endoftext|>"]


def test_truncation_keeps_prefix(tokenizer):
    (full,) = encode_chats(tokenizer, renderer(tokenizer, "olmo"), [TWO_TURNS])
    (cut,) = encode_chats(tokenizer, renderer(tokenizer, "olmo"), [TWO_TURNS], max_len=len(full.ids) - 3)
    assert cut.ids.tolist() == full.ids[:-3].tolist() and cut.mask.tolist() == full.mask[:-3].tolist()


@pytest.mark.parametrize("conv", [TWO_TURNS, NO_SYSTEM, TOOLS])
def test_tokenizer_template_without_generation_blocks_gets_open_instruct_masks(tokenizer, conv):
    """A tokenizer's own template (as the OLMo 3 instruct runs used) has no {% generation %} blocks:
    masks then come from prefix rendering, exactly as open-instruct computes them."""
    import re

    plain = re.sub(r"\{%-? *(end)?generation *-?%\}", "", CHAT_TEMPLATES["olmo"])
    tokenizer.chat_template = plain
    own = ChatRenderer.for_tokenizer(tokenizer, "tokenizer")
    assert not own.marks_spans
    with pytest.raises(ValueError, match="generation"):
        own.render_with_spans(conv)
    (enc,) = encode_chats(tokenizer, own, [conv])
    assert enc.ids.tolist() == _hf_ids(tokenizer, conv)
    np.testing.assert_array_equal(enc.mask, open_instruct_mask(tokenizer, conv))
    (marked,) = encode_chats(tokenizer, renderer(tokenizer, "olmo"), [conv])
    np.testing.assert_array_equal(enc.mask, marked.mask)
    (last,) = encode_chats(tokenizer, own, [conv], last_turn_only=True)
    (last_marked,) = encode_chats(tokenizer, renderer(tokenizer, "olmo"), [conv], last_turn_only=True)
    np.testing.assert_array_equal(last.mask, last_marked.mask)


UNICODE = [
    {"role": "user", "content": "日本語で?"}, {"role": "assistant", "content": "\n\n😀 はい  "},
    {"role": "user", "content": " lead"}, {"role": "assistant", "content": "  ünïcödé\n"},
]


@pytest.mark.parametrize("name", sorted(CHAT_TEMPLATES))
def test_edge_lookup_mask_equals_full_offset_overlap(tokenizer, name):
    from olmo3hpc.data.encode import backend, span_mask, spans_to_mask

    text, spans = renderer(tokenizer, name).render_with_spans(UNICODE)
    enc = backend(tokenizer).encode(text, add_special_tokens=False)
    full = spans_to_mask(np.asarray(enc.offsets).reshape(-1, 2), spans)
    np.testing.assert_array_equal(span_mask(enc, spans), full)
    assert full.any()


@pytest.mark.parametrize("name", ["olmo_thinker_rlzero", "olmo_thinker_code_rlzero"])
def test_rlzero_masks_train_only_assistant_contents(tokenizer, name):
    (enc,) = encode_chats(tokenizer, renderer(tokenizer, name), [TWO_TURNS])
    assert trained_pieces(tokenizer, enc.ids, enc.mask) == ["4", "6"]
