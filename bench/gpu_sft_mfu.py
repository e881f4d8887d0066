"""Model FLOPs utilization of the SFT learner (bf16 DeepSpeed) on a ~1B random Olmo3, one GPU.

    python bench/gpu_sft_mfu.py [--seq 4096] [--rows 4] [--zero 2] [--steps 8]

Runs, in one process and on the same batch: (1) a plain transformers + DeepSpeed training loop (the
baseline: unpacked rows, gradient checkpointing, DeepSpeed's default AdamW), then (2) olmo3hpc's
`SFTLearner.train_step` on packed rows (several documents per row, per-document positions). MFU counts
model FLOPs only (6 x matmul params x tokens + causal attention), against the H100's 989 TFLOP/s dense
bf16 peak. No Ray is needed: the learner runs in-process as rank 0 of 1.
"""

from __future__ import annotations

import argparse
import os
import socket
import time

PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}


def model_flops_per_token(cfg, seq: int) -> float:
    h, layers = cfg.hidden_size, cfg.num_hidden_layers
    per_layer = 4 * h * h + 3 * h * cfg.intermediate_size  # q,k,v,o + gate,up,down (MHA: kv heads = heads)
    matmul = layers * per_layer + h * cfg.vocab_size  # + LM head
    attention = layers * 2 * h * seq / 2  # QK^T and AV, causal half, per token (x2 mult-add below)
    return 6 * matmul + 6 * attention


def synthetic_batch(vocab: int, rows: int, seq: int, docs_per_row: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = rng.integers(10, vocab, size=(rows, seq), dtype=np.int64)
    positions = np.zeros((rows, seq), dtype=np.int64)
    bounds = np.linspace(0, seq, docs_per_row + 1).astype(int)
    for a, b in zip(bounds[:-1], bounds[1:]):
        positions[:, a:b] = np.arange(b - a)
    return {"input_ids": ids, "labels": ids.copy(), "position_ids": positions}


def timed(step, steps: int) -> float:
    import torch

    for _ in range(2):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def run_config(args):
    from olmo3hpc.config import DataConfig, DeepSpeedConfig, ModelConfig, SFTRun, SlurmConfig, TrainConfig

    return SFTRun(
        model=ModelConfig(init="random:1b", tokenizer="random:bpe", dtype="bfloat16", params_b=1.2,
                          gradient_checkpointing=args.checkpointing, attn_implementation="sdpa"),
        data=DataConfig(mixer_list=("unused.jsonl", "1.0"), max_seq_length=args.seq),
        train=TrainConfig(micro_batch_size=args.rows),
        deepspeed=DeepSpeedConfig(zero_stage=args.zero),
        slurm=SlurmConfig(nodes=1, gpus_per_node=1),
    )


def baseline(run, batch, steps: int) -> float:
    """Plain transformers + DeepSpeed: the loop most people write first."""
    import deepspeed
    import torch

    from olmo3hpc.engine.modelfactory import load_model, load_tokenizer

    tok = load_tokenizer(run.model)
    model = load_model(run.model, seed=0, tokenizer=tok, attn_implementation="sdpa").to(torch.bfloat16)
    model.gradient_checkpointing_enable()
    ds = {"train_micro_batch_size_per_gpu": batch["input_ids"].shape[0], "gradient_accumulation_steps": 1,
          "bf16": {"enabled": True}, "zero_optimization": {"stage": run.deepspeed.zero_stage},
          "gradient_clipping": 1.0, "optimizer": {"type": "AdamW", "params": {"lr": 1e-5, "torch_adam": True}}}
    engine, *_ = deepspeed.initialize(model=model, model_parameters=model.parameters(), config=ds)
    ids = torch.as_tensor(batch["input_ids"], device="cuda")

    def step():
        loss = engine(input_ids=ids, labels=ids).loss
        engine.backward(loss)
        engine.step()

    seconds = timed(step, steps)
    del engine, model
    torch.cuda.empty_cache()
    return seconds


def ours(run, batch, steps: int) -> tuple[float, float]:
    import torch

    from olmo3hpc.config import plan
    from olmo3hpc.stages.sft import SFTLearner

    learner = SFTLearner(run, plan(run), rank=0, local_rank=0)
    learner.setup("127.0.0.1", free_port())
    seconds = timed(lambda: learner.train_step(batch, 1e-5), steps)
    return seconds, torch.cuda.max_memory_allocated() / 2**30


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seq", type=int, default=4096)
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--docs-per-row", type=int, default=4)
    parser.add_argument("--zero", type=int, default=2)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--checkpointing", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("gpu_sft_mfu: skipped, no CUDA GPU (goal >= 40% MFU)")
        return
    os.environ.setdefault("DS_ACCELERATOR", "cuda")
    from olmo3hpc.engine.modelfactory import load_tokenizer, random_model_config

    run = run_config(args)
    cfg = random_model_config("1b", load_tokenizer(run.model))
    peak = next((v for k, v in PEAK_TFLOPS.items() if k in torch.cuda.get_device_name()), 989.0) * 1e12
    tokens = args.rows * args.seq
    flops = model_flops_per_token(cfg, args.seq // args.docs_per_row) * tokens
    batch = synthetic_batch(cfg.vocab_size, args.rows, args.seq, args.docs_per_row)
    print(f"{torch.cuda.get_device_name()}: random Olmo3 {cfg.num_hidden_layers}L x {cfg.hidden_size}, vocab "
          f"{cfg.vocab_size}, {args.rows} rows x {args.seq} tokens, ZeRO-{args.zero}, bf16")
    base = None
    if not args.skip_baseline:
        base = baseline(run, synthetic_batch(cfg.vocab_size, args.rows, args.seq, 1), args.steps)
        base_flops = model_flops_per_token(cfg, args.seq) * tokens
        print(f"baseline (transformers+DeepSpeed, ckpt): {base:.3f} s/step, {tokens / base:,.0f} tok/s, "
              f"MFU {base_flops / base / peak:.1%}")
    seconds, mem = ours(run, batch, args.steps)
    mfu = flops / seconds / peak
    print(f"olmo3hpc SFTLearner (packed {args.docs_per_row} docs/row, ckpt={args.checkpointing}): {seconds:.3f} s/step, "
          f"{tokens / seconds:,.0f} tok/s, MFU {mfu:.1%}, peak mem {mem:.1f} GiB")
    ratio = f", {base / seconds:.2f}x baseline tokens/s" if base else ""
    print(f"gpu_sft_mfu: {mfu:.1%} MFU{ratio} (goal >= 40%)")


if __name__ == "__main__":
    main()
