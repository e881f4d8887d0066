"""Reference log-probs: computed once with the initial policy, cached on disk, reused after restarts.

dpo_tune_cache semantics: before the first optimizer step the initial policy runs over the whole
training set (seeded order, no grad) and the chosen/rejected log-probs of every pair are kept; no
reference model stays in memory while training. Here the table is indexed by the pair's row in the
mixed dataset, so unlike open-instruct's per-rank cache it does not depend on world size or rank.

Cache file: `<data cache dir>/ref_logps/<key>.pt`, key = hash of (tokenized-data cache key, initial
model, chat template, dtype). The data key (olmo3hpc.data.cache) already covers the mix, template,
tokenizer and truncation; the model part covers the init weights' identity. It is written atomically
(olmo3hpc.atomic.staged_file) so a preempted pass never leaves a half table that a restart would trust.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from olmo3hpc.atomic import staged_file
from olmo3hpc.config import DPORun
from olmo3hpc.stages.dpo_loss import SequenceLogps

_VERSION = 1  # bump when the stored quantities change meaning


@dataclass(frozen=True)
class RefTable:
    """Reference log-probs of every pair, indexed by dataset row."""

    chosen: torch.Tensor
    """(N,) summed log-probs of the chosen response tokens (float64)."""
    rejected: torch.Tensor
    chosen_tokens: torch.Tensor
    """(N,) label-token counts (so dpo_norm can average)."""
    rejected_tokens: torch.Tensor

    @property
    def size(self) -> int:
        return int(self.chosen.numel())

    def lookup(self, indices: torch.Tensor) -> tuple[SequenceLogps, SequenceLogps]:
        idx = indices.long().cpu()
        return (
            SequenceLogps(self.chosen[idx].float(), self.chosen_tokens[idx].float()),
            SequenceLogps(self.rejected[idx].float(), self.rejected_tokens[idx].float()),
        )


@dataclass(frozen=True)
class RefRows:
    """Reference log-probs of some pairs (what one learner returns for its share of a pass)."""

    indices: list[int]
    chosen: list[float]
    rejected: list[float]
    chosen_tokens: list[float]
    rejected_tokens: list[float]


def rows_from(indices: torch.Tensor, chosen: SequenceLogps, rejected: SequenceLogps) -> RefRows:
    """Plain-Python rows (cheap to send from a learner actor to the driver)."""
    return RefRows(
        indices=[int(i) for i in indices.tolist()],
        chosen=chosen.total.double().tolist(), rejected=rejected.total.double().tolist(),
        chosen_tokens=chosen.tokens.tolist(), rejected_tokens=rejected.tokens.tolist(),
    )


def assemble(parts: Iterable[RefRows], size: int, covered: torch.Tensor | None = None) -> RefTable:
    """One table from the learners' rows; `covered` pairs (default: all) must appear exactly once,
    the others (beyond a max_train_samples cap) stay NaN."""
    table = {k: torch.full((size,), float("nan"), dtype=torch.float64) for k in
             ("chosen", "rejected", "chosen_tokens", "rejected_tokens")}
    seen = torch.zeros(size, dtype=torch.long)
    for part in parts:
        idx = torch.as_tensor(part.indices, dtype=torch.long)
        seen.index_add_(0, idx, torch.ones_like(idx))
        for name in table:
            table[name][idx] = torch.as_tensor(getattr(part, name), dtype=torch.float64)
    wanted = torch.ones(size, dtype=torch.bool) if covered is None else torch.zeros(size, dtype=torch.bool)
    if covered is not None:
        wanted[covered.long()] = True
    missing = ((seen == 0) & wanted).nonzero().flatten()
    doubled = ((seen > 1) | ((seen > 0) & ~wanted)).nonzero().flatten()
    if missing.numel() or doubled.numel():
        raise RuntimeError(
            f"reference pass covered pairs wrongly: {missing.numel()} missing (first {missing[:5].tolist()}), "
            f"{doubled.numel()} computed twice or outside the covered set (first {doubled[:5].tolist()})"
        )
    return RefTable(**table)


def model_fingerprint(run: DPORun) -> dict[str, object]:
    """What identifies the initial weights: random models by seed, local dirs by weight-file stats,
    hub models by id + revision (a re-run upstream recipe changes its files, hence its stats)."""
    from olmo3hpc.engine.modelfactory import resolve_init

    m = run.model
    ident: dict[str, object] = {"init": m.init, "dtype": m.dtype, "tokenizer": m.tokenizer,
                                "template": m.chat_template}
    if m.init.startswith("random:"):
        ident["seed"] = run.meta.seed
        return ident
    path = Path(resolve_init(m, run.meta.output_root))
    if path.is_dir():
        ident["files"] = sorted(
            (f.name, f.stat().st_size, f.stat().st_mtime_ns)
            for f in path.iterdir() if f.suffix in (".safetensors", ".bin", ".json")
        )
    else:
        ident["revision"] = m.revision
    return ident


def cache_key(run: DPORun, data_key: str) -> str:
    """Key of the table for the tokenized data cache `data_key` (which already hashes the mix, template,
    tokenizer and truncation) and the initial model; a pair cap makes the covered subset seed-dependent."""
    covered = [run.meta.seed, run.dpo.max_train_samples] if run.dpo.max_train_samples else "all"
    blob = json.dumps({"v": _VERSION, "data": data_key, "covered": covered, "model": model_fingerprint(run)},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_path(run: DPORun, key: str) -> Path:
    root = Path(run.data.cache_dir) if run.data.cache_dir else Path(run.meta.output_root) / "cache"
    return root / "ref_logps" / f"{key}.pt"


def load(path: Path, size: int) -> RefTable | None:
    """The cached table, or None when absent; a table of the wrong size is an error (key collision)."""
    if not path.is_file():
        return None
    data = torch.load(path, map_location="cpu", weights_only=True)
    table = RefTable(**{k: data[k] for k in ("chosen", "rejected", "chosen_tokens", "rejected_tokens")})
    if table.size != size:
        raise RuntimeError(f"{path}: reference cache holds {table.size} pairs, the data has {size}; delete it")
    return table


def save(path: Path, table: RefTable) -> Path:
    with staged_file(path) as tmp:
        torch.save({k: getattr(table, k) for k in ("chosen", "rejected", "chosen_tokens", "rejected_tokens")}, tmp)
    return path
