"""Reference log-prob table: assembly from learner shares, on-disk cache and its key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from olmo3hpc.config import DPORun, DataConfig, MetaConfig, ModelConfig
from olmo3hpc.stages.ref_logprobs import RefRows, assemble, cache_key, cache_path, load, save


def _rows(indices: list[int]) -> RefRows:
    return RefRows(indices, [-float(i) for i in indices], [-2.0 * i for i in indices],
                   [1.0 + i for i in indices], [2.0] * len(indices))


def test_assemble_indexes_by_dataset_row() -> None:
    table = assemble([_rows([3, 0]), _rows([1, 2])], size=4)
    chosen, rejected = table.lookup(torch.tensor([2, 3]))
    assert chosen.total.tolist() == [-2.0, -3.0]
    assert rejected.total.tolist() == [-4.0, -6.0]
    assert chosen.mean.tolist() == pytest.approx([-2.0 / 3, -3.0 / 4])


def test_assemble_refuses_gaps_and_duplicates() -> None:
    with pytest.raises(RuntimeError, match="1 missing"):
        assemble([_rows([0, 1])], size=3)
    with pytest.raises(RuntimeError, match="1 computed twice or outside"):
        assemble([_rows([0, 1]), _rows([1])], size=2)


def test_save_load_round_trip_and_size_check(tmp_path: Path) -> None:
    table = assemble([_rows([0, 1, 2])], size=3)
    path = save(tmp_path / "ref" / "k.pt", table)
    again = load(path, size=3)
    assert again is not None and torch.equal(again.chosen, table.chosen)
    assert load(tmp_path / "absent.pt", size=3) is None
    with pytest.raises(RuntimeError, match="holds 3 pairs"):
        load(path, size=5)


def test_assemble_with_a_covered_subset() -> None:
    table = assemble([_rows([2, 0])], size=4, covered=torch.tensor([0, 2]))
    assert table.chosen[0].item() == 0.0 and torch.isnan(table.chosen[1])
    with pytest.raises(RuntimeError, match="1 computed twice or outside"):
        assemble([_rows([1, 0, 2])], size=4, covered=torch.tensor([0, 2]))


def test_cache_key_follows_data_model_and_template(tmp_path: Path) -> None:
    run = DPORun(meta=MetaConfig(output_root=str(tmp_path), seed=1),
                 model=ModelConfig(init="random:tiny", tokenizer="random:bpe"), data=DataConfig(mixer_list=("x", "1")))
    data = "0123456789abcdef"
    key = cache_key(run, data)
    assert cache_key(run, data) == key
    assert cache_key(run, "fedcba9876543210") != key
    assert cache_key(dataclasses.replace(run, meta=dataclasses.replace(run.meta, seed=2)), data) != key
    other_template = dataclasses.replace(run, model=dataclasses.replace(run.model, chat_template="olmo_thinker"))
    assert cache_key(other_template, data) != key
    capped = dataclasses.replace(run, dpo=dataclasses.replace(run.dpo, max_train_samples=10))
    assert cache_key(capped, data) != key
    assert cache_path(run, key).parent == tmp_path / "cache" / "ref_logps"
