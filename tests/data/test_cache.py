"""Tokenization cache: contents, key, reuse, worker processes, and the DPO/RL variants."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
from data_helpers import chat, sft_run, with_data, write_jsonl

from olmo3hpc.config import DPORun, RLRun, RolloutConfig
from olmo3hpc.data.cache import build_cache, load_cache, open_cache
from olmo3hpc.data.encode import encode_chats
from olmo3hpc.data.templates import ChatRenderer


def arithmetic(n: int, offset: int = 0) -> list[dict]:
    return [chat(f"What is {i} + {i + offset}?", f"{i} + {i + offset} = {2 * i + offset}.") for i in range(n)]


def test_cache_holds_exact_tokens_masks_and_stats(tmp_path, tokenizer):
    rows = arithmetic(12)
    run = sft_run(tmp_path, (str(write_jsonl(tmp_path / "a.jsonl", rows)), "1.0"))
    cache = open_cache(run, tokenizer)
    docs = cache.streams["doc"]
    expected = encode_chats(tokenizer, ChatRenderer.for_tokenizer(tokenizer, "olmo"), [r["messages"] for r in rows])
    assert len(docs) == 12
    for i, enc in enumerate(expected):
        assert docs.ids(i).tolist() == enc.ids.tolist() and docs.mask(i).tolist() == enc.mask.tolist()
    assert isinstance(docs.ids(0), np.memmap)  # memory-mapped, not loaded
    (stats,) = cache.meta["datasets"]
    assert stats["kept"] == 12 and stats["tokens"] == sum(len(e.ids) for e in expected)
    assert stats["label_tokens"] == sum(int(e.mask.sum()) for e in expected)
    assert cache.meta["pad_token_id"] == tokenizer.pad_token_id


def test_cache_is_reused_and_keyed_on_what_changes_tokens(tmp_path, tokenizer):
    path = write_jsonl(tmp_path / "a.jsonl", arithmetic(5))
    run = sft_run(tmp_path, (str(path), "1.0"))
    first = build_cache(run, tokenizer)
    stamp = (first / "meta.json").stat().st_mtime_ns
    assert build_cache(run, tokenizer) == first and (first / "meta.json").stat().st_mtime_ns == stamp
    thinker = dataclasses.replace(run, model=dataclasses.replace(run.model, chat_template="olmo_thinker"))
    others = {
        build_cache(thinker, tokenizer),
        build_cache(with_data(run, max_seq_length=200), tokenizer),
        build_cache(with_data(run, mixer_list=(str(path), "3")), tokenizer),
    }
    write_jsonl(path, arithmetic(6))
    others.add(build_cache(run, tokenizer))
    assert first not in others and len(others) == 4
    assert build_cache(with_data(run, num_workers=3, packing=False), tokenizer) in others  # not part of the key


def test_worker_processes_give_identical_arrays(tmp_path, tokenizer):
    path = str(write_jsonl(tmp_path / "a.jsonl", arithmetic(700)))
    one = load_cache(build_cache(sft_run(tmp_path / "one", (path, "1.0"), num_workers=1), tokenizer))
    two = load_cache(build_cache(sft_run(tmp_path / "two", (path, "1.0"), num_workers=2), tokenizer))
    for name in ("ids", "mask", "offsets"):
        a, b = (np.load(c.path / f"doc.{name}.npy") for c in (one, two))
        np.testing.assert_array_equal(a, b)


def test_truncated_rows_without_labels_are_filtered_and_counted(tmp_path, tokenizer):
    long_prompt = chat("word " * 300, "ok")
    path = write_jsonl(tmp_path / "a.jsonl", arithmetic(3) + [long_prompt])
    cache = open_cache(sft_run(tmp_path, (str(path), "1.0"), max_seq_length=200), tokenizer)
    (stats,) = cache.meta["datasets"]
    assert stats["kept"] == 3 and stats["filtered"] == 1 and len(cache) == 3
    assert cache.streams["doc"].lengths.max() <= 200


def test_skipped_malformed_rows_are_summarized(tmp_path, tokenizer):
    bad = {"messages": [{"role": "user", "content": "u"}]}
    path = write_jsonl(tmp_path / "a.jsonl", arithmetic(3) + [bad, "{oops"])
    cache = open_cache(sft_run(tmp_path, (str(path), "1.0"), skip_malformed=True), tokenizer)
    assert cache.meta["malformed"]["skipped"] == 2 and len(cache) == 3
    assert set(cache.meta["malformed"]["by_reason"]) == {"nothing to train on", "bad json"}


def test_eval_mix_is_a_separate_cache(tmp_path, tokenizer):
    train = str(write_jsonl(tmp_path / "a.jsonl", arithmetic(4)))
    held = str(write_jsonl(tmp_path / "b.jsonl", arithmetic(2, offset=5)))
    run = sft_run(tmp_path, (train, "1.0"), eval_mixer_list=(held, "1.0"))
    assert len(open_cache(run, tokenizer, which="eval")) == 2 and len(open_cache(run, tokenizer)) == 4


def test_dpo_cache_masks_the_shared_prompt(tmp_path, tokenizer):
    prompt = [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},
              {"role": "user", "content": "and 3+3?"}]
    row = {"chosen": prompt + [{"role": "assistant", "content": "6"}],
           "rejected": prompt + [{"role": "assistant", "content": "7 maybe"}]}
    path = write_jsonl(tmp_path / "p.jsonl", [row, row])
    base = sft_run(tmp_path, (str(path), "1.0"))
    run = DPORun(meta=base.meta, model=base.model, data=base.data)
    cache = open_cache(run, tokenizer)
    chosen, rejected = cache.streams["chosen"], cache.streams["rejected"]
    assert len(cache) == 2
    assert tokenizer.decode(chosen.ids(0)[chosen.mask(0)]) == "6<|endoftext|>"
    assert tokenizer.decode(rejected.ids(0)[rejected.mask(0)]) == "7 maybe<|endoftext|>"


def test_rl_cache_keeps_labels_and_filters_long_prompts(tmp_path, tokenizer):
    rows = [
        {"messages": [{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"}],
         "ground_truth": "2", "dataset": "math"},
        {"messages": [{"role": "user", "content": "word " * 300}], "ground_truth": ["x"], "dataset": ["math"]},
    ]
    path = write_jsonl(tmp_path / "r.jsonl", rows)
    base = sft_run(tmp_path, (str(path), "1.0"))
    run = RLRun(meta=base.meta, model=base.model, data=base.data,
                rollout=RolloutConfig(max_prompt_length=200, response_length=16))
    cache = open_cache(run, tokenizer)
    assert len(cache) == 1 and cache.meta["datasets"][0]["filtered"] == 1
    assert cache.prompt_rows == [{"ground_truth": ["2"], "dataset": ["math"], "raw_prompt": "user: 1+1?"}]
    text = tokenizer.decode(cache.streams["prompt"].ids(0))
    assert text.endswith("<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n")
    assert json.loads((cache.path / "meta.json").read_text())["stage"] == "rl"


def test_command_line_builds_from_a_frozen_config(tmp_path, capsys):
    from olmo3hpc.config import dump_run
    from olmo3hpc.data.__main__ import main

    run = sft_run(tmp_path, (str(write_jsonl(tmp_path / "a.jsonl", arithmetic(3))), "1.0"))
    (tmp_path / "config.yaml").write_text(dump_run(run))
    path = main(["build", str(tmp_path)])
    assert (path / "meta.json").exists() and path.parent == tmp_path / "runs" / "cache"
    assert "3 sft items" in capsys.readouterr().out
