"""Packing: best-fit decreasing validity and efficiency, row contents, collation, packed vs unpacked."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from data_helpers import chat, sft_run, with_data, write_jsonl

from olmo3hpc.data.packing import assemble, best_fit_decreasing, collate, efficiency, greedy_in_order
from olmo3hpc.data.sft_rows import SFTRows


def check_bins(lengths: np.ndarray, bins: list[list[int]], capacity: int) -> None:
    placed = sorted(d for b in bins for d in b)
    assert placed == list(range(len(lengths))), "every document exactly once"
    assert all(sum(lengths[d] for d in b) <= capacity for b in bins)


def realistic_lengths(n: int, capacity: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.lognormal(np.log(capacity / 12), 1.0, n).astype(int) + 8, 8, capacity)


@pytest.mark.parametrize("seed", range(3))
def test_bfd_is_valid_and_beats_greedy(seed):
    lengths = realistic_lengths(3000, 1024, seed)
    bfd, greedy = best_fit_decreasing(lengths, 1024), greedy_in_order(lengths, 1024)
    check_bins(lengths, bfd, 1024)
    check_bins(lengths, greedy, 1024)
    assert efficiency(lengths, bfd, 1024) >= 0.98 > efficiency(lengths, greedy, 1024)


def test_bfd_picks_the_tightest_bin():
    # Decreasing 6, 5, 4 each open a bin (rooms 2, 3, 4); 3 fits rooms 3 and 4: best fit is room 3.
    assert best_fit_decreasing(np.array([3, 5, 6, 4]), 8) == [[2], [1, 0], [3]]
    assert best_fit_decreasing(np.array([4, 4, 4, 4]), 8) == [[0, 1], [2, 3]]


def test_oversized_document_is_refused():
    with pytest.raises(ValueError, match="> row length"):
        best_fit_decreasing(np.array([5, 9]), 8)


def test_assemble_restarts_positions_and_masks_document_starts():
    a = (np.array([10, 11, 12]), np.array([False, True, True]))
    b = (np.array([20, 21]), np.array([True, True]))
    row = assemble([a, b], 8, pad_id=0)
    assert row.input_ids.tolist() == [10, 11, 12, 20, 21, 0, 0, 0]
    assert row.labels.tolist() == [-100, 11, 12, -100, 21, -100, -100, -100]
    assert row.position_ids.tolist() == [0, 1, 2, 0, 1, 0, 1, 2]
    assert row.doc_ids.tolist() == [0, 0, 0, 1, 1, -1, -1, -1]
    assert row.doc_lens == (3, 2)


def test_collate_gives_varlen_boundaries():
    rows = [assemble([(np.array([1, 2, 3]), np.ones(3, bool))], 4, 0),
            assemble([(np.array([4]), np.ones(1, bool)), (np.array([5, 6, 7]), np.ones(3, bool))], 4, 0)]
    batch = collate(rows, pad_id=0)
    assert batch["input_ids"].shape == (2, 4) and batch["input_ids"].dtype == torch.int64
    assert batch["cu_seqlens"].tolist() == [0, 3, 4, 5, 8] and batch["max_seqlen"] == 3
    # position_ids restart exactly where cu_seqlens says a segment starts
    starts = torch.nonzero(batch["position_ids"].flatten() == 0).flatten().tolist()
    assert starts == batch["cu_seqlens"][:-1].tolist()


def test_packed_and_unpacked_rows_hold_the_same_training_tokens(tmp_path, tokenizer):
    rows = [chat(f"What is {i} + {i}?", f"{2 * i}" * (1 + i % 4), system="Be brief.") for i in range(40)]
    run = sft_run(tmp_path, (str(write_jsonl(tmp_path / "a.jsonl", rows)), "1.0"), max_seq_length=128)
    packed = SFTRows.from_run(run, tokenizer)
    unpacked = SFTRows.from_run(with_data(run, packing=False), tokenizer)
    assert len(packed) < len(unpacked) == 40 and packed.efficiency > 0.9

    def per_doc(rows: SFTRows) -> list[tuple]:
        out = []
        for i in range(len(rows)):
            row, pos = rows[i], 0
            for n in row.doc_lens:
                out.append((tuple(row.input_ids[pos:pos + n]), tuple(row.labels[pos:pos + n])))
                pos += n
            assert (row.labels[pos:] == -100).all()
        return sorted(out)

    assert per_doc(packed) == per_doc(unpacked)
    assert sum(int((packed[i].labels != -100).sum()) for i in range(len(packed))) == sum(
        int((unpacked[i].labels != -100).sum()) for i in range(len(unpacked)))


def test_packing_is_deterministic_given_the_seed(tmp_path, tokenizer):
    rows = [chat(f"q{i}", "a" * (i % 5 + 1), system="s") for i in range(30)]
    run = sft_run(tmp_path, (str(write_jsonl(tmp_path / "a.jsonl", rows)), "1.0"), max_seq_length=96)
    assert SFTRows.from_run(run, tokenizer).bins == SFTRows.from_run(run, tokenizer).bins


@pytest.mark.parametrize("packing", [True, False])
def test_batch_is_fixed_width_and_pad_tails_are_their_own_segment(tmp_path, tokenizer, packing):
    rows = [chat(f"q{i}", "b" * (i % 7 + 1), system="s") for i in range(24)]
    run = with_data(sft_run(tmp_path, (str(write_jsonl(tmp_path / "a.jsonl", rows)), "1.0"), max_seq_length=96),
                    packing=packing)
    sft = SFTRows.from_run(run, tokenizer)
    batch = sft.batch(np.array([2, 0]))
    assert sorted(batch) == ["input_ids", "labels", "position_ids"]
    assert all(v.shape == (2, 96) and v.dtype == np.int64 for v in batch.values())
    for b, index in enumerate((2, 0)):
        row, used = sft[index], sum(sft[index].doc_lens)
        np.testing.assert_array_equal(batch["input_ids"][b, :used], row.input_ids[:used])
        np.testing.assert_array_equal(batch["labels"][b, :used], row.labels[:used])
        assert (batch["input_ids"][b, used:] == sft.pad_id).all() and (batch["labels"][b, used:] == -100).all()
        np.testing.assert_array_equal(batch["position_ids"][b, used:], np.arange(96 - used))
    assert "24 conversations" in sft.describe()
