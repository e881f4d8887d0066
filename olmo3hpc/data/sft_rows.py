"""SFT training rows over a memory-mapped cache: packed (best-fit decreasing into `max_seq_length`
rows) or one document per row (the unpacked layout the packing-invariance tests compare against).

    rows = SFTRows.from_run(run, tokenizer)          # builds/opens the cache
    order = TrainOrder(len(rows), global_batch_rows, run.train.epochs, run.data.shuffle_seed)  # engine.order
    batch = rows.batch(order.step_items(step))       # numpy input_ids/labels/position_ids [B, seq_len]
    batch = collate([rows[i] for i in items], rows.pad_id)   # torch, + cu_seqlens for flash-attn varlen
"""

from __future__ import annotations

from typing import Any

import numpy as np

from olmo3hpc.data.cache import TokenCache, open_cache
from olmo3hpc.data.packing import PackedRow, assemble, best_fit_decreasing, efficiency

BATCH_KEYS = ("input_ids", "labels", "position_ids")
"""What `SFTRows.batch` holds: the trainer's inputs (positions restart per document and on the pad tail)."""


class SFTRows:
    def __init__(self, cache: TokenCache, seq_len: int, pad_id: int, packing: bool = True, seed: int = 0) -> None:
        if cache.stage != "sft":
            raise ValueError(f"{cache.path}: a {cache.stage} cache, not SFT documents")
        self.docs = cache.streams["doc"]
        self.seq_len, self.pad_id, self.packing = seq_len, pad_id, packing
        lengths = self.docs.lengths
        if len(lengths) and lengths.max() > seq_len:
            raise ValueError(f"{cache.path}: documents up to {lengths.max()} tokens > row length {seq_len}")
        if packing:
            tie_order = np.random.default_rng(seed).permutation(len(lengths))
            self.bins = best_fit_decreasing(lengths, seq_len, order=tie_order)
        else:
            self.bins = [[i] for i in range(len(lengths))]

    @classmethod
    def from_run(cls, run: Any, tokenizer: Any = None, which: str = "train") -> "SFTRows":
        cache = open_cache(run, tokenizer, which)
        return cls(cache, run.data.max_seq_length, cache.meta["pad_token_id"], run.data.packing,
                   run.data.shuffle_seed)

    def __len__(self) -> int:
        return len(self.bins)

    def __getitem__(self, index: int) -> PackedRow:
        return self._row(index, self.seq_len if self.packing else 0)

    def _row(self, index: int, length: int) -> PackedRow:
        """Row `index` right-padded to `length` (0: its own length)."""
        docs = [(self.docs.ids(d), self.docs.mask(d)) for d in self.bins[index]]
        return assemble(docs, length or sum(len(ids) for ids, _ in docs), self.pad_id)

    def batch(self, items: np.ndarray) -> dict[str, np.ndarray]:
        """BATCH_KEYS arrays [len(items), seq_len] (int64) of rows `items`, each padded to seq_len: the
        fixed shape every rank and micro-batch trains on, packed or not."""
        rows = [self._row(int(i), self.seq_len) for i in items]
        return {key: np.stack([getattr(row, key) for row in rows]) for key in BATCH_KEYS}

    def describe(self) -> str:
        fill = self.docs.num_tokens / (len(self) * self.seq_len) if len(self) else 0.0
        layout = "packed" if self.packing else "one per row"
        return f"{len(self.docs)} conversations -> {len(self)} rows of {self.seq_len} ({layout}, {fill:.1%} filled)"

    @property
    def efficiency(self) -> float:
        """Non-pad tokens / row tokens (1.0 unpacked: rows are not padded until collation)."""
        if not self.packing:
            return 1.0
        return efficiency(self.docs.lengths, self.bins, self.seq_len)

    @property
    def num_tokens(self) -> int:
        return self.docs.num_tokens

    @property
    def num_label_tokens(self) -> int:
        return self.docs.num_label_tokens()
