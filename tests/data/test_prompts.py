"""RL prompts: trailing reference answer dropped, generation prompt, labels kept, long prompts filtered."""

from __future__ import annotations

from olmo3hpc.data.prompts import encode_prompt_rows, prompt_problem
from olmo3hpc.data.templates import ChatRenderer


def row(content: str = "1+1?", **extra) -> dict:
    return {"messages": [{"role": "user", "content": content}, {"role": "assistant", "content": "2"}],
            "ground_truth": "2", "dataset": "math", **extra}


def test_prompt_ends_with_the_thinker_generation_prompt(tokenizer):
    renderer = ChatRenderer.for_tokenizer(tokenizer, "olmo_thinker")
    (p,) = encode_prompt_rows(tokenizer, renderer, [row()], "messages", "ground_truth", 0)
    assert tokenizer.decode(p.ids).endswith("<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n<think>")
    assert (p.ground_truth, p.dataset, p.raw_prompt) == (["2"], ["math"], "user: 1+1?")


def test_long_prompts_are_filtered(tokenizer):
    renderer = ChatRenderer.for_tokenizer(tokenizer, "olmo_thinker_rlzero")
    short, long = encode_prompt_rows(tokenizer, renderer, [row(), row("word " * 200)], "messages", "ground_truth", 150)
    assert short is not None and len(short.ids) <= 150 and long is None


def test_rl_rows_need_labels_and_matching_verifiers():
    assert prompt_problem(row(), "messages", "ground_truth") is None
    assert prompt_problem({"messages": row()["messages"]}, "messages", "ground_truth") == "missing key: 'ground_truth'"
    bad = row(ground_truth=["1", "2"], dataset=["math"])
    assert "2 ground truths for 1 verifiers" in prompt_problem(bad, "messages", "ground_truth")
    only_answer = {"messages": [{"role": "assistant", "content": "2"}], "ground_truth": "2", "dataset": "math"}
    assert "only an assistant turn" in prompt_problem(only_answer, "messages", "ground_truth")
