"""Supervised fine-tuning with OLMo-core semantics on DeepSpeed learners placed by Ray.

    train(run)   connect -> plan -> tokenize (cache) + pack -> learners -> resume -> loop -> export

Loss: token cross-entropy summed over the label tokens of a rank's whole optimizer-step batch (all of
its micro-batches), divided by that batch's label-token count; DeepSpeed then averages the ranks'
gradients. Rows are packed (best-fit decreasing) with per-document position ids, so no token attends
across documents. The loop checkpoints every `train.checkpoint_every` steps, at the end and on
preemption (then exits with preempt.REQUEUE_EXIT_CODE); a restart continues from `latest` and
reproduces the uninterrupted loss curve.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from olmo3hpc.config import SFTRun, plan
from olmo3hpc.data.sft_rows import SFTRows
from olmo3hpc.data.templates import set_chat_template
from olmo3hpc.engine import preempt
from olmo3hpc.engine.checkpoint import Checkpointer, TrainerState
from olmo3hpc.engine.cluster import connect
from olmo3hpc.engine.learner import Learner
from olmo3hpc.engine.learners import LearnerGroup
from olmo3hpc.engine.metrics import MetricsLogger
from olmo3hpc.engine.modelfactory import load_tokenizer
from olmo3hpc.engine.order import TrainOrder
from olmo3hpc.engine.packed import (count_label_targets, next_token_targets, split_rows, summed_nll,
                                    target_columns)
from olmo3hpc.engine.schedule import lr_at


def train(run: SFTRun) -> Path:
    """Train (or resume) `run`; returns the HF export directory hf/final."""
    run_dir = Path(run.meta.run_dir)
    preempt.install()
    cluster = connect(temp_root=run.ray.temp_root)
    group = None
    try:
        layout = plan(run)
        tokenizer = load_tokenizer(run.model, run.meta.output_root)
        rows = SFTRows.from_run(run, tokenizer)
        world_batch = run.train.micro_batch_size * layout.grad_accum * layout.learners
        order = TrainOrder(len(rows), world_batch, run.train.epochs, run.data.shuffle_seed, run.train.max_steps)
        print(f"{layout.describe()}\n  data: {rows.describe()}; {order.total_steps} steps of {world_batch} rows",
              flush=True)
        group = LearnerGroup(run, layout, SFTLearner)
        group.write_placement(run.meta.run_dir)
        print(group.describe_placement(), flush=True)
        ckpt = Checkpointer(run_dir, run.train.keep_last)
        state = ckpt.restore(group) or TrainerState()
        metrics = MetricsLogger(run, order.total_steps)
        try:
            _loop(run, group, rows, order, ckpt, state, metrics)
        finally:
            metrics.close()
        return ckpt.export(group, "final")
    finally:
        if group is not None:
            group.shutdown()
        cluster.shutdown()


def _loop(run: SFTRun, group: LearnerGroup, rows: SFTRows, order: TrainOrder, ckpt: Checkpointer,
          state: TrainerState, metrics: MetricsLogger) -> None:
    total = order.total_steps
    while state.step < total:
        ckpt.exit_if_preempted(group, state)
        lr = lr_at(run.optim, state.step, total)
        started = time.time()
        shards = split_rows(rows.batch(order.step_items(state.step)), group.world)
        record = _step_metrics(group.call_sharded("train_step", shards, lr), lr, time.time() - started)
        state.advance(order.items_per_step, order.epoch_at(state.step + 1), int(record["tokens"]))
        metrics.log(state.step, {**record, "epoch": state.epoch})
        ckpt.after_step(group, state, total, run.train)
    ckpt.save(group, state)


def _step_metrics(results: list[dict[str, float]], lr: float, seconds: float) -> dict[str, float]:
    ce = sum(r["ce_sum"] for r in results)
    labels = sum(r["label_tokens"] for r in results)
    norms = [r["grad_norm"] for r in results if r["grad_norm"] is not None]
    return {"loss": ce / max(labels, 1), "lr": lr, "grad_norm": norms[0] if norms else float("nan"),
            "label_tokens": labels, "tokens": sum(r["tokens"] for r in results), "step_seconds": seconds}


def accumulate_gradients(forward: Callable[[dict[str, torch.Tensor], torch.Tensor], torch.Tensor],
                         backward: Callable[[torch.Tensor], Any], batch: dict[str, torch.Tensor],
                         micro_batches: int) -> tuple[float, int]:
    """Forward/backward a rank's batch in `micro_batches` slices; loss = summed NLL / the batch's targets.

    `forward(micro, keep) -> logits` of the sequence positions `keep` only (the positions with a target;
    the loss needs no other logits); `backward(loss)` accumulates gradients (and steps DeepSpeed).
    Returns (summed NLL, target tokens) of the whole batch.
    """
    denominator = max(count_label_targets(batch), 1)
    total, targets_seen = 0.0, 0
    for micro in split_rows(batch, micro_batches):
        targets = next_token_targets(micro["labels"], micro["position_ids"])
        keep = target_columns(targets)
        nll, count = summed_nll(forward(micro, keep), targets[:, keep])
        backward(nll / denominator)
        total += float(nll.detach())
        targets_seen += count
    return total, targets_seen


class SFTLearner(Learner):
    """One SFT rank: accumulates the rank's batch over micro-batches, then DeepSpeed clips and steps."""

    def after_setup(self) -> None:
        if self.run.model.chat_template != "tokenizer":
            set_chat_template(self.tokenizer, self.run.model.chat_template)  # exported with the model

    def train_step(self, batch: dict[str, np.ndarray], lr: float) -> dict[str, float | None]:
        self.set_lr(lr)
        self.engine.train()
        tensors = self.to_device(batch)
        norms: list[float] = []

        def forward(micro: dict[str, torch.Tensor], keep: torch.Tensor) -> torch.Tensor:
            return self.engine(input_ids=micro["input_ids"], position_ids=micro["position_ids"],
                               use_cache=False, logits_to_keep=keep).logits

        def backward(loss: torch.Tensor) -> None:
            self.backward(loss)
            norm = self.optimizer_step()
            if norm is not None:
                norms.append(norm)

        ce, targets = accumulate_gradients(forward, backward, tensors, self.plan.grad_accum)
        real = int((tensors["input_ids"] != self.tokenizer.pad_token_id).sum())
        return {"ce_sum": ce, "label_tokens": targets, "tokens": real, "grad_norm": norms[-1] if norms else None}
