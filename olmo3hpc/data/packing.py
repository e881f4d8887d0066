"""Packing documents into fixed-length rows (OLMo-core SFT semantics) and collating rows into batches.

`best_fit_decreasing` is the optimized BFD bin packing OLMo-core uses: documents by decreasing length,
each into the open row with the least room that still fits it (a capacity-indexed count tree finds it
in O(log L)). `greedy_in_order` is the baseline (fill rows in data order, open a new one when the next
document does not fit; what open-instruct's RL packer does).

A packed row carries exactly what the trainer needs: `input_ids`, `labels` (aligned with input_ids,
HF convention: the loss shifts them; -100 on prompt, padding, and every document's first token so no
target is predicted across a document boundary), `position_ids` (restart at 0 per document),
`doc_ids` (0.. per document, -1 on padding; pad positions count 0.. as one segment) and `doc_lens`
(real documents, in row order; the pad tail is not a document). Build attention from `doc_ids` or
`doc_lens`: no token may attend across documents.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from olmo3hpc.data.encode import IGNORE_INDEX


def greedy_in_order(lengths: np.ndarray, capacity: int) -> list[list[int]]:
    """Bins of document indices, filled in order."""
    bins: list[list[int]] = []
    room = 0
    for doc, length in enumerate(lengths.tolist()):
        if length > capacity:
            raise ValueError(f"document {doc} has {length} tokens > row length {capacity}")
        if not bins or length > room:
            bins.append([])
            room = capacity
        bins[-1].append(doc)
        room -= length
    return bins


def _first_at_least(tree: list[int], size: int, low: int) -> int:
    """Smallest leaf index >= low with a non-zero count, or -1."""
    i = low + size
    if tree[i]:
        return low
    while i > 1:
        if not i & 1 and tree[i + 1]:
            i += 1
            break
        i >>= 1
    else:
        return -1
    while i < size:
        i = 2 * i if tree[2 * i] else 2 * i + 1
    return i - size


def _add(tree: list[int], size: int, leaf: int, delta: int) -> None:
    i = leaf + size
    while i:
        tree[i] += delta
        i >>= 1


def best_fit_decreasing(lengths: np.ndarray, capacity: int, order: np.ndarray | None = None) -> list[list[int]]:
    """Bins of document indices. `order` (a permutation) breaks ties between equal lengths."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) and lengths.max() > capacity:
        raise ValueError(f"a document has {int(lengths.max())} tokens > row length {capacity}")
    order = np.arange(len(lengths)) if order is None else np.asarray(order)
    by_length = order[np.argsort(-lengths[order], kind="stable")]
    size = 1 << capacity.bit_length()
    tree = [0] * (2 * size)
    open_bins: list[list[int]] = [[] for _ in range(capacity + 1)]  # room -> bins with that room
    bins: list[list[int]] = []
    for doc, need in zip(by_length.tolist(), lengths[by_length].tolist()):
        room = _first_at_least(tree, size, need)
        if room < 0:
            target, left = len(bins), capacity - need
            bins.append([doc])
        else:
            target, left = open_bins[room].pop(), room - need
            _add(tree, size, room, -1)
            bins[target].append(doc)
        if left > 0:
            open_bins[left].append(target)
            _add(tree, size, left, 1)
    return bins


def efficiency(lengths: np.ndarray, bins: list[list[int]], capacity: int) -> float:
    """Non-pad tokens / all tokens of the packed rows."""
    return float(np.sum(lengths)) / (len(bins) * capacity) if bins else 0.0


@dataclass(frozen=True)
class PackedRow:
    input_ids: np.ndarray
    labels: np.ndarray
    position_ids: np.ndarray
    doc_ids: np.ndarray
    doc_lens: tuple[int, ...]


def assemble(docs: list[tuple[np.ndarray, np.ndarray]], length: int, pad_id: int) -> PackedRow:
    """One row from (ids, mask) documents, right-padded to `length`."""
    input_ids = np.full(length, pad_id, dtype=np.int64)
    labels = np.full(length, IGNORE_INDEX, dtype=np.int64)
    position_ids = np.zeros(length, dtype=np.int64)
    doc_ids = np.full(length, -1, dtype=np.int64)
    pos = 0
    for index, (ids, mask) in enumerate(docs):
        n, ids = len(ids), np.asarray(ids, dtype=np.int64)
        if pos + n > length:
            raise ValueError(f"documents hold {pos + n} tokens > row length {length}")
        input_ids[pos:pos + n] = ids
        labels[pos:pos + n] = np.where(mask, ids, IGNORE_INDEX)
        labels[pos] = IGNORE_INDEX
        position_ids[pos:pos + n] = np.arange(n)
        doc_ids[pos:pos + n] = index
        pos += n
    position_ids[pos:] = np.arange(length - pos)  # the pad tail is one segment of its own
    return PackedRow(input_ids, labels, position_ids, doc_ids, tuple(len(ids) for ids, _ in docs))


def collate(rows: list[PackedRow], pad_id: int, length: int = 0) -> dict:
    """Torch batch of rows padded to `length` (0 = the longest row): input_ids, labels, position_ids,
    doc_ids [B, T] (int64), plus `cu_seqlens` (int32) and `max_seqlen` over the flattened batch for
    flash-attn varlen, where each document and each pad tail is its own segment."""
    import torch

    width = max(length, max(len(r.input_ids) for r in rows))
    out = {name: np.full((len(rows), width), fill, dtype=np.int64) for name, fill in
           (("input_ids", pad_id), ("labels", IGNORE_INDEX), ("position_ids", 0), ("doc_ids", -1))}
    segments: list[int] = []
    for b, row in enumerate(rows):
        n = len(row.input_ids)
        for name in out:
            out[name][b, :n] = getattr(row, name)
        segments.extend(row.doc_lens)
        tail = width - sum(row.doc_lens)
        if tail:
            segments.append(tail)
            out["position_ids"][b, width - tail:] = np.arange(tail)
    batch = {name: torch.from_numpy(value) for name, value in out.items()}
    batch["cu_seqlens"] = torch.tensor(np.concatenate([[0], np.cumsum(segments)]), dtype=torch.int32)
    batch["max_seqlen"] = int(max(segments))
    return batch
