"""SFT training throughput on CPU: olmo3hpc's engine (Ray + DeepSpeed learners, `stages.sft.train`) vs a
plain transformers + torch.optim.AdamW loop on the same tiny Olmo3 and the same packed rows.

The engine runs as the smoke_sft recipe places it (one learner per core, one torch thread each, ZeRO-2
over gloo); the baseline is one process at its best torch thread count (1 or all cores: on a shared
CPU, OpenMP threads spinning against other processes can make all cores slower than one). Both train
the same rows per optimizer step and report steady-state training tokens/s (non-padding tokens; wall
time between step ends, warm-up steps excluded). The baseline is measured before and after the engine
and averaged, because other work on a shared machine drifts.

    python bench/sft_train.py [--steps 30] [--warmup 5]

Last line: `sft_train: <engine tok/s / baseline tok/s>x (goal >= 1.0)`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import torch

from olmo3hpc.catalog import load_recipe
from olmo3hpc.config import SFTRun, plan, replace_path
from olmo3hpc.data.sft_rows import SFTRows
from olmo3hpc.engine.metrics import read_metrics
from olmo3hpc.engine.modelfactory import load_model, load_tokenizer
from olmo3hpc.engine.order import TrainOrder
from olmo3hpc.stages.sft import train


def bench_run(root: str, steps: int) -> SFTRun:
    run = load_recipe("smoke_sft")
    for path, value in (("meta.output_root", root), ("meta.name", "bench"), ("train.max_steps", steps),
                        ("train.checkpoint_every", 0), ("train.epochs", 100.0), ("train.log_every", 10)):
        run = replace_path(run, path, value)
    return run


def baseline_tokens_per_s(run: SFTRun, steps: int, warmup: int, threads: int) -> float:
    """The loop a user would write with transformers alone (same packing, HF's mean loss, AdamW, clipping),
    training the engine's global batch (micro_batch_size x grad_accum x learners rows) per step."""
    torch.set_num_threads(threads)
    tokenizer = load_tokenizer(run.model)
    rows = SFTRows.from_run(run, tokenizer)
    layout = plan(run)
    per_step = run.train.micro_batch_size * layout.grad_accum * layout.learners
    order = TrainOrder(len(rows), per_step, run.train.epochs, run.data.shuffle_seed, steps)
    model = load_model(run.model, seed=run.meta.seed, tokenizer=tokenizer)
    model.train()
    o = run.optim
    opt = torch.optim.AdamW(model.parameters(), lr=o.lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay)
    tokens, start = 0, 0.0
    for step in range(steps):
        if step == warmup:
            tokens, start = 0, time.perf_counter()
        batch = {k: torch.from_numpy(v) for k, v in rows.batch(order.step_items(step)).items()}
        out = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], labels=batch["labels"],
                    use_cache=False)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), o.max_grad_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
        tokens += int((batch["input_ids"] != tokenizer.pad_token_id).sum())
    return tokens / (time.perf_counter() - start)


def engine_tokens_per_s(run: SFTRun, warmup: int) -> float:
    train(run)
    records = [r for r in read_metrics(run.meta.run_dir) if r["step"] > warmup]
    tokens = sum(r["tokens"] for r in records[1:])
    return tokens / (records[-1]["time"] - records[0]["time"])


def best_baseline(run: SFTRun, steps: int, warmup: int) -> tuple[float, int]:
    """(tokens/s, threads) of the baseline at its faster thread count."""
    return max((baseline_tokens_per_s(run, steps, warmup, n), n) for n in sorted({1, os.cpu_count() or 1}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    with tempfile.TemporaryDirectory(prefix="sftbench") as root:
        run = bench_run(root, args.steps)
        first = best_baseline(run, args.steps, args.warmup)
        engine = engine_tokens_per_s(run, args.warmup)
        second = best_baseline(run, args.steps, args.warmup)
    baseline = float(np.mean([first[0], second[0]]))
    layout = plan(run)
    print(f"baseline transformers loop: {first[0]:.0f} / {second[0]:.0f} tok/s (best torch threads: {first[1]} / "
          f"{second[1]}); engine: {engine:.0f} tok/s ({layout.learners} learners x 1 thread; {args.steps} steps of "
          f"{run.train.micro_batch_size * layout.learners} x {run.data.max_seq_length} tokens); machine load avg "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"sft_train: {engine / baseline:.2f}x (goal >= 1.0)")


if __name__ == "__main__":
    main()
