"""SFT training throughput on CPU: olmo3hpc's learners (Ray + DeepSpeed, the SFT stage's `train_step`) vs a
plain transformers + torch.optim.AdamW loop on the same tiny Olmo3 and the same packed rows.

The engine runs as the smoke_sft recipe places it (one learner per core, one torch thread each, ZeRO-2
over gloo); the baseline is one process at its best torch thread count (1 or all cores: on a shared
CPU, OpenMP threads spinning against other processes can make all cores slower than one). Both train
the same rows per optimizer step, step for step.

A step of this model takes well under a second and the speed of a shared VM drifts over seconds, so the
two sides are not run one after the other: both stay alive and take turns in blocks of `--block` steps
(ABBA order), and each side's figure is the median over its steps of non-padding tokens / step wall
time. During the baseline's turns Ray's processes (GCS, raylet, agents, the idle learners) are paused
with SIGSTOP: a plain loop runs on a machine without Ray, and Ray's idle wake-ups slow OpenMP threads.
The engine's steps are `LearnerGroup.call_sharded("train_step", ...)` exactly as the stage's loop issues
them (the loop adds only a metrics line per step).

Row length. Data parallelism costs a gradient all-reduce (plus DeepSpeed's partition collectives) per
optimizer step, paid back by the tokens each rank trains in that step. The OLMo 3 SFT recipes train one
32K-token row per GPU per step; the smoke recipe's 256-token rows give a rank 1K tokens per step, 32x
fewer, so there the all-reduce and waiting for the slower rank cancel what one thread per process gains
over two OpenMP threads. The goal is judged at 1024-token rows (4K tokens per rank per step, still 8x
fewer than the recipes); the smoke shape is measured and printed beside it.

    python bench/sft_train.py [--blocks 12] [--block 4] [--warmup 4]

Last line: `sft_train: <ratio>x at 1024-token rows (<ratio>x at the smoke recipe's 256) (goal >= 1.0)`,
ratio = engine tok/s / baseline tok/s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import tempfile
import time
from typing import Callable, Iterator

import numpy as np
import psutil
import torch

from olmo3hpc.catalog import load_recipe
from olmo3hpc.config import SFTRun, plan, replace_path
from olmo3hpc.data.sft_rows import SFTRows
from olmo3hpc.engine.cluster import connect
from olmo3hpc.engine.learners import LearnerGroup
from olmo3hpc.engine.modelfactory import load_model, load_tokenizer
from olmo3hpc.engine.order import TrainOrder
from olmo3hpc.engine.packed import split_rows
from olmo3hpc.engine.schedule import lr_at
from olmo3hpc.stages.sft import SFTLearner

SMOKE_SEQ_LEN = 256
BENCH_SEQ_LEN = 1024

Step = Callable[[int], int]
"""Train optimizer step i; returns its non-padding tokens."""


def bench_run(root: str, steps: int, seq_len: int) -> SFTRun:
    """smoke_sft (its tiny model, data, learners and batch) with rows packed to `seq_len` tokens."""
    run = load_recipe("smoke_sft")
    for path, value in (("meta.output_root", root), ("meta.name", "bench"), ("train.max_steps", steps),
                        ("train.checkpoint_every", 0), ("train.epochs", 100.0), ("data.max_seq_length", seq_len)):
        run = replace_path(run, path, value)
    return run


def baseline_step(run: SFTRun, rows: SFTRows, order: TrainOrder, pad_id: int) -> Step:
    """The loop a user would write with transformers alone (same packing, HF's mean loss, AdamW, clipping)."""
    model = load_model(run.model, seed=run.meta.seed, tokenizer=load_tokenizer(run.model))
    model.train()
    o = run.optim
    opt = torch.optim.AdamW(model.parameters(), lr=o.lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay)

    def step(i: int) -> int:
        batch = {k: torch.from_numpy(v) for k, v in rows.batch(order.step_items(i)).items()}
        out = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], labels=batch["labels"],
                    use_cache=False)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), o.max_grad_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return int((batch["input_ids"] != pad_id).sum())

    return step


def engine_step(run: SFTRun, group: LearnerGroup, rows: SFTRows, order: TrainOrder) -> Step:
    def step(i: int) -> int:
        shards = split_rows(rows.batch(order.step_items(i)), group.world)
        results = group.call_sharded("train_step", shards, lr_at(run.optim, i, order.total_steps))
        return int(sum(r["tokens"] for r in results))

    return step


def timed(step: Step, first: int, count: int) -> list[float]:
    """Tokens/s of steps first..first+count-1."""
    rates = []
    for i in range(first, first + count):
        start = time.perf_counter()
        tokens = step(i)
        rates.append(tokens / (time.perf_counter() - start))
    return rates


@contextlib.contextmanager
def paused(processes: list[psutil.Process]) -> Iterator[None]:
    for p in processes:
        p.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for p in processes:
            p.send_signal(signal.SIGCONT)


def measure(args: argparse.Namespace, seq_len: int) -> float:
    """Engine tok/s over baseline tok/s with rows packed to `seq_len` tokens; prints both sides."""
    steps = args.warmup + args.blocks * args.block
    with tempfile.TemporaryDirectory(prefix="sftbench") as root:
        run = bench_run(root, steps, seq_len)
        layout = plan(run)
        tokenizer = load_tokenizer(run.model)
        rows = SFTRows.from_run(run, tokenizer)
        per_step = run.train.micro_batch_size * layout.grad_accum * layout.learners
        order = TrainOrder(len(rows), per_step, run.train.epochs, run.data.shuffle_seed, steps)
        cluster = connect(temp_root=run.ray.temp_root)
        try:
            group = LearnerGroup(run, layout, SFTLearner)
            try:
                sides = {"engine": engine_step(run, group, rows, order),
                         "baseline": baseline_step(run, rows, order, tokenizer.pad_token_id)}
                ray_processes = psutil.Process().children(recursive=True)
                # The baseline's faster thread count, chosen on its warm-up steps.
                warm = {}
                for n in sorted({1, os.cpu_count() or 1}):
                    torch.set_num_threads(n)
                    with paused(ray_processes):
                        warm[n] = float(np.median(timed(sides["baseline"], 0, args.warmup)))
                threads = max(warm, key=warm.__getitem__)
                torch.set_num_threads(threads)
                timed(sides["engine"], 0, args.warmup)
                rates: dict[str, list[float]] = {"engine": [], "baseline": []}
                for b in range(args.blocks):
                    first = args.warmup + b * args.block
                    for name in (("engine", "baseline") if b % 4 in (0, 3) else ("baseline", "engine")):
                        with paused(ray_processes) if name == "baseline" else contextlib.nullcontext():
                            rates[name] += timed(sides[name], first, args.block)
            finally:
                group.shutdown()
        finally:
            cluster.shutdown()
    engine, baseline = (float(np.median(rates[k])) for k in ("engine", "baseline"))
    iqr = {k: "-".join(f"{x:.0f}" for x in np.percentile(v, [25, 75])) for k, v in rates.items()}
    print(f"{per_step} x {seq_len}-token rows per step: baseline transformers loop ({threads} torch threads) "
          f"{baseline:.0f} tok/s (IQR {iqr['baseline']}); engine ({layout.learners} learners x 1 thread) {engine:.0f} "
          f"tok/s (IQR {iqr['engine']}); {args.blocks} alternating blocks of {args.block} steps; load avg "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    return engine / baseline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=12, help="measured blocks per side")
    parser.add_argument("--block", type=int, default=4, help="steps per block")
    parser.add_argument("--warmup", type=int, default=4, help="unmeasured steps per side first")
    args = parser.parse_args()
    ratios = {n: measure(args, n) for n in (SMOKE_SEQ_LEN, BENCH_SEQ_LEN)}
    print(f"sft_train: {ratios[BENCH_SEQ_LEN]:.2f}x at {BENCH_SEQ_LEN}-token rows ({ratios[SMOKE_SEQ_LEN]:.2f}x at the "
          f"smoke recipe's {SMOKE_SEQ_LEN}) (goal >= 1.0)")


if __name__ == "__main__":
    main()
