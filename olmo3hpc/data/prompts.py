"""RL prompts (open-instruct `rlvr_tokenize_v1` -> `rlvr_tokenize_v3` + `rlvr_max_length_filter_v1`).

A row holds `messages` (a trailing assistant turn -- the reference answer -- is dropped when there is
more than one message), the verifier label (`data.ground_truths_key`, a string or list) and `dataset`
(the verifier name or list). The prompt is templated with the generation prompt; prompts longer than
`rollout.max_prompt_length` tokens are dropped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from olmo3hpc.data.encode import encode_prompts
from olmo3hpc.data.rows import message_problem
from olmo3hpc.data.templates import ChatRenderer

DATASET_KEY = "dataset"


@dataclass(frozen=True)
class Prompt:
    """One RL prompt: token ids (with the generation prompt), verifier labels and names (lists of
    equal length), and the flattened "role: content" text an LLM judge sees."""

    ids: np.ndarray
    ground_truth: list
    dataset: list[str]
    raw_prompt: str


def prompt_messages(messages: list[dict]) -> list[dict]:
    """The conversation the policy answers: without a trailing assistant turn."""
    if len(messages) > 1 and messages[-1]["role"] == "assistant":
        return messages[:-1]
    return messages


def prompt_problem(row: dict, messages_key: str, ground_truths_key: str) -> str | None:
    """Why an RL row is malformed, or None."""
    if problem := message_problem(row.get(messages_key), messages_key):
        return problem
    if prompt_messages(row[messages_key])[-1]["role"] == "assistant":
        return f"bad prompt: '{messages_key}' holds only an assistant turn"
    for key in (ground_truths_key, DATASET_KEY):
        if row.get(key) is None:
            return f"missing key: '{key}'"
    truths, names = _as_list(row[ground_truths_key]), _as_list(row[DATASET_KEY])
    if len(truths) != len(names):
        return f"bad labels: {len(truths)} ground truths for {len(names)} verifiers in '{DATASET_KEY}'"
    if not all(isinstance(n, str) and n for n in names):
        return f"bad labels: '{DATASET_KEY}' must name verifiers as non-empty strings"
    return None


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def raw_prompt(messages: list[dict]) -> str:
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages)


def encode_prompt_rows(
    tokenizer: Any, renderer: ChatRenderer, rows: list[dict], messages_key: str, ground_truths_key: str,
    max_prompt_length: int,
) -> list[Prompt | None]:
    """Prompts of valid rows; None where the prompt is longer than `max_prompt_length` (filtered)."""
    messages = [prompt_messages(row[messages_key]) for row in rows]
    pad = tokenizer.pad_token_id
    out: list[Prompt | None] = []
    for row, msgs, ids in zip(rows, messages, encode_prompts(tokenizer, renderer, messages)):
        if pad is not None:
            ids = ids[ids != pad]  # open-instruct strips pad ids a template may emit
        if max_prompt_length and len(ids) > max_prompt_length:
            out.append(None)
            continue
        out.append(Prompt(ids, _as_list(row[ground_truths_key]), _as_list(row[DATASET_KEY]), raw_prompt(msgs)))
    return out
