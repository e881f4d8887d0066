"""Reward throughput and the share of an RL step that rewards take.

Measures, on this machine:
  * math verifications / s / core (one process), against a sympy-on-every-pair baseline;
  * ifeval verifications / s / core;
  * sandboxed programs / s / core, against an unconfined `python -c` subprocess baseline,
    and through the HTTP code service;
  * a 512-sample mixed batch (256 math, 192 ifeval, 64 code with 3 tests each) scored by RewardScorer
    with one reward worker and one code-service worker per core. The last line states it as a share of
    an Olmo 3 RL step (~1000 s, generation-bound, paper §4.4.3); for comparison it also prints the share
    of the tiny random Olmo3's generation time for 512 x 256 tokens (HF generate, measured on 64 x 64
    tokens and scaled linearly), which is far faster per token than any real policy.
Run: python bench/rewards.py   (about 2-4 minutes on 2 cores)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from olmo3hpc.config.reward import RewardConfig  # noqa: E402
from olmo3hpc.rewards.code_sandbox import SandboxLimits, run_sandboxed  # noqa: E402
from olmo3hpc.rewards.ifeval import ifeval_score  # noqa: E402
from olmo3hpc.rewards.math import math_score  # noqa: E402
from olmo3hpc.rewards.math_latex import latex_to_sympy  # noqa: E402
from olmo3hpc.rewards.registry import Sample  # noqa: E402
from olmo3hpc.rewards.services import RewardServices  # noqa: E402

MATH_PAIRS = [
    ("\\frac{1}{2}", "0.5"), ("2\\sqrt{2}", "\\sqrt{8}"), ("(-\\infty, 3]", "(-\\infty,3]"), ("5\\text{ cm}", "5"),
    ("x^2+2x+1", "(x+1)^2"), ("\\{1,2,3\\}", "\\{3,2,1\\}"), ("42", "42"), ("\\frac{3}{4}", "\\frac{2}{3}"),
    ("50\\%", "50"), ("3+4i", "4i+3"), ("\\pi/2", "\\frac{\\pi}{2}"), ("7", "8"),
]
IF_CASES = [
    ("My answer is yes.", [("detectable_format:constrained_response", {})]),
    ("hello world " * 40, [("length_constraints:number_words", {"num_words": 50, "relation": "at least"}),
                           ("punctuation:no_comma", {})]),
    ("* a\n* b\n* c\nP.S. bye", [("detectable_format:number_bullet_lists", {"num_bullets": 3}),
                                 ("detectable_content:postscript", {"postscript_marker": "P.S."})]),
    ("The lazy dog sleeps. It was the end of the day and the dog was happy.",
     [("language:response_language", {"language": "en"}), ("change_case:english_lowercase", {}),
      ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "less than"})]),
]
PROGRAM = "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n"
# Olmo 3 paper §4.4.3 (reference/perf_anchors.md): one main RL run step is ~1000 s, generation-bound.
STEP_S = 1000.0
TESTS = ["assert fib(10) == 55", "assert fib(20) == 6765", "assert fib(1) == 1"]


def _label(constraints: list[tuple[str, dict]]) -> str:
    return json.dumps([{"instruction_id": [c for c, _ in constraints], "kwargs": [k for _, k in constraints]}])


def rate(fn, items: list, min_seconds: float = 3.0) -> float:
    """Calls per second of fn over items, repeated for at least min_seconds (single thread)."""
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        for item in items:
            fn(*item)
        count += len(items)
    return count / (time.perf_counter() - start)


def bare_sympy_equal(a: str, b: str) -> bool:
    """Baseline: parse both and `simplify(a - b) == 0` for every pair, no normalizer, no time bound."""
    import sympy

    try:
        return sympy.simplify(latex_to_sympy(a) - latex_to_sympy(b)) == 0
    except Exception:
        return False


def bench_math() -> tuple[float, float]:
    items = [(f"The answer is $\\boxed{{{a}}}$.", b) for a, b in MATH_PAIRS]
    math_score(*items[0])  # start the sympy helper process
    ours = rate(math_score, items)
    baseline = rate(bare_sympy_equal, MATH_PAIRS)
    return ours, baseline


def bench_ifeval() -> float:
    return rate(ifeval_score, [(text, _label(c)) for text, c in IF_CASES])


def bench_sandbox(n: int = 20) -> tuple[float, float]:
    limits = SandboxLimits(max_execution_time=1.0)
    start = time.perf_counter()
    for _ in range(n):
        assert run_sandboxed(PROGRAM, TESTS[0], None, limits).passed
    sandboxed = n / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(n):
        subprocess.run([sys.executable, "-c", PROGRAM + TESTS[0]], check=True)
    plain = n / (time.perf_counter() - start)
    return sandboxed, plain


def mixed_batch() -> list[Sample]:
    samples = []
    for i in range(256):
        a, b = MATH_PAIRS[i % len(MATH_PAIRS)]
        samples.append(Sample(f"m{i}", f"Work... so $\\boxed{{{a}}}$", "math", b))
    for i in range(192):
        text, constraints = IF_CASES[i % len(IF_CASES)]
        samples.append(Sample(f"i{i}", text, "ifeval", _label(constraints)))
    for i in range(64):
        samples.append(Sample(f"c{i}", f"```python\n{PROGRAM}```", "code", TESTS))
    return samples


def bench_batch(workers: int) -> tuple[float, float]:
    """(seconds to score a 512-sample mixed batch, code-service programs/s during it)."""
    cfg = RewardConfig(reward_workers=workers, code_workers=workers)
    with RewardServices(cfg) as services:
        services.start(need_code=True, need_judge=False)
        with services.scorer() as scorer:
            scorer.submit(mixed_batch()[:8]).result(timeout=300)  # warm pools
            start = time.perf_counter()
            results = scorer.submit(mixed_batch()).result(timeout=900)
            elapsed = time.perf_counter() - start
    assert sum(r.reward > 0 for r in results) > 300, "benchmark batch should mostly verify"
    return elapsed, 64 * len(TESTS) / elapsed


def bench_generation(samples: int = 64, new_tokens: int = 64, batch: int = 64) -> float:
    """Seconds for the tiny random Olmo3 to generate `samples` responses of `new_tokens` tokens."""
    import torch
    from transformers import AutoModelForCausalLM

    from olmo3hpc.engine.modelfactory import random_bpe_tokenizer, random_model_config

    torch.set_num_threads(os.cpu_count() or 1)
    tokenizer = random_bpe_tokenizer()
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(random_model_config("tiny", tokenizer)).eval()
    prompt = tokenizer(["Solve the question step by step and answer."] * batch, return_tensors="pt")
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(samples // batch):
            model.generate(**prompt, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=True,
                           pad_token_id=tokenizer.pad_token_id)
    return time.perf_counter() - start


def main() -> None:
    cores = os.cpu_count() or 1
    math_rate, math_base = bench_math()
    print(f"math: {math_rate:.1f} verifications/s/core (baseline sympy on every pair: {math_base:.1f}/s)")
    print(f"ifeval: {bench_ifeval():.0f} verifications/s/core")
    sandboxed, plain = bench_sandbox()
    print(f"sandbox: {sandboxed:.1f} programs/s/core (baseline unconfined python subprocess: {plain:.1f}/s)")
    reward_s, service_rate = bench_batch(workers=cores)
    print(f"batch: 512 mixed samples scored in {reward_s:.1f}s with {cores} workers "
          f"(code service {service_rate:.1f} programs/s)")
    gen_s = bench_generation() * (512 / 64) * (256 / 64)  # measured 64 x 64 tokens, scaled linearly
    print(f"generation: tiny random Olmo3 (HF generate), 512 x 256 new tokens ~{gen_s:.0f}s on {cores} cores "
          f"(rewards = {100.0 * reward_s / gen_s:.0f}% of it)")
    share = 100.0 * reward_s / STEP_S
    print(f"rewards: {share:.1f}% of a {STEP_S:.0f} s RL step for a 512-sample batch on {cores} cores (goal < 10%)")


if __name__ == "__main__":
    main()
