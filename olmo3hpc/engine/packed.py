"""Packed rows -> next-token targets and summed token losses (shared by SFT, DPO and RL learners).

A batch is a dict of equal-shape [rows, seq] integer arrays:
    input_ids      token ids (padding included)
    labels         the token to learn at that position, or IGNORE (-100) for prompt/padding
    position_ids   restart at 0 at every packed document, so attention never crosses documents
                   (transformers builds block-diagonal causal masks from them with sdpa/eager on CPU,
                   and flash-attn varlen on GPU; the model is called with attention_mask=None and
                   use_cache=False -- with a KV cache transformers silently ignores the packing)

API:
    next_token_targets(labels, position_ids) -> targets aligned with logits (the first token of each
        document is never predicted from the previous document's last token)
    summed_nll(logits, targets) -> (sum of token NLL, number of target tokens)
    target_columns(targets) -> sequence positions where any row has a target: the only logits the loss
        needs (HF `logits_to_keep`; SFT labels are a small share of the tokens, so most of the LM head's
        matmul and softmax over the vocabulary is skipped without changing the loss)
    split_rows(batch, parts) -> list of `parts` consecutive row slices (ranks, micro-batches)
    count_label_targets(batch) -> number of targets (the SFT loss denominator)
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

IGNORE = -100


def next_token_targets(labels: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
    """targets[:, t] = labels[:, t+1], except where t+1 starts a new document; last column IGNORE."""
    targets = torch.full_like(labels, IGNORE)
    nxt = labels[:, 1:]
    crosses = position_ids[:, 1:] == 0
    targets[:, :-1] = torch.where(crosses, torch.full_like(nxt, IGNORE), nxt)
    return targets


def target_columns(targets: torch.Tensor) -> torch.Tensor:
    """1-D indices of the sequence positions where any row has a non-IGNORE target."""
    return (targets != IGNORE).any(dim=0).nonzero().flatten()


def summed_nll(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Sum of next-token cross-entropy over non-IGNORE targets (fp32), and their count."""
    flat = logits.reshape(-1, logits.shape[-1]).float()
    loss = F.cross_entropy(flat, targets.reshape(-1), ignore_index=IGNORE, reduction="sum")
    return loss, int((targets != IGNORE).sum())


def split_rows(batch: dict[str, Any], parts: int) -> list[dict[str, Any]]:
    rows = len(next(iter(batch.values())))
    if rows % parts:
        raise ValueError(f"split_rows: {rows} rows do not split into {parts} equal parts")
    size = rows // parts
    return [{k: v[i * size:(i + 1) * size] for k, v in batch.items()} for i in range(parts)]


def count_label_targets(batch: dict[str, Any]) -> int:
    """Target tokens of a numpy/torch batch (what the loss is normalized by)."""
    # torch.as_tensor keeps a CUDA tensor where it is (np.asarray would fail on one).
    labels = torch.as_tensor(batch["labels"])
    positions = torch.as_tensor(batch["position_ids"])
    return int((next_token_targets(labels, positions) != IGNORE).sum())
