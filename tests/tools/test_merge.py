"""Model soup: the streamed weighted average equals the average computed with torch, and loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from olmo3hpc.tools.merge import MergeArgs, merge
from tests.tools.conftest import save_tiny_hf


def _weights(model_dir: Path) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for f in sorted(model_dir.glob("*.safetensors")):
        out.update(load_file(f))
    return out


@pytest.fixture(scope="module")
def two_models(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("soup")
    return save_tiny_hf(root / "a", seed=1), save_tiny_hf(root / "b", seed=2)


def test_weighted_average_matches_torch(two_models: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two_models
    out = merge(MergeArgs(models=(str(a), str(b)), weights=(1.0, 3.0), output=str(tmp_path / "soup"),
                          dtype="float32", max_shard_size="100KB"))
    wa, wb, soup = _weights(a), _weights(b), _weights(out)
    assert set(soup) == set(wa)
    for name, t in soup.items():
        torch.testing.assert_close(t, 0.25 * wa[name] + 0.75 * wb[name], rtol=0, atol=1e-7)
    assert json.loads((out / "merge.json").read_text())["weights"] == [0.25, 0.75]
    assert len(json.loads((out / "generation_config.json").read_text())["eos_token_id"]) == 2


def test_soup_of_one_model_twice_is_that_model(two_models: tuple[Path, Path], tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    a, _ = two_models
    out = merge(MergeArgs(models=(str(a), str(a)), output=str(tmp_path / "same"), dtype="float32"))
    ids = torch.arange(10).view(1, 10)
    with torch.no_grad():
        ref = AutoModelForCausalLM.from_pretrained(a)(input_ids=ids).logits
        got = AutoModelForCausalLM.from_pretrained(out)(input_ids=ids).logits
    assert torch.equal(ref, got)


def test_bf16_output_is_rounded_average(two_models: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two_models
    out = merge(MergeArgs(models=(str(a), str(b)), output=str(tmp_path / "bf16")))
    wa, wb, soup = _weights(a), _weights(b), _weights(out)
    for name, t in soup.items():
        assert t.dtype == torch.bfloat16
        assert torch.equal(t, (0.5 * wa[name] + 0.5 * wb[name]).to(torch.bfloat16))


def test_shape_mismatch_names_the_model(two_models: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = two_models
    other = tmp_path / "other"
    state = _weights(a)
    state["model.norm.weight"] = torch.ones(7)
    other.mkdir()
    from safetensors.torch import save_file

    save_file(state, other / "model.safetensors")
    out = tmp_path / "bad"
    with pytest.raises(ValueError, match=rf"{other}: tensor 'model.norm.weight' has shape \[7\]"):
        merge(MergeArgs(models=(str(a), str(other)), output=str(out)))
    assert not out.exists()


def test_missing_shard_names_the_index(two_models: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    a, _ = two_models
    broken = tmp_path / "broken"
    shutil.copytree(a, broken)
    for f in broken.glob("*.safetensors"):
        f.unlink()
    (broken / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"x": "model-1.safetensors"}}))
    with pytest.raises(FileNotFoundError, match="model.safetensors.index.json"):
        merge(MergeArgs(models=(str(a), str(broken)), output=str(tmp_path / "out")))
    assert not (tmp_path / "out").exists()


def test_bad_weights() -> None:
    with pytest.raises(ValueError, match="2 weights for 3 models"):
        merge(MergeArgs(models=("a", "b", "c"), weights=(1.0, 1.0), output="x"))
