"""Worker for the conversion tests and bench: trains a random Olmo3 a few steps with real DeepSpeed ZeRO
on gloo ranks, saves a DeepSpeed checkpoint and the live engine's logits on a fixed input.

    python -m torch.distributed.run --nproc_per_node 2 tests/tools/ds_checkpoint_worker.py \
        OUT --zero-stage 3 [--steps 3] [--bf16] [--size tiny|bench]

Writes OUT/checkpoints/<tag>/ (DeepSpeed files), OUT/checkpoints/latest (DeepSpeed's own tag file),
OUT/logits.pt (rank 0: {"input_ids", "logits"}) and OUT/hf_config/ (config + tokenizer).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

TAG = "step_00000003"
BENCH_SHAPE = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=12, num_attention_heads=16,
                   num_key_value_heads=16, vocab_size=32768)
"""~250M parameters: large enough for conversion time/memory figures, small enough for 2 CPU cores."""


def _config(size: str, tokenizer) -> object:
    from transformers import Olmo3Config

    from olmo3hpc.engine.modelfactory import random_model_config

    if size == "tiny":
        return random_model_config("tiny", tokenizer)
    layers = BENCH_SHAPE["num_hidden_layers"]
    return Olmo3Config(**BENCH_SHAPE, layer_types=(["sliding_attention"] * 3 + ["full_attention"]) * (layers // 4),
                       max_position_embeddings=1024, sliding_window=64, pad_token_id=tokenizer.pad_token_id,
                       eos_token_id=tokenizer.eos_token_id)


def _ds_config(stage: int, bf16: bool) -> dict:
    return {
        "train_micro_batch_size_per_gpu": 2, "gradient_accumulation_steps": 1, "gradient_clipping": 1.0,
        "bf16": {"enabled": bf16}, "zero_optimization": {"stage": stage},
        "optimizer": {"type": "AdamW", "params": {"lr": 1e-2, "torch_adam": True}},
        "steps_per_print": 1 << 30, "zero_allow_untested_optimizer": True,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--zero-stage", type=int, required=True)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--size", default="tiny", choices=["tiny", "bench"])
    args = ap.parse_args()
    out = Path(args.out)

    import deepspeed
    from transformers import AutoModelForCausalLM
    from transformers.integrations import HfDeepSpeedConfig

    from olmo3hpc.engine.modelfactory import random_bpe_tokenizer

    deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False  # no JIT build of the shm comm op
    deepspeed.init_distributed(dist_backend="gloo")
    rank = int(os.environ["RANK"])
    tokenizer = random_bpe_tokenizer()
    config = _config(args.size, tokenizer)
    ds_cfg = _ds_config(args.zero_stage, args.bf16)
    keep_alive = HfDeepSpeedConfig(ds_cfg) if args.zero_stage == 3 else None  # zero.Init under from_config
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="sdpa")
    engine, *_ = deepspeed.initialize(model=model, model_parameters=model.parameters(), config=ds_cfg)
    gen = torch.Generator().manual_seed(100 + rank)
    for _ in range(args.steps):
        ids = torch.randint(0, config.vocab_size, (2, 16), generator=gen)
        loss = engine(input_ids=ids, labels=ids).loss
        engine.backward(loss)
        engine.step()
    engine.save_checkpoint(str(out / "checkpoints"), tag=TAG)
    probe = torch.arange(24).remainder(config.vocab_size).view(2, 12)
    engine.eval()
    with torch.no_grad():
        logits = engine(input_ids=probe).logits.float()
    if rank == 0:
        torch.save({"input_ids": probe, "logits": logits}, out / "logits.pt")
        config.save_pretrained(out / "hf_config")
        tokenizer.save_pretrained(out / "hf_config")
    del keep_alive
    torch.distributed.barrier()


if __name__ == "__main__":
    main()
