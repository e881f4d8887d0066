"""Tokenized-data cache: read + check + mix + tokenize once (a CPU-only job can do it before the GPU
job), then every rank memory-maps the result.

The directory is `<data.cache_dir or meta.output_root/cache>/<key>/`, where the key hashes the dataset
spec (names, amounts, splits, file fingerprints or hub commits, seed, keys, lengths, malformed policy),
the tokenizer (its serialized vocabulary and special tokens), the template source and CODE_VERSION.
Contents by stage (see `ragged.py` for the array layout): sft `doc.*`; dpo `chosen.*` + `rejected.*`;
rl `prompt.*` + `prompts.jsonl` (ground_truth, dataset, raw_prompt per prompt); always `meta.json`
(spec, statistics, malformed-row summary). A build goes to a temporary directory renamed into place
under a file lock, so concurrent builders (ranks, a pre-tokenization job) never see half a cache.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import hashlib
import json
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from olmo3hpc.data.encode import encode_chats
from olmo3hpc.data.mixer import MixPart, load_mix, mix_pairs
from olmo3hpc.data.preference import encode_pairs, pair_problem
from olmo3hpc.data.prompts import encode_prompt_rows, prompt_problem
from olmo3hpc.data.ragged import RaggedArray, RaggedWriter
from olmo3hpc.data.rows import DataError, MalformedLog, sft_problem
from olmo3hpc.data.sources import fingerprint
from olmo3hpc.data.templates import ChatRenderer

CODE_VERSION = "1"
"""Bump when tokenization or masking semantics change, so old caches are not reused."""
STREAMS = {"sft": ("doc",), "dpo": ("chosen", "rejected"), "rl": ("prompt",)}
CHUNK_ROWS = 256
PROGRESS_ROWS = 100_000


@dataclass(frozen=True)
class EncodeJob:
    """What a tokenizer worker needs besides the rows (picklable, small)."""

    stage: str
    messages_key: str
    ground_truths_key: str
    max_len: int

    def check(self, row: dict) -> str | None:
        if self.stage == "dpo":
            return pair_problem(row)
        if self.stage == "rl":
            return prompt_problem(row, self.messages_key, self.ground_truths_key)
        return sft_problem(row.get(self.messages_key), self.messages_key)


def encode_rows(tokenizer: Any, renderer: ChatRenderer, job: EncodeJob, rows: list[dict]) -> list:
    """Per row: the stage's encoded item, or None when filtered (no labels / prompt too long)."""
    if job.stage == "dpo":
        return encode_pairs(tokenizer, renderer, rows, job.max_len)
    if job.stage == "rl":
        return encode_prompt_rows(
            tokenizer, renderer, rows, job.messages_key, job.ground_truths_key, job.max_len
        )
    docs = encode_chats(tokenizer, renderer, [row[job.messages_key] for row in rows], job.max_len)
    return [doc if doc.mask.any() else None for doc in docs]


def _job(run: Any) -> EncodeJob:
    max_len = run.rollout.max_prompt_length if run.stage == "rl" else run.data.max_seq_length
    return EncodeJob(run.stage, run.data.messages_key, run.data.ground_truths_key, max_len)


def _mix(run: Any, which: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    data = run.data
    if which == "eval":
        if not data.eval_mixer_list:
            raise DataError("data.eval_mixer_list: empty, so there is no eval data to tokenize")
        return data.eval_mixer_list, data.eval_mixer_list_splits
    if which != "train":
        raise ValueError(f"which: 'train' or 'eval', got {which!r}")
    return data.mixer_list, data.mixer_list_splits


def tokenizer_fingerprint(tokenizer: Any) -> str:
    from olmo3hpc.data.encode import backend

    blob = backend(tokenizer).to_str() + repr((tokenizer.eos_token, tokenizer.pad_token, tokenizer.bos_token))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_spec(run: Any, tokenizer: Any, which: str = "train") -> dict:
    """Everything the cached arrays depend on (hashed into the key, stored in meta.json)."""
    mixer_list, splits = _mix(run, which)
    renderer = ChatRenderer.for_tokenizer(tokenizer, run.model.chat_template)
    return {
        "job": vars(_job(run)),
        "mix": [[name, amount, split, fingerprint(name, split)]
                for name, amount, split in mix_pairs(mixer_list, splits)],
        "mix_seed": run.data.mix_seed,
        "skip_malformed": run.data.skip_malformed,
        "chat_template": run.model.chat_template,
        "template_sha": hashlib.sha256(renderer.source.encode()).hexdigest()[:16],
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "code_version": CODE_VERSION,
    }


def cache_key(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def cache_root(run: Any) -> Path:
    return Path(run.data.cache_dir or Path(run.meta.output_root) / "cache")


def _default_tokenizer(run: Any) -> Any:
    from olmo3hpc.engine.modelfactory import load_tokenizer  # lazy: only the standalone path needs it

    return load_tokenizer(run.model, run.meta.output_root)


def build_cache(run: Any, tokenizer: Any = None, which: str = "train") -> Path:
    """Directory of the run's tokenized data, building it when missing (idempotent, safe to race)."""
    tokenizer = tokenizer if tokenizer is not None else _default_tokenizer(run)
    spec = cache_spec(run, tokenizer, which)
    root = cache_root(run)
    final = root / cache_key(spec)
    if (final / "meta.json").exists():
        return final
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{final.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / "meta.json").exists():
            tmp = root / f"{final.name}.tmp-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            try:
                _build(run, tokenizer, spec, tmp, which)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            os.replace(tmp, final)
    return final


def _chunks(parts: list[MixPart]) -> Iterator[tuple[int, list[dict]]]:
    for index, part in enumerate(parts):
        for start in range(0, len(part.rows), CHUNK_ROWS):
            yield index, [row.data for row in part.rows[start:start + CHUNK_ROWS]]


_WORKER: dict[str, Any] = {}


def _worker_init(tokenizer: Any, renderer: ChatRenderer, job: EncodeJob) -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one process per core already
    _WORKER.update(tokenizer=tokenizer, renderer=renderer, job=job)


def _worker_encode(item: tuple[int, list[dict]]) -> tuple[int, int, list]:
    index, rows = item
    return index, len(rows), encode_rows(_WORKER["tokenizer"], _WORKER["renderer"], _WORKER["job"], rows)


def encoded_stream(
    tokenizer: Any, renderer: ChatRenderer, job: EncodeJob, parts: list[MixPart], workers: int,
) -> Iterator[tuple[int, int, list]]:
    """(part index, rows in chunk, encoded items) per chunk, in mix order; `workers` > 1 forks a pool.

    In-process, two threads take turns: Rust tokenizes one chunk on every core (without the GIL)
    while Python renders the next, so neither waits for the other."""
    if workers <= 1 or sum(len(p.rows) for p in parts) <= CHUNK_ROWS:
        with ThreadPoolExecutor(2) as threads:
            pending: collections.deque = collections.deque()
            for index, rows in _chunks(parts):
                pending.append((index, len(rows), threads.submit(encode_rows, tokenizer, renderer, job, rows)))
                if len(pending) > 2:
                    index, count, future = pending.popleft()
                    yield index, count, future.result()
            for index, count, future in pending:
                yield index, count, future.result()
        return
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_worker_init, initargs=(tokenizer, renderer, job)) as pool:
        yield from pool.imap(_worker_encode, _chunks(parts))


def _build(run: Any, tokenizer: Any, spec: dict, out: Path, which: str) -> None:
    started = time.time()
    job = _job(run)
    renderer = ChatRenderer.for_tokenizer(tokenizer, run.model.chat_template)
    log = MalformedLog(skip=run.data.skip_malformed)
    mixer_list, splits = _mix(run, which)
    parts = load_mix(mixer_list, splits, job.check, log, seed=run.data.mix_seed)
    stats = [_part_stats(p) for p in parts]
    total, done = sum(len(p.rows) for p in parts), 0
    with contextlib.ExitStack() as stack:
        side = stack.enter_context(open(out / "prompts.jsonl", "w")) if job.stage == "rl" else None
        writers = {name: RaggedWriter(out, name, with_mask=job.stage != "rl") for name in STREAMS[job.stage]}
        for index, count, items in encoded_stream(tokenizer, renderer, job, parts, run.data.num_workers):
            kept = [item for item in items if item is not None]
            stats[index]["filtered"] += count - len(kept)
            stats[index]["kept"] += len(kept)
            for item in kept:
                _write_item(job.stage, item, writers, side, stats[index])
            done += count
            if done // PROGRESS_ROWS > (done - count) // PROGRESS_ROWS:
                print(f"data cache: tokenized {done}/{total} rows ({time.time() - started:.0f} s)", flush=True)
        for writer in writers.values():
            writer.close()
    if not sum(s["kept"] for s in stats):
        raise DataError(f"data.mixer_list: no rows left after filtering (too long for max length?): {stats}")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    meta = {"spec": spec, "stage": job.stage, "which": which, "datasets": stats, "pad_token_id": pad_id,
            "eos_token_id": tokenizer.eos_token_id,
            "malformed": log.summary(), "build_seconds": round(time.time() - started, 2)}
    (out / "meta.json").write_text(json.dumps(meta, indent=2))


def _part_stats(part: MixPart) -> dict:
    return {"name": part.name, "split": part.split, "amount": part.amount, "valid_rows": part.valid_rows,
            "selected": len(part.rows), "kept": 0, "filtered": 0, "tokens": 0, "label_tokens": 0}


def _write_item(stage: str, item: Any, writers: dict, side: Any, stats: dict) -> None:
    if stage == "sft":
        writers["doc"].append(item.ids, item.mask)
        stats["tokens"] += len(item.ids)
        stats["label_tokens"] += int(item.mask.sum())
    elif stage == "dpo":
        for name, enc in (("chosen", item.chosen), ("rejected", item.rejected)):
            writers[name].append(enc.ids, enc.mask)
            stats["tokens"] += len(enc.ids)
            stats["label_tokens"] += int(enc.mask.sum())
    else:
        writers["prompt"].append(item.ids)
        stats["tokens"] += len(item.ids)
        side.write(json.dumps({"ground_truth": item.ground_truth, "dataset": item.dataset,
                               "raw_prompt": item.raw_prompt}) + "\n")


class TokenCache:
    """A built cache opened read-only: `streams[name]` are memory-mapped RaggedArrays, `meta` the
    statistics, `prompt_rows` (rl) the per-prompt ground_truth / dataset / raw_prompt dicts."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        meta_path = self.path / "meta.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{self.path}: not a complete data cache (no meta.json); run build_cache")
        self.meta = json.loads(meta_path.read_text())
        self.stage = self.meta["stage"]
        self.streams = {name: RaggedArray(self.path, name) for name in STREAMS[self.stage]}
        self.prompt_rows: list[dict] = []
        if self.stage == "rl":
            with open(self.path / "prompts.jsonl") as f:
                self.prompt_rows = [json.loads(line) for line in f]

    def __len__(self) -> int:
        return len(next(iter(self.streams.values())))


def load_cache(path: str | Path) -> TokenCache:
    return TokenCache(path)


def open_cache(run: Any, tokenizer: Any = None, which: str = "train") -> TokenCache:
    """Build if needed, then memory-map: what a stage calls."""
    return TokenCache(build_cache(run, tokenizer, which))
