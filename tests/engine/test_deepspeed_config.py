"""Golden files of the generated DeepSpeed JSON. Regenerate after an intended change with
OLMO3HPC_UPDATE_GOLDEN=1 pytest tests/engine/test_deepspeed_config.py, and review the diff."""

import json
import os
from pathlib import Path

import pytest

from olmo3hpc.catalog import load_recipe
from olmo3hpc.config import plan, replace_path
from olmo3hpc.engine.deepspeed_config import deepspeed_config

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


@pytest.mark.parametrize("recipe", ["smoke_sft", "7b_think_sft"])
def test_deepspeed_json_matches_golden(recipe):
    run = load_recipe(recipe)
    text = json.dumps(deepspeed_config(run, plan(run)), indent=2, sort_keys=True) + "\n"
    path = GOLDEN / f"deepspeed_{recipe}.json"
    if os.environ.get("OLMO3HPC_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"{path} missing; run with OLMO3HPC_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text()


def test_cpu_uses_torch_adam_fp32_and_gpu_bf16_fused():
    cpu = load_recipe("smoke_sft")
    cfg = deepspeed_config(cpu, plan(cpu))
    assert cfg["optimizer"]["params"]["torch_adam"] is True and cfg["bf16"]["enabled"] is False
    gpu = load_recipe("7b_think_sft")
    cfg = deepspeed_config(gpu, plan(gpu))
    assert "torch_adam" not in cfg["optimizer"]["params"] and cfg["bf16"]["enabled"] is True
    assert cfg["optimizer"]["params"]["betas"] == [0.9, 0.95] and cfg["gradient_clipping"] == 1.0


def test_batch_arithmetic_offload_and_hpz():
    run = load_recipe("7b_think_sft")
    run = replace_path(run, "deepspeed.hpz_partition_size", 8)
    run = replace_path(run, "deepspeed.offload_optimizer", True)
    layout = plan(run)
    cfg = deepspeed_config(run, layout)
    assert cfg["train_batch_size"] == cfg["train_micro_batch_size_per_gpu"] * cfg["gradient_accumulation_steps"] * layout.learners
    assert cfg["zero_optimization"]["zero_hpz_partition_size"] == 8
    assert cfg["zero_optimization"]["offload_optimizer"]["device"] == "cpu"
