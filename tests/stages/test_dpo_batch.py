"""Concatenated chosen+rejected forward on a tiny random Olmo3: padding does not change log-probs."""

from __future__ import annotations

import pytest
import torch

from olmo3hpc.config import ModelConfig
from olmo3hpc.engine.modelfactory import load_model, load_tokenizer
from olmo3hpc.stages.dpo_batch import PairRows, collate_pairs, concatenated_forward
from olmo3hpc.stages.dpo_loss import sequence_logps

CFG = ModelConfig(init="random:tiny", tokenizer="random:bpe", dtype="float32")


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return load_model(CFG, seed=3, tokenizer=load_tokenizer(CFG)).eval()


def _pair(index: int, prompt: list[int], chosen: list[int], rejected: list[int]) -> PairRows:
    masked = [-100] * len(prompt)
    return PairRows(index, prompt + chosen, masked + chosen, prompt + rejected, masked + rejected)


def test_collate_puts_chosen_first_and_pads_labels() -> None:
    batch = collate_pairs([_pair(7, [11, 12], [13], [14, 15, 16]), _pair(2, [11], [17, 18], [19])], pad_id=1)
    assert batch.input_ids.shape == (4, 5)
    assert batch.input_ids[0].tolist() == [11, 12, 13, 1, 1]
    assert batch.labels[2].tolist() == [-100, -100, 14, 15, 16]
    assert batch.labels[1].tolist() == [-100, 17, 18, -100, -100]
    assert batch.indices.tolist() == [7, 2]
    assert batch.real_tokens == 3 + 3 + 5 + 2


def test_concatenated_forward_matches_one_sequence_at_a_time(model: torch.nn.Module) -> None:
    pairs = [_pair(0, [20, 21, 22], [30, 31], [40, 41, 42, 43, 44]), _pair(1, [23], [32, 33, 34], [45])]
    with torch.no_grad():
        chosen, rejected = concatenated_forward(model, collate_pairs(pairs, pad_id=1))
        for i, p in enumerate(pairs):
            for ids, labels, got in ((p.chosen_ids, p.chosen_labels, chosen), (p.rejected_ids, p.rejected_labels, rejected)):
                alone = sequence_logps(model(torch.tensor([ids])).logits, torch.tensor([labels]))
                assert got.total[i].item() == pytest.approx(alone.total.item(), abs=1e-4)
                assert got.tokens[i].item() == alone.tokens.item()
