"""DPO preference pairs (open-instruct `preference_tulu_tokenize_and_truncate_v1` + `preference_tulu_filter_v1`).

Rows hold `chosen` and `rejected` message lists that share the prompt and differ in the final assistant
turn. Each side is templated, only its final assistant turn is trained on (the shared prompt, earlier
turns included, is masked), both are truncated to `max_seq_length`, and pairs where either side has
no trainable token left are dropped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from olmo3hpc.data.encode import Encoded, encode_chats
from olmo3hpc.data.rows import message_problem
from olmo3hpc.data.templates import ChatRenderer

CHOSEN_KEY, REJECTED_KEY = "chosen", "rejected"


@dataclass(frozen=True)
class Pair:
    chosen: Encoded
    rejected: Encoded


def pair_problem(row: dict) -> str | None:
    """Why a preference row is malformed, or None."""
    for key in (CHOSEN_KEY, REJECTED_KEY):
        if problem := message_problem(row.get(key), key):
            return problem
        if row[key][-1]["role"] != "assistant":
            return f"bad pair: the last message of '{key}' must be an assistant turn"
    if row[CHOSEN_KEY][:-1] != row[REJECTED_KEY][:-1]:
        return "bad pair: 'chosen' and 'rejected' must share every message before the final assistant turn"
    return None


def encode_pairs(
    tokenizer: Any, renderer: ChatRenderer, rows: list[dict], max_len: int,
) -> list[Pair | None]:
    """Tokenize pairs; None where a side has nothing to train on after truncation (filtered)."""
    sides = [row[CHOSEN_KEY] for row in rows] + [row[REJECTED_KEY] for row in rows]
    encoded = encode_chats(tokenizer, renderer, sides, last_turn_only=True)
    out: list[Pair | None] = []
    for chosen, rejected in zip(encoded[: len(rows)], encoded[len(rows):]):
        chosen, rejected = chosen.truncated(max_len), rejected.truncated(max_len)
        out.append(Pair(chosen, rejected) if chosen.mask.any() and rejected.mask.any() else None)
    return out
