"""Fixtures for the post-training tools: real DeepSpeed ZeRO checkpoints (2 gloo ranks) and tiny HF models."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("ds_checkpoint_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_zero_checkpoint(out: Path, stage: int, bf16: bool = False) -> Path:
    """Train random:tiny 3 steps with DeepSpeed ZeRO-`stage` on 2 ranks; `out` gets checkpoints/ + logits.pt."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
           str(_free_port()), str(WORKER), str(out), "--zero-stage", str(stage)] + (["--bf16"] if bf16 else [])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


@pytest.fixture(scope="session", params=[2, 3], ids=["zero2", "zero3"])
def zero_ckpt(request, tmp_path_factory) -> Path:
    return make_zero_checkpoint(tmp_path_factory.mktemp(f"zero{request.param}"), request.param)


def save_tiny_hf(out: Path, seed: int, size: str = "tiny") -> Path:
    """A random:<size> Olmo3 + random:bpe tokenizer saved as an HF directory (the engine's export format)."""
    from olmo3hpc.config import ModelConfig
    from olmo3hpc.engine import modelfactory

    cfg = ModelConfig(init=f"random:{size}", tokenizer="random:bpe", dtype="float32")
    tok = modelfactory.load_tokenizer(cfg)
    model = modelfactory.load_model(cfg, seed=seed, tokenizer=tok)
    model.config.architectures = [type(model).__name__]  # as a trained export has it (vLLM routes on it)
    return modelfactory.save_hf(model.state_dict(), model.config, tok, out)
