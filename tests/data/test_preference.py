"""DPO pairs: last-turn labels, truncation, filtering, malformed pairs."""

from __future__ import annotations

from olmo3hpc.data.preference import encode_pairs, pair_problem
from olmo3hpc.data.templates import ChatRenderer

PROMPT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]


def pair(chosen: str, rejected: str, prompt=PROMPT) -> dict:
    return {"chosen": prompt + [{"role": "assistant", "content": chosen}],
            "rejected": prompt + [{"role": "assistant", "content": rejected}]}


def test_only_the_final_assistant_turn_is_trained(tokenizer):
    multi = PROMPT + [{"role": "assistant", "content": "4"}, {"role": "user", "content": "3+3?"}]
    (p,) = encode_pairs(tokenizer, ChatRenderer.for_tokenizer(tokenizer, "olmo"), [pair("6", "five", multi)], 256)
    assert tokenizer.decode(p.chosen.ids[p.chosen.mask]) == "6<|endoftext|>"
    assert tokenizer.decode(p.rejected.ids[p.rejected.mask]) == "five<|endoftext|>"
    n = int(p.chosen.mask.argmax())
    assert p.chosen.ids[:n].tolist() == p.rejected.ids[:n].tolist()  # the shared prompt


def test_truncation_and_filtering(tokenizer):
    renderer = ChatRenderer.for_tokenizer(tokenizer, "olmo")
    prompt_len = len(tokenizer(renderer.render(PROMPT, add_generation_prompt=True), add_special_tokens=False).input_ids)
    kept, dropped = encode_pairs(tokenizer, renderer, [pair("yes " * 50, "no"), pair("a", "b")], prompt_len + 3)
    assert len(kept.chosen.ids) == prompt_len + 3 and kept.chosen.mask.sum() == 3
    assert dropped is not None
    (gone,) = encode_pairs(tokenizer, renderer, [pair("a", "b")], prompt_len)
    assert gone is None


def test_malformed_pairs_are_explained():
    assert pair_problem(pair("a", "b")) is None
    assert "share every message" in pair_problem(pair("a", "b") | {"rejected": [{"role": "user", "content": "x"},
                                                                             {"role": "assistant", "content": "b"}]})
    assert "must be an assistant turn" in pair_problem({"chosen": PROMPT, "rejected": PROMPT})
    assert pair_problem({"chosen": pair("a", "b")["chosen"]}).startswith("missing key")
