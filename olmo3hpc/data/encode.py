"""Batched tokenization of rendered conversations with exact label masks.

A conversation is rendered once (the template marks trainable character spans), the texts of a batch
go through the fast tokenizer in one `encode_batch` call, and a token is trained on when its
character range overlaps a trainable span. Ids equal `tokenizer.apply_chat_template(messages)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from olmo3hpc.data.templates import ChatRenderer

IGNORE_INDEX = -100


@dataclass(frozen=True)
class Encoded:
    """One tokenized sequence: int32 ids and a bool mask of the tokens the loss trains on."""

    ids: np.ndarray
    mask: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        """HF-style labels aligned with `ids` (the model shifts them): ids where trained, else -100."""
        return np.where(self.mask, self.ids.astype(np.int64), IGNORE_INDEX)

    def truncated(self, max_len: int) -> "Encoded":
        return self if len(self.ids) <= max_len else Encoded(self.ids[:max_len], self.mask[:max_len])


def backend(tokenizer: Any) -> Any:
    """The Rust `tokenizers.Tokenizer` behind an HF fast tokenizer."""
    inner = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if inner is None:
        raise TypeError(f"{type(tokenizer).__name__} is not a fast tokenizer; the data pipeline needs one")
    return inner


def spans_to_mask(offsets: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """Tokens (character `offsets`, shape [n, 2], non-decreasing) overlapping any [start, end) span."""
    mask = np.zeros(len(offsets), dtype=bool)
    if not spans or not len(offsets):
        return mask
    starts, ends = offsets[:, 0], offsets[:, 1]
    for start, end in spans:
        first = np.searchsorted(ends, start, side="right")
        stop = np.searchsorted(starts, end, side="left")
        mask[first:stop] = True
    return mask


def span_mask(enc: Any, spans: list[tuple[int, int]]) -> np.ndarray:
    """`spans_to_mask` for one `tokenizers.Encoding`, asking Rust only about span edges (converting
    every offset to Python costs more than the tokenization's own Python overhead)."""
    n = len(enc)
    mask = np.zeros(n, dtype=bool)
    for start, end in spans:
        first, last = enc.char_to_token(start), enc.char_to_token(end - 1)
        if first is None or last is None:  # an edge char no token claims (trimmed offsets): exact slow path
            return spans_to_mask(np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2), spans)
        while last + 1 < n and enc.token_to_chars(last + 1)[0] < end:  # bytes of one multi-token char
            last += 1
        mask[first:last + 1] = True
    return mask


def tokenize(tokenizer: Any, texts: list[str]) -> list[Any]:
    """`tokenizers.Encoding` per text; special tokens come from the text itself."""
    return backend(tokenizer).encode_batch(texts, add_special_tokens=False)


def encode_chats(
    tokenizer: Any, renderer: ChatRenderer, conversations: list[list[dict]], max_len: int = 0,
    last_turn_only: bool = False,
) -> list[Encoded]:
    """Tokenize conversations with labels on the template's trainable spans, truncated to `max_len`
    (0 = no limit); `last_turn_only` trains only the final turn (DPO). Templates without
    `{% generation %}` blocks (a tokenizer's own) get open-instruct's prefix-rendering masks instead.
    Rows may come back with nothing to train on after truncation; callers filter."""
    if not renderer.marks_spans:
        texts = [renderer.render(messages) for messages in conversations]
        encs = tokenize(tokenizer, texts)
        masks = prefix_masks(tokenizer, renderer, conversations, [len(e) for e in encs], last_turn_only)
    else:
        rendered = [renderer.render_with_spans(messages) for messages in conversations]
        if last_turn_only:
            rendered = [(text, spans[-1:]) for text, spans in rendered]
        encs = tokenize(tokenizer, [text for text, _ in rendered])
        masks = [span_mask(enc, spans) for enc, (_, spans) in zip(encs, rendered)]
    out = []
    for enc, mask in zip(encs, masks):
        doc = Encoded(np.asarray(enc.ids, dtype=np.int32), mask)
        out.append(doc.truncated(max_len) if max_len else doc)
    return out


def prefix_masks(
    tokenizer: Any, renderer: ChatRenderer, conversations: list[list[dict]], lengths: list[int],
    last_turn_only: bool = False,
) -> list[np.ndarray]:
    """open-instruct `sft_tulu_tokenize_and_truncate_v1` (or `last_turn_...` when `last_turn_only`):
    each masked message spans from the token length of the conversation before it to that of the
    conversation through it (plus the generation prompt when an assistant turn follows). All prefix
    renders of the batch are tokenized in one call."""
    texts: list[str] = []
    ranges: list[tuple[int, int, int]] = []  # (conversation, start text or -1, end text)
    for c, messages in enumerate(conversations):
        for i, message in enumerate(messages):
            if (i == len(messages) - 1) if last_turn_only else message["role"] == "assistant":
                continue
            start = -1
            if i:
                texts.append(renderer.render(messages[:i]))
                start = len(texts) - 1
            follows = i + 1 < len(messages) and messages[i + 1]["role"] == "assistant"
            texts.append(renderer.render(messages[: i + 1], add_generation_prompt=follows))
            ranges.append((c, start, len(texts) - 1))
    counts = [len(enc) for enc in backend(tokenizer).encode_batch_fast(texts, add_special_tokens=False)]
    masks = [np.ones(n, dtype=bool) for n in lengths]
    for c, start, end in ranges:
        masks[c][(counts[start] if start >= 0 else 0):counts[end]] = False
    return masks


def encode_prompts(tokenizer: Any, renderer: ChatRenderer, prompts: list[list[dict]]) -> list[np.ndarray]:
    """Prompt ids with the generation prompt appended (RL rollouts, DPO prompt lengths)."""
    texts = [renderer.render(messages, add_generation_prompt=True) for messages in prompts]
    return [np.asarray(enc.ids, dtype=np.int32) for enc in tokenize(tokenizer, texts)]
