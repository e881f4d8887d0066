"""`dataset_mixer_list` semantics, hub-style split files, and parquet sources."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from data_helpers import chat, write_jsonl

from olmo3hpc.data.mixer import load_mix, select_indices
from olmo3hpc.data.rows import DataError, MalformedLog, sft_problem
from olmo3hpc.data.sources import split_files


def check(row: dict) -> str | None:
    return sft_problem(row.get("messages"), "messages")


def numbered(tmp_path, name: str, n: int):
    return write_jsonl(tmp_path / name, [chat(f"q{i}", f"a{i}") for i in range(n)])


def questions(part) -> list[int]:
    return [int(r.data["messages"][0]["content"][1:]) for r in part.rows]


def mix(*items: str, splits=("train",)):
    return load_mix(tuple(items), splits, check, MalformedLog())


def test_fraction_one_is_every_row_in_file_order(tmp_path):
    (part,) = mix(str(numbered(tmp_path, "a.jsonl", 10)), "1.0")
    assert questions(part) == list(range(10))


def test_fraction_is_a_seeded_sample_without_replacement(tmp_path):
    (part,) = mix(str(numbered(tmp_path, "a.jsonl", 10)), "0.5")
    picked = questions(part)
    assert len(picked) == 5 == len(set(picked))
    # open-instruct select_samples: np.random.RandomState(42).choice(size, extra, replace=False)
    assert picked == np.random.RandomState(42).choice(10, 5, replace=False).tolist()


def test_integer_count_and_upsampling(tmp_path):
    path = str(numbered(tmp_path, "a.jsonl", 10))
    (small,) = mix(path, "3")
    assert len(set(questions(small))) == 3
    (big,) = mix(path, "25")
    counts = Counter(questions(big))
    assert len(big.rows) == 25 and questions(big)[:20] == list(range(10)) * 2
    assert sorted(counts.values()) == [2] * 5 + [3] * 5


def test_fraction_above_one_upsamples(tmp_path):
    (part,) = mix(str(numbered(tmp_path, "a.jsonl", 4)), "2.5")
    assert len(part.rows) == 10 and Counter(questions(part))[0] >= 2


def test_datasets_concatenate_in_list_order_with_same_seed(tmp_path):
    a, b = str(numbered(tmp_path, "a.jsonl", 6)), str(numbered(tmp_path, "b.jsonl", 6))
    parts = mix(a, "2", b, "1.0")
    assert [p.name for p in parts] == [a, b] and [len(p.rows) for p in parts] == [2, 6]
    assert questions(parts[0]) == select_indices(6, 2, seed=42).tolist()


def test_local_files_have_only_train(tmp_path):
    with pytest.raises(DataError, match="only a 'train' split"):
        mix(str(numbered(tmp_path, "a.jsonl", 2)), "1.0", splits=("test",))


def test_missing_local_file_is_named(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        mix(str(tmp_path / "nope.jsonl"), "1.0")


def test_split_files_follow_hub_layout():
    files = ["README.md", "data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet",
             "data/test-00000-of-00001.parquet", "data/train_extra.jsonl"]
    assert split_files(files, "train") == files[1:3]
    assert split_files(files, "test") == ["data/test-00000-of-00001.parquet"]
    assert split_files(["all.jsonl", "eval.jsonl"], "train") == ["all.jsonl"]
    assert split_files(["train/part1.jsonl", "test/part1.jsonl"], "test") == ["test/part1.jsonl"]


def test_hub_style_directory_of_parquet_files(tmp_path):
    repo = tmp_path / "repo" / "data"
    repo.mkdir(parents=True)
    for split, n in (("train", 5), ("test", 2)):
        rows = [chat(f"q{i}", f"a{i}") for i in range(n)]
        pq.write_table(pa.Table.from_pylist(rows), repo / f"{split}-00000-of-00001.parquet")
    (train,) = mix(str(tmp_path / "repo"), "1.0")
    (test,) = mix(str(tmp_path / "repo"), "1.0", splits=("test",))
    assert questions(train) == list(range(5)) and questions(test) == [0, 1]
    assert train.rows[3].origin.line == 4 and train.rows[3].origin.file.endswith("train-00000-of-00001.parquet")


def test_offline_hub_fingerprint_uses_the_local_download_record(tmp_path, monkeypatch):
    from huggingface_hub import constants

    from olmo3hpc.data.sources import fingerprint

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(DataError, match="cannot reach the hub"):
        fingerprint("allenai/some-mix", "train")
    refs = tmp_path / "datasets--allenai--some-mix" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text("abc123\n")
    assert fingerprint("allenai/some-mix", "train") == "hub:allenai/some-mix@abc123:train"
