"""Packing query+response samples into learner rows."""

from __future__ import annotations

import pytest

from olmo3hpc.stages.rl.batch import Sample, collate, pack, split_for_learners


def _sample(q: int, r: int, adv: float) -> Sample:
    return Sample(query=[7] * q, response=[8] * r, logprobs=[-0.5] * r, advantage=adv)


def test_greedy_in_order_packing_and_row_fields():
    rows = pack([_sample(2, 3, 1.0), _sample(1, 2, -1.0), _sample(3, 3, 0.5)], pack_length=8)
    assert [len(r["input_ids"]) for r in rows] == [8, 6]
    row = rows[0]
    assert row["position_ids"].tolist() == [0, 1, 2, 3, 4, 0, 1, 2]
    assert row["mask"].tolist() == [False, False, True, True, True, False, True, True]
    assert row["advantages"].tolist() == [0, 0, 1, 1, 1, 0, -1, -1]
    assert row["logp_engine"].tolist() == [0, 0, -0.5, -0.5, -0.5, 0, -0.5, -0.5]


def test_oversized_sample_and_logprob_mismatch_are_errors():
    with pytest.raises(ValueError, match="pack_length"):
        pack([_sample(5, 5, 0.0)], pack_length=8)
    with pytest.raises(ValueError, match="log-probs"):
        pack([Sample([1], [2, 3], [-1.0], 0.0)], pack_length=8)


def test_split_pads_every_learner_to_the_same_row_count():
    rows = pack([_sample(4, 4, 1.0)] * 3, pack_length=8)
    shards = split_for_learners(rows, world=2, pad_id=0)
    assert [len(s) for s in shards] == [2, 2]
    assert not shards[1][1]["mask"].any()


def test_collate_pads_rows_to_the_longest():
    rows = pack([_sample(1, 1, 1.0), _sample(1, 1, 1.0), _sample(1, 2, 1.0)], pack_length=4)
    batch = collate(rows, pad_id=0)
    assert batch["input_ids"].shape == (2, 4)
    assert batch["position_ids"].tolist() == [[0, 1, 0, 1], [0, 1, 2, 0]]
    assert batch["mask"][1].tolist() == [False, True, True, False]
