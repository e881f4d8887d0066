"""DeepSpeed ZeRO-2/3 checkpoints (real, 2 gloo ranks) -> HF safetensors; logits must equal the live engine's."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from olmo3hpc.tools.convert import ConvertArgs, convert
from olmo3hpc.tools.torch_pickle import CheckpointFileError
from olmo3hpc.tools.zero_checkpoint import locate_checkpoint

TAG = "step_00000003"


def _logits(model_dir: Path, input_ids: torch.Tensor) -> torch.Tensor:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto")
    with torch.no_grad():
        return model(input_ids=input_ids).logits.float()


def _no_output_left(out: Path) -> None:
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}.partial-*"))


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_converted_logits_equal_live_engine(zero_ckpt: Path, tmp_path: Path, dtype: str) -> None:
    live = torch.load(zero_ckpt / "logits.pt")
    out = convert(ConvertArgs(checkpoint=str(zero_ckpt), output=str(tmp_path / "hf"), dtype=dtype,
                              model=str(zero_ckpt / "hf_config"), max_shard_size="200KB"))
    logits = _logits(out, live["input_ids"])
    if dtype == "float32":
        assert torch.equal(logits, live["logits"])
    else:
        assert (logits - live["logits"]).abs().max() < 0.05
    index = json.loads((out / "model.safetensors.index.json").read_text())
    shards = set(index["weight_map"].values())
    assert len(shards) > 1 and all((out / s).is_file() for s in shards)
    config = json.loads((out / "config.json").read_text())
    assert config["dtype"] == dtype and config["architectures"] == ["Olmo3ForCausalLM"]  # vLLM routes on it
    gen = json.loads((out / "generation_config.json").read_text())
    assert len(gen["eos_token_id"]) == 2  # <|im_end|> and <|endoftext|>
    assert (out / "tokenizer.json").is_file()


def _as_run_dir(zero_ckpt: Path, run_dir: Path) -> Path:
    """Lay the checkpoint out as the engine does: checkpoints/step_N/deepspeed/ + checkpoints/latest."""
    from olmo3hpc.catalog import load_recipe
    from olmo3hpc.config import dump_run

    run = load_recipe("smoke_sft")
    run = replace(run, meta=replace(run.meta, name=run_dir.name, output_root=str(run_dir.parent)))
    (run_dir / "checkpoints" / TAG).mkdir(parents=True)
    shutil.copytree(zero_ckpt / "checkpoints" / TAG, run_dir / "checkpoints" / TAG / "deepspeed")
    (run_dir / "checkpoints" / "latest").write_text(TAG)
    (run_dir / "config.yaml").write_text(dump_run(run))
    return run_dir


def test_run_dir_uses_latest_and_run_model(zero_ckpt: Path, tmp_path: Path) -> None:
    run_dir = _as_run_dir(zero_ckpt, tmp_path / "smoke")
    out = convert(ConvertArgs(checkpoint=str(run_dir), dtype="float32"))
    assert out == run_dir / "hf" / TAG
    live = torch.load(zero_ckpt / "logits.pt")
    assert torch.equal(_logits(out, live["input_ids"]), live["logits"])
    # a second export takes config/tokenizer from the first one (no transformers needed) and matches it
    again = convert(ConvertArgs(checkpoint=str(run_dir / "checkpoints"), output=str(tmp_path / "again"),
                                dtype="float32"))
    assert (again / "generation_config.json").read_text() == (out / "generation_config.json").read_text()
    assert torch.equal(_logits(again, live["input_ids"]), live["logits"])


def test_existing_output_needs_overwrite(zero_ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "hf"
    out.mkdir()
    (out / "keep").write_text("x")
    args = ConvertArgs(checkpoint=str(zero_ckpt), output=str(out), model=str(zero_ckpt / "hf_config"))
    with pytest.raises(FileExistsError, match="overwrite"):
        convert(args)
    assert (out / "keep").is_file()
    convert(replace(args, overwrite=True))
    assert not (out / "keep").exists() and (out / "config.json").is_file()


def _broken_copy(zero_ckpt: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ckpt"
    shutil.copytree(zero_ckpt, copy)
    return copy


def test_missing_rank_file_is_named(zero_ckpt: Path, tmp_path: Path) -> None:
    ckpt = _broken_copy(zero_ckpt, tmp_path)
    victim = ckpt / "checkpoints" / TAG / "zero_pp_rank_1_mp_rank_00_optim_states.pt"
    victim.unlink()
    out = tmp_path / "hf"
    with pytest.raises(CheckpointFileError, match="zero_pp_rank_1_mp_rank_00_optim_states.pt"):
        convert(ConvertArgs(checkpoint=str(ckpt), output=str(out), model=str(ckpt / "hf_config")))
    _no_output_left(out)


def test_truncated_rank_file_is_named(zero_ckpt: Path, tmp_path: Path) -> None:
    ckpt = _broken_copy(zero_ckpt, tmp_path)
    victim = ckpt / "checkpoints" / TAG / "zero_pp_rank_0_mp_rank_00_optim_states.pt"
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    out = tmp_path / "hf"
    with pytest.raises(CheckpointFileError, match=str(victim)):
        convert(ConvertArgs(checkpoint=str(ckpt), output=str(out), model=str(ckpt / "hf_config")))
    _no_output_left(out)


def test_other_model_shape_is_refused(zero_ckpt: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(zero_ckpt / "hf_config", other)
    config = json.loads((other / "config.json").read_text())
    config["intermediate_size"] *= 2
    (other / "config.json").write_text(json.dumps(config))
    out = tmp_path / "hf"
    with pytest.raises(CheckpointFileError, match=r"model_states\.pt: checkpoint does not match.*mlp"):
        convert(ConvertArgs(checkpoint=str(zero_ckpt), output=str(out), model=str(other)))
    _no_output_left(out)


def test_not_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        locate_checkpoint(tmp_path)
