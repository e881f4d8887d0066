"""Packed rows give every sequence exactly the log-probs it has on its own (no cross-sequence attention)."""

from __future__ import annotations

import torch

from olmo3hpc.config import ModelConfig
from olmo3hpc.engine.modelfactory import load_model, load_tokenizer
from olmo3hpc.stages.rl.batch import Sample, collate, pack
from olmo3hpc.stages.rl.loss import token_logprobs


def test_packed_logprobs_equal_unpacked():
    cfg = ModelConfig(init="random:tiny", tokenizer="random:bpe", dtype="float32")
    tokenizer = load_tokenizer(cfg)
    model = load_model(cfg, seed=3, tokenizer=tokenizer).eval()
    g = torch.Generator().manual_seed(0)
    seqs = [torch.randint(10, 1000, (n,), generator=g).tolist() for n in (7, 12, 5)]
    samples = [Sample(s[:3], s[3:], [0.0] * (len(s) - 3), 1.0) for s in seqs]
    batch = collate(pack(samples, pack_length=64), pad_id=tokenizer.pad_token_id)
    assert batch["input_ids"].shape[0] == 1  # all three share one row
    with torch.no_grad():
        # use_cache=False: transformers only derives the packed mask when there is no KV cache
        logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
        packed = token_logprobs(logits[:, :-1], batch["input_ids"][:, 1:], temperature=0.7)[0]
        mask = batch["mask"][0, 1:]
        alone = []
        for s in seqs:
            ids = torch.tensor([s])
            lp = token_logprobs(model(input_ids=ids).logits[:, :-1], ids[:, 1:], temperature=0.7)[0]
            alone.append(lp[2:])  # response tokens: positions 3.. predicted from 2..
    torch.testing.assert_close(packed[mask], torch.cat(alone), rtol=1e-5, atol=1e-5)
