"""DPO data on the driver: pair filtering is counted, malformed rows name file and line, step sharding."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from olmo3hpc.catalog import load_recipe
from olmo3hpc.config import DPORun
from olmo3hpc.data.rows import DataError
from olmo3hpc.engine.modelfactory import load_tokenizer
from olmo3hpc.stages.dpo import PairData, load_pairs, micro_shards, step_micros


def _smoke(tmp_path: Path, **data: object) -> DPORun:
    run = load_recipe("smoke_dpo")
    return dataclasses.replace(
        run, meta=dataclasses.replace(run.meta, output_root=str(tmp_path)),
        data=dataclasses.replace(run.data, num_workers=1, **data),
    )


def _write(path: Path, rows: list[object]) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return str(path)


def _pair(prompt: str, good: str, bad: str) -> dict:
    msgs = [{"role": "user", "content": prompt}]
    return {"chosen": msgs + [{"role": "assistant", "content": good}],
            "rejected": msgs + [{"role": "assistant", "content": bad}]}


def test_pairs_whose_prompt_fills_max_seq_length_are_filtered_and_counted(tmp_path: Path) -> None:
    long_prompt = " ".join(["word"] * 200)
    path = _write(tmp_path / "p.jsonl", [_pair("What is 1 + 1?", "2", "zz")] * 3 + [_pair(long_prompt, "ok", "no")] * 2)
    run = _smoke(tmp_path, mixer_list=(path, "1.0"), eval_mixer_list=(), max_seq_length=200)
    data = load_pairs(run, load_tokenizer(run.model))
    assert data.filtered == 2
    assert len(data.selected) == 3 and sorted(data.selected.tolist()) == [0, 1, 2]
    assert max(data.train.streams["chosen"].lengths) <= 200


def test_max_train_samples_keeps_the_first_pairs_of_the_seeded_shuffle(tmp_path: Path) -> None:
    run = _smoke(tmp_path)
    tokenizer = load_tokenizer(run.model)
    full = load_pairs(run, tokenizer)
    capped = load_pairs(dataclasses.replace(run, dpo=dataclasses.replace(run.dpo, max_train_samples=10)), tokenizer)
    assert capped.selected.tolist() == full.selected[:10].tolist()
    assert sorted(full.selected.tolist()) == list(range(256))


@pytest.mark.parametrize("row, reason", [
    ('{"chosen": [{"role": "user", "content": "hi"}]', "bad json"),
    ({"chosen": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
      "rejected": [{"role": "user", "content": "DIFFERENT"}, {"role": "assistant", "content": "c"}]}, "share"),
    ({"chosen": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}, "rejected"),
])
def test_malformed_row_error_names_file_and_line(tmp_path: Path, row: object, reason: str) -> None:
    path = _write(tmp_path / "bad.jsonl", [_pair("q", "a", "b"), row])
    run = _smoke(tmp_path, mixer_list=(path, "1.0"), eval_mixer_list=())
    with pytest.raises(DataError, match=rf"bad\.jsonl:2: .*{reason}"):
        load_pairs(run, load_tokenizer(run.model))


def test_micro_shards_keep_ranks_in_lockstep() -> None:
    shards = micro_shards(np.arange(10), micro=2, world=2, split="train")
    assert [len(s) for s in shards] == [3, 3]
    kept = sorted(i for s in shards for m in s if m.keep for i in m.indices)
    assert kept == list(range(10))
    assert [m.keep for m in shards[1]] == [True, True, False]


def test_step_micros_split_a_step_by_rank_then_accumulation(tmp_path: Path) -> None:
    data = PairData(train=None, eval=None, selected=np.arange(100, 116), filtered=0)  # type: ignore[arg-type]
    run = _smoke(tmp_path)
    run = dataclasses.replace(run, train=dataclasses.replace(run.train, micro_batch_size=2))
    shards = step_micros(run, data, np.arange(8), world=2, accum=2)
    assert [[m.indices for m in s] for s in shards] == [[(100, 101), (102, 103)], [(104, 105), (106, 107)]]
