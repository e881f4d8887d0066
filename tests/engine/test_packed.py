"""Packed rows give exactly the per-document losses: real tiny Olmo3, sdpa, sliding + full attention.

transformers only derives the block-diagonal mask from position ids when no KV cache is built, so the
packed forward must pass use_cache=False (the learners do); this test would catch a regression."""

import numpy as np
import torch

from olmo3hpc.config import ModelConfig
from olmo3hpc.data.packing import assemble
from olmo3hpc.engine import modelfactory
from olmo3hpc.engine.packed import IGNORE, next_token_targets, split_rows, summed_nll

TINY = ModelConfig(init="random:tiny", tokenizer="random:bpe", dtype="float32")


def _docs(rng: np.random.Generator, lengths: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    docs = []
    for n in lengths:
        ids = rng.integers(10, 1000, size=n)
        mask = np.zeros(n, dtype=bool)
        mask[n // 3:] = True  # a prompt, then the trained answer
        docs.append((ids, mask))
    return docs


def _restart_tail(row_positions: np.ndarray, used: int) -> np.ndarray:
    row_positions = row_positions.copy()
    row_positions[used:] = np.arange(len(row_positions) - used)
    return row_positions


def test_targets_never_cross_a_document_boundary():
    labels = torch.tensor([[5, 6, 7, 8, 9, IGNORE]])
    positions = torch.tensor([[0, 1, 2, 0, 1, 0]])
    assert next_token_targets(labels, positions).tolist() == [[6, 7, IGNORE, 9, IGNORE, IGNORE]]


def test_packed_loss_equals_per_document_losses():
    torch.manual_seed(0)
    model = modelfactory.load_model(TINY, seed=0)
    rng = np.random.default_rng(0)
    docs = _docs(rng, [100, 37, 90])  # 100 and 90 exceed the 64-token sliding window
    row = assemble(docs, 256, pad_id=1)
    positions = _restart_tail(row.position_ids, sum(row.doc_lens))
    ids, labels, pos = (torch.tensor(a)[None] for a in (row.input_ids, row.labels, positions))
    with torch.no_grad():
        packed, packed_count = summed_nll(model(input_ids=ids, position_ids=pos, use_cache=False).logits,
                                          next_token_targets(labels, pos))
        alone, alone_count = 0.0, 0
        for doc_ids, mask in docs:
            doc_labels = torch.tensor(np.where(mask, doc_ids, IGNORE))[None]
            logits = model(input_ids=torch.tensor(doc_ids)[None]).logits
            nll, count = summed_nll(logits, next_token_targets(doc_labels, torch.arange(len(doc_ids))[None]))
            alone, alone_count = alone + nll, alone_count + count
    assert packed_count == alone_count
    torch.testing.assert_close(packed, alone, rtol=1e-5, atol=1e-4)


def test_split_rows_keeps_order_and_refuses_uneven_splits():
    batch = {"input_ids": np.arange(12).reshape(6, 2)}
    parts = split_rows(batch, 3)
    assert [p["input_ids"][:, 0].tolist() for p in parts] == [[0, 2], [4, 6], [8, 10]]
    try:
        split_rows(batch, 4)
    except ValueError as e:
        assert "6 rows" in str(e)
    else:
        raise AssertionError("uneven split accepted")
