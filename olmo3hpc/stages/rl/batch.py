"""Turn scored samples into packed learner rows (open-instruct rl_utils.pack_sequences semantics).

Each query+response is appended, in order, to the current row of `pack_length` tokens; a new row
opens when the next sample does not fit. Per token a row carries its position, restarting at 0 per
sequence (transformers derives a block-diagonal causal mask from that, so sequences never attend to
each other; flash-attn uses it for varlen; the model must run without a KV cache), the response
mask (prompt tokens are masked out), the engine's log-prob of the token and the sample's advantage.
Rows are then dealt out evenly to the learners; a learner short of rows gets an all-masked dummy row
(open-instruct `allow_world_padding`) so every rank runs the same number of micro-batches, which
ZeRO-3 collectives need.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

Row = dict[str, torch.Tensor]
"""One packed row: 1-D tensors under ROW_KEYS."""
ROW_KEYS = ("input_ids", "position_ids", "mask", "logp_engine", "advantages")


@dataclass(frozen=True)
class Sample:
    """One completion, ready to train on."""

    query: list[int]
    response: list[int]
    logprobs: list[float]
    """Engine log-prob of each response token."""
    advantage: float


def pack(samples: list[Sample], pack_length: int) -> list[Row]:
    """Greedy in-order packing into rows of at most pack_length tokens."""
    rows: list[list[Sample]] = []
    used = pack_length + 1
    for sample in samples:
        size = len(sample.query) + len(sample.response)
        if size > pack_length:
            raise ValueError(f"a sample of {size} tokens exceeds rl.pack_length {pack_length}")
        if used + size > pack_length:
            rows.append([])
            used = 0
        rows[-1].append(sample)
        used += size
    return [_row(group) for group in rows]


def _row(samples: list[Sample]) -> Row:
    ids: list[int] = []
    pos: list[int] = []
    mask: list[bool] = []
    logp: list[float] = []
    adv: list[float] = []
    for n, s in enumerate(samples, start=1):
        if len(s.logprobs) != len(s.response):
            raise ValueError(f"sample {n}: {len(s.logprobs)} engine log-probs for {len(s.response)} response tokens")
        length = len(s.query) + len(s.response)
        ids += s.query + s.response
        pos += list(range(length))
        mask += [False] * len(s.query) + [True] * len(s.response)
        logp += [0.0] * len(s.query) + list(s.logprobs)
        adv += [0.0] * len(s.query) + [s.advantage] * len(s.response)
    return {
        "input_ids": torch.tensor(ids, dtype=torch.long),
        "position_ids": torch.tensor(pos, dtype=torch.long),
        "mask": torch.tensor(mask, dtype=torch.bool),
        "logp_engine": torch.tensor(logp, dtype=torch.float32),
        "advantages": torch.tensor(adv, dtype=torch.float32),
    }


def dummy_row(pad_id: int) -> Row:
    """A one-token row that contributes nothing to the loss (world padding)."""
    return {
        "input_ids": torch.tensor([pad_id]),
        "position_ids": torch.tensor([0]),
        "mask": torch.tensor([False]),
        "logp_engine": torch.tensor([0.0]),
        "advantages": torch.tensor([0.0]),
    }


def split_for_learners(rows: list[Row], world: int, pad_id: int) -> list[list[Row]]:
    """Deal rows round-robin to `world` learners, padding with dummy rows to equal counts."""
    shards: list[list[Row]] = [[] for _ in range(world)]
    for i, row in enumerate(rows):
        shards[i % world].append(row)
    longest = max(1, max(len(s) for s in shards))
    for shard in shards:
        shard.extend(dummy_row(pad_id) for _ in range(longest - len(shard)))
    return shards


def collate(rows: list[Row], pad_id: int) -> Row:
    """Stack rows into a [B, T] micro-batch, right-padding with masked tokens at position 0
    (each padding token is then a sequence of its own)."""
    width = max(len(r["input_ids"]) for r in rows)
    fill = {"input_ids": pad_id, "position_ids": 0, "mask": False, "logp_engine": 0.0, "advantages": 0.0}
    out = {}
    for key in ROW_KEYS:
        padded = [torch.nn.functional.pad(r[key], (0, width - len(r[key])), value=fill[key]) for r in rows]
        out[key] = torch.stack(padded)
    return out


def micro_batches(rows: list[Row], size: int, pad_id: int) -> list[Row]:
    """Consecutive groups of `size` rows, each collated."""
    return [collate(rows[i : i + size], pad_id) for i in range(0, len(rows), size)]

