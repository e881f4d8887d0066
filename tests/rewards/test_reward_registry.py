"""Reward routing and the asynchronous scorer: datasets, weights, remap, failures and timeouts."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from olmo3hpc.config.reward import RewardConfig
from olmo3hpc.rewards.registry import Sample, kind_of, parse_remap, verifier_pairs
from olmo3hpc.rewards.scorer import RewardScorer
from olmo3hpc.rewards.services import RewardServices, needed_services
from olmo3hpc.rewards.text_match import string_f1_score, string_matcher_score

IF_LABEL = json.dumps([{"instruction_id": ["punctuation:no_comma"], "kwargs": [{}]}])


def test_pairs_and_names() -> None:
    assert verifier_pairs(Sample(1, "x", "math", "2")) == [("math", "2")]
    assert verifier_pairs(Sample(2, "x", ["math", "ifeval"], ["2", IF_LABEL])) == [("math", "2"), ("ifeval", IF_LABEL)]
    with pytest.raises(ValueError, match="ground_truth has 1"):
        verifier_pairs(Sample(3, "x", ["math", "ifeval"], ["2"]))
    assert parse_remap(("Old=MATH",)) == {"old": "math"}
    with pytest.raises(ValueError, match="old=new"):
        parse_remap(("nonsense",))
    assert kind_of("general-quality") == "judge" and kind_of("code_stdio") == "code" and kind_of("gsm8k") == "cpu"
    with pytest.raises(KeyError, match="unknown verifier"):
        kind_of("nope")
    assert needed_services(["MATH", "code", "foo"], ("foo=general-quality",)) == (True, True)


def test_string_verifiers() -> None:
    assert string_matcher_score("<think>hm</think> Paris ", "paris") == 1.0
    assert string_matcher_score("Paris, France", "paris") == 0.0
    assert string_f1_score("the cat sat", "cat sat down") == pytest.approx(0.8)
    assert string_f1_score("dog", "cat") == 0.0


@pytest.mark.timeout(120)
def test_scorer_routes_weights_and_scales(caplog: pytest.LogCaptureFixture) -> None:
    cfg = RewardConfig(remap=("my_math=math",), reward_workers=2, verifier_timeout_s=10.0)
    samples = [
        Sample("a", "so \\boxed{\\frac{1}{2}}", "math", "0.5"),
        Sample("b", "so \\boxed{3}", "MATH", "4"),
        Sample("c", "Reasoning.\nAnswer: 7", "my_math", "7"),
        Sample("d", "no commas here \\boxed{2}", ["math", "ifeval"], ["2", IF_LABEL]),
        Sample("e", "total 12", "gsm8k", "12"),
        Sample("f", "anything", "unknown_verifier", "1"),
        Sample("g", "x", "ifeval", "{broken"),
        Sample("h", "\\boxed{1}", "code", "['assert True']"),  # no code service configured
    ]
    with RewardScorer(cfg, weights={"ifeval": 0.5}) as scorer:
        future = scorer.submit(samples)
        with caplog.at_level(logging.WARNING, logger="olmo3hpc.rewards.scorer"):
            results = future.result(timeout=90)
    assert [r.reward for r in results] == [10.0, 0.0, 10.0, 15.0, 10.0, 0.0, 0.0, 0.0]
    assert results[3].scores == {"math": 1.0, "ifeval": 1.0}
    messages = "\n".join(r.getMessage() for r in caplog.records)
    for sample_id in ("f", "g", "h"):
        assert f"sample {sample_id} " in messages


@pytest.mark.timeout(120)
def test_async_score_and_verifier_timeout(caplog: pytest.LogCaptureFixture) -> None:
    cfg = RewardConfig(reward_workers=1, verifier_timeout_s=1.0)
    # The sympy comparison of this pair never finishes; the 1 s verifier limit cuts it off.
    slow = Sample("slow", "\\boxed{9^{9^{9^{9}}}}", "math", "(x+1)^{9999}")
    fast = Sample("fast", "\\boxed{5}", "math", "5")
    with RewardScorer(cfg) as scorer:
        start = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="olmo3hpc.rewards.scorer"):
            results = asyncio.run(scorer.score([slow, fast]))
        assert time.monotonic() - start < 60
        assert [r.reward for r in results] == [0.0, 10.0]
    assert any("sample slow verifier math scored 0: TimeoutError: verifier math exceeded 1.0s" in r.getMessage()
               for r in caplog.records)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_services_start_code_service_and_score_code() -> None:
    cfg = RewardConfig(code_workers=1, reward_workers=1, code_pass_rate_threshold=0.99)
    samples = [
        Sample(0, "```python\ndef inc(x):\n    return x + 1\n```", "code", json.dumps(["assert inc(1) == 2"])),
        Sample(1, "```python\ndef inc(x):\n    return x\n```", "code", ["assert inc(1) == 2", "assert inc(0) == 0"]),
        Sample(2, "print(input()[::-1])", "code_stdio", [{"input": "abc", "output": "cba"}]),
    ]
    with RewardServices(cfg) as services:
        services.start(need_code=True, need_judge=False)
        assert services.code_url is not None
        with services.scorer() as scorer:
            results = scorer.submit(samples).result(timeout=180)
    assert [r.reward for r in results] == [10.0, 0.0, 10.0]  # 0.5 pass rate is below the 0.99 threshold
