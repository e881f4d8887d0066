"""DPO stage (open-instruct dpo_tune_cache as OLMo 3 ran it), on DeepSpeed learners placed by Ray.

    train(run) reads top to bottom:
      1. tokenized pairs (data/cache: chat template, prompt masked, truncated, empty pairs filtered)
      2. seeded pair order; steps = pairs // (micro x accum x learners) per epoch
      3. learner group (engine/learners) with the initial policy
      4. reference log-probs of the initial policy: loaded from the on-disk cache or computed once
         over the seeded order and saved (stages/ref_logprobs); no reference model is kept
      5. resume from checkpoints/latest if any (weights, optimizer, RNG, step)
      6. steps: lr from the schedule, concatenated chosen+rejected forward, loss, one optimizer step,
         metrics to metrics.jsonl; checkpoint every N steps and on preemption (then exit for requeue)
      7. held-out preference accuracy, HF export to hf/final

Schedule: linear warmup (optim.warmup_ratio of the steps) then linear decay to 0, 1 epoch, AdamW
without weight decay (recipe values). About open-instruct's `num_training_steps * num_processes`:
accelerate's prepared scheduler is stepped once per process for each optimizer step, so
open-instruct multiplies the scheduler's length by num_processes and the two cancel: its LR at
optimizer step k is the plain warmup/decay over the real optimizer steps. We compute exactly that
from the step count (`engine.schedule.lr_at`, called once per optimizer step, no multiplication),
which also makes resume exact (the LR is a function of the restored step). One deliberate difference
remains: HF's LambdaLR gives warmup step k the factor k/W, so its first step runs at LR 0; lr_at uses
(k+1)/W.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from olmo3hpc.config import DPORun, plan as make_plan
from olmo3hpc.data.cache import TokenCache, open_cache
from olmo3hpc.engine import preempt
from olmo3hpc.engine.checkpoint import Checkpointer, TrainerState
from olmo3hpc.engine.cluster import connect
from olmo3hpc.engine.learners import LearnerGroup
from olmo3hpc.engine.metrics import MetricsLogger
from olmo3hpc.engine.modelfactory import load_tokenizer
from olmo3hpc.engine.order import TrainOrder
from olmo3hpc.engine.schedule import lr_at
from olmo3hpc.stages import ref_logprobs
from olmo3hpc.stages.dpo_learner import DPOLearner, Micro
from olmo3hpc.stages.dpo_loss import mean_metrics
from olmo3hpc.stages.ref_logprobs import RefTable


@dataclass(frozen=True)
class PairData:
    """Tokenized pairs and the seeded order they are trained in."""

    train: TokenCache
    eval: TokenCache | None
    selected: np.ndarray
    """Training pairs (rows of `train`): shuffled with meta.seed, then cut to max_train_samples."""
    filtered: int
    """Pairs dropped because a side had no trainable token left after truncation."""


@dataclass
class DPOResult:
    """What a run did (the job ignores it; tests and the benchmark read it)."""

    steps: int = 0
    pairs: int = 0
    filtered: int = 0
    reference_seconds: float = 0.0
    reference_cached: bool = False
    train_seconds: float = 0.0
    train_tokens: int = 0
    learner_cpu_seconds: float = 0.0
    """CPU time the learner processes spent in training steps (benchmarks on shared machines)."""
    eval: dict[str, float] = field(default_factory=dict)


def load_pairs(run: DPORun, tokenizer: object) -> PairData:
    """Build/open the tokenized caches; shuffle with meta.seed, then keep the first max_train_samples
    (open-instruct: `shuffle(seed)` then `select(range(max_train_samples))`; its data loader then
    reshuffles with the same seed, which engine.order.TrainOrder does per epoch)."""
    train = open_cache(run, tokenizer, "train")
    held_out = open_cache(run, tokenizer, "eval") if run.data.eval_mixer_list else None
    order = np.random.default_rng(run.meta.seed).permutation(len(train))
    if run.dpo.max_train_samples:
        order = order[: run.dpo.max_train_samples]
    filtered = sum(d["filtered"] for d in train.meta["datasets"])
    return PairData(train, held_out, order, filtered)


def micro_shards(rows: np.ndarray, micro: int, world: int, split: str) -> list[list[Micro]]:
    """Micro-batches of `rows` dealt round-robin to ranks; short ranks get `keep=False` repeats so
    every rank runs the same number of forwards (ZeRO-3 gathers parameters collectively)."""
    batches = [tuple(int(i) for i in rows[s:s + micro]) for s in range(0, len(rows), micro)]
    shards: list[list[Micro]] = [[Micro(split, b) for b in batches[r::world]] for r in range(world)]
    longest = max(len(s) for s in shards)
    for shard in shards:
        while len(shard) < longest:
            shard.append(Micro(split, batches[0], keep=False))
    return shards


def with_reference(micro: Micro, table: RefTable | None) -> Micro:
    if table is None:
        return micro
    chosen, rejected = table.lookup(torch.as_tensor(micro.indices))
    ref = tuple(tuple(t.tolist()) for t in (chosen.total, chosen.tokens, rejected.total, rejected.tokens))
    return Micro(micro.split, micro.indices, micro.keep, ref)


def reference_table(
    run: DPORun, group: LearnerGroup, cache: TokenCache, rows: np.ndarray, split: str,
) -> tuple[RefTable, float, bool]:
    """The reference table of `rows`: from disk, or computed by the (still initial) learners and saved."""
    path = ref_logprobs.cache_path(run, ref_logprobs.cache_key(run, cache.path.name))
    table = ref_logprobs.load(path, len(cache))
    if table is not None:
        print(f"dpo: reference log-probs ({split}) from {path}", flush=True)
        return table, 0.0, True
    started = time.perf_counter()
    parts = group.call_sharded("reference_logps", micro_shards(rows, run.train.micro_batch_size, group.world, split))
    table = ref_logprobs.assemble(parts, len(cache), torch.as_tensor(rows))
    ref_logprobs.save(path, table)
    seconds = time.perf_counter() - started
    print(f"dpo: reference log-probs ({split}) of {len(rows)} pairs in {seconds:.1f} s -> {path}", flush=True)
    return table, seconds, False


def step_micros(run: DPORun, data: PairData, items: np.ndarray, world: int, accum: int) -> list[list[Micro]]:
    """Split one step's positions `items` (into data.selected) into each rank's micro-batches."""
    rows, micro = data.selected[items], run.train.micro_batch_size
    per_rank = micro * accum
    return [
        [Micro("train", tuple(int(i) for i in rows[r * per_rank + m * micro:r * per_rank + (m + 1) * micro]))
         for m in range(accum)]
        for r in range(world)
    ]


def _add(total: dict[str, float], part: dict[str, float]) -> dict[str, float]:
    for k, v in part.items():
        total[k] = total.get(k, 0.0) + v
    return total


def run_step(group: LearnerGroup, shards: list[list[Micro]], ref: RefTable | None, lr: float) -> dict[str, float]:
    """One optimizer step on every rank; returns the step's metrics (means over the global batch)."""
    started = time.perf_counter()
    shards = [[with_reference(m, ref) for m in shard] for shard in shards]
    per_rank = sum(len(m.indices) for m in shards[0])
    results = group.call_sharded("dpo_step", shards, per_rank, lr)
    sums: dict[str, float] = {}
    for res in results:
        _add(sums, res["sums"])
    metrics = {**mean_metrics(sums), "tokens": sums["tokens"], "step_seconds": time.perf_counter() - started,
               "learner_seconds": max(r["seconds"] for r in results),
               "learner_cpu_seconds": sum(r["cpu_seconds"] for r in results)}
    if results[0]["grad_norm"] is not None:
        metrics["grad_norm"] = results[0]["grad_norm"]
    return metrics


def evaluate(run: DPORun, group: LearnerGroup, data: PairData, ref: RefTable | None) -> dict[str, float]:
    """Held-out preference loss, rewards and accuracy of the current policy."""
    assert data.eval is not None
    shards = micro_shards(np.arange(len(data.eval)), run.train.micro_batch_size, group.world, "eval")
    shards = [[with_reference(m, ref) for m in shard] for shard in shards]
    sums: dict[str, float] = {}
    for part in group.call_sharded("evaluate", shards):
        _add(sums, part)
    return {f"eval/{k}": v for k, v in mean_metrics(sums).items()}


@dataclass
class _Session:
    """What the training loop works with, once the learners are up."""

    run: DPORun
    group: LearnerGroup
    data: PairData
    order: TrainOrder
    ckpt: Checkpointer
    result: DPOResult
    ref_train: RefTable | None = None
    ref_eval: RefTable | None = None


def train(run: DPORun) -> DPOResult:
    """Run (or resume) the DPO stage described by `run`; see the module docstring for the steps."""
    preempt.install()
    layout = make_plan(run)
    tokenizer = load_tokenizer(run.model, run.meta.output_root)
    data = load_pairs(run, tokenizer)
    per_step = run.train.micro_batch_size * layout.grad_accum * layout.learners
    order = TrainOrder(len(data.selected), per_step, run.train.epochs, run.meta.seed, run.train.max_steps)
    result = DPOResult(pairs=len(data.selected), filtered=data.filtered)
    print(f"{layout.describe()}\n  data: {len(data.selected)} pairs ({data.filtered} filtered: nothing to train "
          f"on after truncation; malformed {data.train.meta['malformed']['skipped']} skipped); "
          f"{order.total_steps} steps of {per_step} pairs", flush=True)
    cluster = connect(temp_root=run.ray.temp_root)
    group: LearnerGroup | None = None
    try:
        group = LearnerGroup(run, layout, DPOLearner)
        group.write_placement(run.meta.run_dir)
        print(group.describe_placement(), flush=True)
        group.call("open_data", {k: str(c.path) for k, c in (("train", data.train), ("eval", data.eval)) if c})
        session = _Session(run, group, data, order, Checkpointer(run.meta.run_dir, run.train.keep_last), result)
        _references(session)
        _train_and_evaluate(session)
        session.ckpt.export(group, "final")
    finally:
        if group is not None:
            group.shutdown()
        cluster.shutdown()
    return result


def _references(s: _Session) -> None:
    """Reference tables of the training and held-out pairs (none for simpo, which has no reference).

    Called before any checkpoint is restored, so a missing cache is always rebuilt from the initial
    policy, even when the run itself resumes mid-way."""
    if not s.run.dpo.uses_reference:
        return
    s.ref_train, s.result.reference_seconds, s.result.reference_cached = reference_table(
        s.run, s.group, s.data.train, s.data.selected, "train")
    if s.data.eval is not None:
        s.ref_eval, seconds, _ = reference_table(s.run, s.group, s.data.eval, np.arange(len(s.data.eval)), "eval")
        s.result.reference_seconds += seconds


def _train_and_evaluate(s: _Session) -> None:
    state = s.ckpt.restore(s.group) or TrainerState()
    if state.step:
        print(f"dpo: resumed at step {state.step}/{s.order.total_steps} from {s.ckpt.latest()}", flush=True)
    log = MetricsLogger(s.run, s.order.total_steps)
    try:
        _loop(s, state, log)
        if s.data.eval is not None:
            s.result.eval = evaluate(s.run, s.group, s.data, s.ref_eval)
            log.log(state.step, s.result.eval, progress=False)
            print("dpo: held-out " + ", ".join(f"{k} {v:.4f}" for k, v in s.result.eval.items()), flush=True)
    finally:
        log.close()


def _loop(s: _Session, state: TrainerState, log: MetricsLogger) -> None:
    run, group, order, ckpt = s.run, s.group, s.order, s.ckpt
    total = order.total_steps
    started = time.perf_counter()
    while state.step < total:
        ckpt.exit_if_preempted(group, state)
        lr = lr_at(run.optim, state.step, total)
        shards = step_micros(run, s.data, order.step_items(state.step), group.world, group.plan.grad_accum)
        metrics = run_step(group, shards, s.ref_train, lr)
        state.advance(order.items_per_step, order.epoch_at(state.step + 1), int(metrics["tokens"]))
        s.result.train_tokens += int(metrics["tokens"])
        s.result.learner_cpu_seconds += metrics["learner_cpu_seconds"]
        log.log(state.step, {**metrics, "lr": lr, "epoch": state.epoch})
        ckpt.after_step(group, state, total, run.train)
    s.result.steps = state.step
    s.result.train_seconds = time.perf_counter() - started
    ckpt.save(group, state)
