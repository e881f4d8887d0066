"""Micro-batches of preference pairs and the concatenated chosen+rejected forward pass.

open-instruct's `concatenated_forward`: chosen and rejected rows are right-padded to one length
and run through the model as a single (2B, T) batch, so one forward (and one ZeRO-3 parameter
gather) serves both halves. Rows 0..B-1 are the chosen responses, B..2B-1 the rejected ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from olmo3hpc.stages.dpo_loss import IGNORE_INDEX, SequenceLogps, target_logps


@dataclass(frozen=True)
class PairRows:
    """One tokenized preference pair (token ids and labels; IGNORE_INDEX marks prompt tokens)."""

    index: int
    """Row index in the mixed dataset (the reference cache is keyed by it)."""
    chosen_ids: Sequence[int]
    chosen_labels: Sequence[int]
    rejected_ids: Sequence[int]
    rejected_labels: Sequence[int]

    @property
    def tokens(self) -> int:
        return len(self.chosen_ids) + len(self.rejected_ids)


@dataclass(frozen=True)
class PairBatch:
    """A collated micro-batch: 2B padded rows (chosen first) plus the dataset indices of the pairs."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor
    indices: torch.Tensor
    """(B,) dataset row index of each pair."""

    @property
    def pairs(self) -> int:
        return int(self.indices.numel())

    @property
    def real_tokens(self) -> int:
        """Non-padding tokens (what throughput counts)."""
        return int(self.attention_mask.sum())


def collate_pairs(pairs: Sequence[PairRows], pad_id: int) -> PairBatch:
    """Right-pad chosen and rejected rows of `pairs` to the longest of them, chosen rows first."""
    if not pairs:
        raise ValueError("collate_pairs: empty micro-batch")
    rows = [(p.chosen_ids, p.chosen_labels) for p in pairs] + [(p.rejected_ids, p.rejected_labels) for p in pairs]
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (ids, labs) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
        labels[i, : len(labs)] = torch.as_tensor(labs, dtype=torch.long)
        mask[i, : len(ids)] = 1
    indices = torch.as_tensor([p.index for p in pairs], dtype=torch.long)
    return PairBatch(input_ids=input_ids, attention_mask=mask, labels=labels, indices=indices)


def concatenated_forward(model: torch.nn.Module, batch: PairBatch) -> tuple[SequenceLogps, SequenceLogps]:
    """Chosen and rejected log-probs from one forward pass over the concatenated batch.

    Logits are computed only at the positions where some row predicts a trained token (HF
    `logits_to_keep`): the prompt columns need no LM head or softmax over the vocabulary."""
    device = next(model.parameters()).device
    targets = batch.labels[:, 1:].to(device)  # position t predicts token t+1
    keep = (targets != IGNORE_INDEX).any(dim=0).nonzero().flatten()
    out = model(input_ids=batch.input_ids.to(device), attention_mask=batch.attention_mask.to(device), use_cache=False,
                logits_to_keep=keep)
    return target_logps(out.logits, targets[:, keep]).split(batch.pairs)
