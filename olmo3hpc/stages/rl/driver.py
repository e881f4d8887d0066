"""GRPO on the Ray head: `train(run)` (open-instruct grpo_fast semantics at the OLMo 3 run commits).

Reads top to bottom as one training step does:
  1. the rollout stream keeps generation at most `rl.async_steps` policies ahead of training;
  2. finished prompt groups are scored by the reward registry, filtered (zero-std), optionally
     topped up (active sampling), solved prompts leave the sampler (no-resampling);
  3. the kept samples get group advantages and are packed into rows, dealt to the learners;
  4. the learners take the policy-gradient step; the new weights are broadcast to the engines;
  5. metrics, periodic checkpoints / HF exports / local eval, and the preemption check.
A dead engine stops the run with the engine's error after checkpointing the learners (they are at a
step boundary then); nothing waits on an engine without a bound.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from olmo3hpc.config import Plan, RLRun, plan as make_plan
from olmo3hpc.engine import preempt
from olmo3hpc.engine.checkpoint import Checkpointer, TrainerState
from olmo3hpc.engine.cluster import connect
from olmo3hpc.engine.learners import LearnerGroup
from olmo3hpc.engine.metrics import MetricsLogger
from olmo3hpc.engine.modelfactory import load_tokenizer
from olmo3hpc.engine.schedule import lr_at
from olmo3hpc.stages.rl.advantages import should_exclude
from olmo3hpc.stages.rl.batch import pack, split_for_learners
from olmo3hpc.stages.rl.engine_pool import EngineError, EnginePool
from olmo3hpc.stages.rl.engines import GenerationResult
from olmo3hpc.stages.rl.evaluation import local_eval
from olmo3hpc.stages.rl.groups import ScoredGroup, rollout_metrics, score_group, training_samples
from olmo3hpc.stages.rl.learner import GRPOLearner
from olmo3hpc.stages.rl.prompt_set import PromptSet, load_prompt_set
from olmo3hpc.stages.rl.sampler import PromptSampler
from olmo3hpc.stages.rl.scoring import GroupScorer
from olmo3hpc.stages.rl.stream import RequestKey, RolloutStream
from olmo3hpc.stages.rl.weight_sync import SyncGroup

log = logging.getLogger(__name__)

_POLL_S = 0.5
_PREFETCH_POLL_S = 0.05
_SYNC_TIMEOUT_S = 1800.0
_REFILL_LIMIT = 8
"""Active sampling gives up topping a step up after this many times prompts_per_step refills."""


@dataclass
class Session:
    """Everything the loop touches, built once by `_start`."""

    run: RLRun
    plan: Plan
    prompts: PromptSet
    eval_prompts: PromptSet
    learners: LearnerGroup
    engines: EnginePool
    scorer: GroupScorer
    stream: RolloutStream
    ckpt: Checkpointer
    state: TrainerState
    metrics: MetricsLogger
    pad_id: int
    manifest: Any = None
    prefetched: dict[int, Future] = field(default_factory=dict)
    """Scoring already started (during training) for finished requests, by request serial."""
    learners_busy: bool = False
    """True while a learner call may be blocked on the engines (then no failure checkpoint is possible)."""


def train(run: RLRun) -> None:
    """Run (or resume) GRPO; exits with preempt.REQUEUE_EXIT_CODE after a preemption checkpoint."""
    plan = make_plan(run)
    preempt.install()
    cluster = connect(temp_root=run.ray.temp_root)
    session: Session | None = None
    try:
        session = _start(run, plan)
        _loop(session)
    except EngineError as error:
        if session is not None:
            _checkpoint_after_failure(session, error)
        raise
    finally:
        if session is not None:
            _close(session)
        cluster.shutdown()


def _loop(s: Session) -> None:
    run, total = s.run, s.plan.training_steps
    for step in range(s.state.step, total):
        if preempt.requested():
            _save(s)
            log.warning("preemption requested: checkpointed step %d, exiting for requeue", step)
            raise SystemExit(preempt.REQUEUE_EXIT_CODE)
        t0 = time.monotonic()
        s.stream.fill(version=step)
        seen, kept = _collect(s, step)
        samples, masked = training_samples(kept, run)
        t1 = time.monotonic()
        stats = _learn_while_scoring(s, step, samples)
        t2 = time.monotonic()
        _sync_weights(s, version=step + 1)
        t3 = time.monotonic()
        s.state.step = step + 1
        s.state.tokens_seen += int(stats.get("tokens", 0))
        record = {**rollout_metrics(seen, kept, step), **stats, "truncated_masked": float(masked),
                  **_timing(t0, t1, t2, t3), "prompts_excluded": float(len(s.stream.sampler.excluded)),
                  "prompts_too_long": float(s.prompts.too_long), "lr": lr_at(run.optim, step, total)}
        if run.rl.local_eval_every and (step + 1) % run.rl.local_eval_every == 0:
            record.update(local_eval(s.engines, s.scorer, s.eval_prompts, run))
        s.metrics.log(step + 1, record)
        _periodic_saves(s, step + 1, total)
    _save(s)
    s.ckpt.export(s.learners, "final")


# ----- one step ------------------------------------------------------------------------------------------
def _collect(s: Session, step: int) -> tuple[list[ScoredGroup], list[ScoredGroup]]:
    """Score the groups meant for `step` until the batch is complete (or topped up, active sampling)."""
    run, need = s.run, s.run.rollout.prompts_per_step
    seen: list[ScoredGroup] = []
    kept: list[ScoredGroup] = []
    refills = 0
    while True:
        taken = s.stream.take(step)
        futures = [_score(s, key, result) for key, result in taken]  # most started while the last step trained
        for (key, result), future in zip(taken, futures):
            rewards = s.scorer.rewards(future)
            group = score_group(key.prompt, list(result.prompt_ids), result.samples, rewards, key.version, run)
            seen.append(group)
            if should_exclude(group.verdict.pass_rate, run.rl.no_resampling_pass_rate):
                s.stream.sampler.exclude(key.prompt)
            if step - key.version > run.rl.async_steps:
                continue  # never train beyond the async bound (cannot happen with FIFO consumption)
            if group.verdict.keep:
                kept.append(group)
            elif run.rl.active_sampling and refills < _REFILL_LIMIT * need:
                s.stream.queue(step, s.stream.sampler.take(1), version=step)
                refills += 1
        if run.rl.active_sampling and len(kept) >= need:
            s.stream.defer(step)
            return seen, kept
        if not s.stream.waiting_for(step) and not s.stream.finished.get(step):
            return seen, kept
        s.stream.poll(_POLL_S)


def _score(s: Session, key: RequestKey, result: GenerationResult) -> Future:
    """The scoring of one finished group: the one started during training, else started now."""
    started = s.prefetched.pop(key.serial, None)
    if started is not None:
        return started
    ids = [f"step{key.step}/prompt{key.prompt}/sample{i}" for i in range(len(result.samples))]
    return s.scorer.submit(s.prompts.prompts[key.prompt], [x.text for x in result.samples], ids)


def _learn_while_scoring(s: Session, step: int, samples: list) -> dict[str, float]:
    """`_learn` in a worker thread while this thread collects the rollouts that finish meanwhile and starts
    their scoring, so the next step's rewards are (mostly) computed by the time its batch is needed.

    Separate placement only: colocated engines are drained and put to sleep by `_learn` itself. A failure
    seen while prefetching (a dead engine) is left for the weight sync right after to raise, as without
    prefetching: the learners' update finishes first, and no checkpoint is taken mid-update.
    """
    if s.plan.mode == "colocated":
        return _learn(s, step, samples)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="learn") as pool:  # exits once the update is done
        learning = pool.submit(_learn, s, step, samples)
        try:
            while not learning.done():
                s.stream.poll(_PREFETCH_POLL_S)
                for key, result in s.stream.finished_results():
                    if key.serial not in s.prefetched:
                        s.prefetched[key.serial] = _score(s, key, result)
        except EngineError as error:
            log.warning("rollout prefetch stopped (the weight sync will report it): %s", error)
        return learning.result()


def _learn(s: Session, step: int, samples: list) -> dict[str, float]:
    """Pack, shard and run the learners' step; an empty batch (all filtered) skips the update."""
    run = s.run
    lr = lr_at(run.optim, step, s.plan.training_steps)
    if not samples:
        return {"tokens": 0.0, "skipped_update": 1.0}
    if s.plan.mode == "colocated":
        s.stream.drain(timeout_s=3600.0)
        s.engines.sleep()
    rows = pack(samples, run.pack_length)
    shards = split_for_learners(rows, s.learners.world, s.pad_id)
    per_rank = s.learners.call_sharded("train_step", shards, lr)
    if s.plan.mode == "colocated":
        s.engines.wake_up()
    stats = {k: sum(r[k] for r in per_rank) / len(per_rank) for k in per_rank[0]}
    stats["tokens"] = float(sum(len(r["input_ids"]) for r in rows))
    stats["response_tokens"] = float(sum(r["response_tokens"] for r in per_rank))
    stats["packed_rows"] = float(len(rows))
    stats["skipped_update"] = 0.0
    return stats


def _sync_weights(s: Session, version: int) -> None:
    """Learner rank 0 broadcasts the weights to every engine worker (NCCL on GPU, gloo on CPU); the
    engines load them drained or in flight (rl.inflight_updates).

    The engines' side is awaited first, so a dead engine raises EngineError at once instead of
    leaving the driver waiting on the learners' half of the broadcast.
    """
    if s.manifest is None:
        s.manifest = s.learners.call("weight_manifest")[0]
    s.learners_busy = True
    engine_refs = s.engines.receive_weights(s.manifest, version)
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        sent = pool.submit(s.learners.call, "send_weights", timeout_s=_SYNC_TIMEOUT_S)
        s.engines.wait(engine_refs, timeout_s=_SYNC_TIMEOUT_S, what="weight sync")
        sent.result()
    finally:
        pool.shutdown(wait=False)  # on an engine failure the learner call ends when the learners are killed
    s.learners_busy = False


def _timing(t0: float, t1: float, t2: float, t3: float) -> dict[str, float]:
    """Learner idle fraction: the share of the step the learners did no training, i.e. waited for
    rollouts or for the weight sync (which, drained, also waits for the engines' running requests)."""
    wait, learn, sync = t1 - t0, t2 - t1, t3 - t2
    total = max(t3 - t0, 1e-9)
    return {"time_rollout_wait_s": wait, "time_train_s": learn, "time_weight_sync_s": sync,
            "learner_idle_fraction": (wait + sync) / total, "step_time_s": total}


# ----- setup, checkpoints, shutdown -----------------------------------------------------------------------
def _start(run: RLRun, plan: Plan) -> Session:
    tokenizer = load_tokenizer(run.model, run.meta.output_root)
    prompts = load_prompt_set(run, tokenizer)
    eval_prompts = load_prompt_set(run, tokenizer, held_out=True)
    log.info("rl prompts: %d usable, %d longer than %d tokens filtered, %d malformed skipped",
             len(prompts.prompts), prompts.too_long, run.rollout.max_prompt_length, prompts.malformed)
    learners = LearnerGroup(run, plan, GRPOLearner)
    engines = EnginePool(run, plan)
    where = engines.placement()
    learners.write_placement(run.meta.run_dir, where)
    log.info("rl placement: learners on nodes %s, engines on nodes %s", [p["node_index"] for p in learners.placement],
             [p["node_index"] for p in where])
    _join_weight_sync(learners, engines, plan)
    ckpt = Checkpointer(run.meta.run_dir, run.train.keep_last)
    state = ckpt.restore(learners) or TrainerState()
    sampler = PromptSampler(len(prompts.prompts), seed=run.data.shuffle_seed)
    stream = RolloutStream(run, engines, sampler, prompts.prompts)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    scorer = GroupScorer(run, prompts.prompts + eval_prompts.prompts)
    session = Session(run, plan, prompts, eval_prompts, learners, engines, scorer, stream, ckpt, state,
                      MetricsLogger(run, plan.training_steps), pad_id)
    _sync_weights(session, version=state.step)  # engines start from exactly the learners' weights
    if "stream" in state.extra:
        stream.restore(state.extra["stream"], version=state.step)
    return session


def _join_weight_sync(learners: LearnerGroup, engines: EnginePool, plan: Plan) -> None:
    import ray

    host, port = ray.get(learners.actors[0].address.remote(), timeout=120)
    group = SyncGroup(host=host, port=port, world_size=1 + engines.size * plan.tensor_parallel,
                      backend="nccl" if plan.device == "gpu" else "gloo", timeout_s=1800.0)
    refs = engines.join_weight_sync(group)
    learners.call("init_weight_sync", group, timeout_s=600.0)
    engines.wait(refs, timeout_s=600.0, what="weight sync setup")


def _periodic_saves(s: Session, step: int, total: int) -> None:
    train = s.run.train
    if train.checkpoint_every and step % train.checkpoint_every == 0 and step < total:
        _save(s)
    if train.export_every and step % train.export_every == 0 and step < total:
        s.ckpt.export(s.learners, step)


def _save(s: Session) -> None:
    s.state.extra["stream"] = s.stream.state_dict()
    s.state.cursor = s.stream.serial
    s.ckpt.save(s.learners, s.state)


def _checkpoint_after_failure(s: Session, error: EngineError) -> None:
    """The learners are idle at a step boundary when an engine fails; keep their progress."""
    if s.learners_busy:
        log.error("rollout engine failure during a weight broadcast; learners cannot checkpoint: %s", error)
        return
    try:
        _save(s)
        log.error("rollout engine failure; checkpointed step %d: %s", s.state.step, error)
    except Exception as save_error:  # the original error matters more; report both
        log.error("rollout engine failure (%s); the checkpoint also failed: %s", error, save_error)


def _close(s: Session) -> None:
    s.metrics.close()
    s.scorer.close()
    s.engines.shutdown()
    s.learners.shutdown()
