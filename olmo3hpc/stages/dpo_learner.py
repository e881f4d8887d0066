"""The DPO learner rank: a `Learner` (engine/learner.py) with a reference pass, a training step and eval.

Each rank memory-maps the tokenized pair cache itself; the driver only sends dataset row indices
(and the cached reference log-probs of those rows), so messages stay small at any scale. Under
ZeRO-3 every forward gathers parameters collectively, so all ranks must run the same number of
forwards: the driver pads short shards with `keep=False` micro-batches whose results are dropped.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import torch

from olmo3hpc.data.cache import TokenCache
from olmo3hpc.data.templates import set_chat_template
from olmo3hpc.engine.learner import Learner
from olmo3hpc.stages.dpo_batch import PairBatch, PairRows, collate_pairs, concatenated_forward
from olmo3hpc.stages.dpo_loss import IGNORE_INDEX, SequenceLogps, pair_sums, preference_loss
from olmo3hpc.stages.ref_logprobs import RefRows, rows_from


@dataclass(frozen=True)
class Micro:
    """One micro-batch as the driver sends it: which pairs, and their reference log-probs."""

    split: str
    """`train` or `eval` (which tokenized cache the indices refer to)."""
    indices: tuple[int, ...]
    keep: bool = True
    """False for a padding micro-batch that only keeps ZeRO-3 collectives in step."""
    ref: tuple[tuple[float, ...], ...] | None = None
    """(chosen total, chosen tokens, rejected total, rejected tokens) per pair; None without reference."""

    def reference(self, device: torch.device) -> tuple[SequenceLogps | None, SequenceLogps | None]:
        if self.ref is None:
            return None, None
        ct, cn, rt, rn = (torch.tensor(v, dtype=torch.float32, device=device) for v in self.ref)
        return SequenceLogps(ct, cn), SequenceLogps(rt, rn)


def pair_rows(cache: TokenCache, index: int) -> PairRows:
    """Pair `index` of a tokenized DPO cache with HF-style labels (IGNORE_INDEX on untrained tokens)."""
    sides = []
    for name in ("chosen", "rejected"):
        stream = cache.streams[name]
        ids = torch.from_numpy(stream.ids(index).astype("int64"))
        mask = torch.from_numpy(stream.mask(index).copy())
        sides += [ids, torch.where(mask, ids, torch.full_like(ids, IGNORE_INDEX))]
    return PairRows(index, *sides)


class DPOLearner(Learner):
    """Per-rank DPO logic; the driver (stages/dpo.py) calls these through LearnerGroup."""

    def after_setup(self) -> None:
        if self.run.model.chat_template != "tokenizer":
            set_chat_template(self.tokenizer, self.run.model.chat_template)  # exported with the model

    def open_data(self, paths: dict[str, str]) -> dict[str, int]:
        """Memory-map the tokenized caches (`train`, optionally `eval`); returns their sizes."""
        self.caches = {split: TokenCache(path) for split, path in paths.items()}
        return {split: len(cache) for split, cache in self.caches.items()}

    def _batch(self, micro: Micro) -> PairBatch:
        cache = self.caches[micro.split]
        return collate_pairs([pair_rows(cache, i) for i in micro.indices], pad_id=self.tokenizer.pad_token_id)

    @torch.no_grad()
    def reference_logps(self, micros: list[Micro]) -> RefRows:
        """Log-probs of the current (initial) policy on the pairs of `micros`, without gradients."""
        self.engine.eval()
        parts: list[RefRows] = []
        for micro in micros:
            batch = self._batch(micro)
            chosen, rejected = concatenated_forward(self.engine, batch)
            if micro.keep:
                parts.append(rows_from(batch.indices, chosen.detach(), rejected.detach()))
        self.engine.train()
        return RefRows(*(sum((getattr(p, f) for p in parts), []) for f in RefRows.__dataclass_fields__))

    def dpo_step(self, micros: list[Micro], pairs_per_rank: int, lr: float) -> dict[str, Any]:
        """One optimizer step at `lr` over this rank's micro-batches; the loss is the mean over the rank's
        pairs (DeepSpeed then averages gradients over ranks: the mean over the step's global batch)."""
        started, cpu = time.perf_counter(), time.process_time()
        self.set_lr(lr)
        self.engine.train()
        sums: Counter = Counter()
        grad_norm = None
        for micro in micros:
            batch = self._batch(micro)
            chosen, rejected = concatenated_forward(self.engine, batch)
            ref_chosen, ref_rejected = micro.reference(self.device)
            out = preference_loss(chosen, rejected, ref_chosen, ref_rejected, self.run.dpo)
            self.backward(out.losses.sum() / pairs_per_rank)
            grad_norm = self.optimizer_step()
            sums.update(pair_sums(out, chosen, rejected))
            sums["tokens"] += batch.real_tokens
        return {"sums": dict(sums), "grad_norm": grad_norm, "seconds": time.perf_counter() - started,
                "cpu_seconds": time.process_time() - cpu}

    @torch.no_grad()
    def evaluate(self, micros: list[Micro]) -> dict[str, float]:
        """Loss/reward sums of the current policy on held-out pairs."""
        self.engine.eval()
        sums: Counter = Counter()
        for micro in micros:
            chosen, rejected = concatenated_forward(self.engine, self._batch(micro))
            ref_chosen, ref_rejected = micro.reference(self.device)
            out = preference_loss(chosen, rejected, ref_chosen, ref_rejected, self.run.dpo)
            if micro.keep:
                sums.update(pair_sums(out, chosen, rejected))
        self.engine.train()
        return dict(sums)
