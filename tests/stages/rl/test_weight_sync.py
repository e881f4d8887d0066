"""Weight sync for real: a gloo group between separate processes, and learner actor -> engine actor."""

from __future__ import annotations

import multiprocessing as mp
import sys

import pytest
import torch

from olmo3hpc.config.model import ModelConfig
from olmo3hpc.config.rollout import RolloutConfig
from olmo3hpc.engine import modelfactory
from olmo3hpc.stages.rl.engines import EngineSpec, GenerationRequest, SamplingSpec, make_engine_actor
from olmo3hpc.stages.rl.weight_sync import (
    SyncGroup,
    WeightSender,
    broadcast_params,
    free_port,
    open_group,
    param_manifest,
    receive_params,
)

MODEL = ModelConfig(init="random:tiny", tokenizer="random:bpe", dtype="float32")
PROMPT = "The answer is"


def greedy(model, prompt_ids: list[int], steps: int = 10) -> list[int]:
    ids = list(prompt_ids)
    with torch.no_grad():
        for _ in range(steps):
            ids.append(int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax()))
    return ids[len(prompt_ids):]


def checksum(model) -> float:
    return float(sum(p.detach().double().sum() for p in model.parameters()))


def _engine_process(group: SyncGroup, manifest, out: mp.Queue) -> None:
    """A separate process standing in for one engine: receives and loads the broadcast."""
    model = modelfactory.load_model(MODEL, seed=0)
    before = checksum(model)
    pg = open_group(group, 1)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, tensor in receive_params(pg, manifest, torch.device("cpu")):
            params[name].copy_(tensor)
    prompt = modelfactory.load_tokenizer(MODEL).encode(PROMPT)
    out.put((before, checksum(model), greedy(model, prompt)))


@pytest.mark.timeout(180)
def test_gloo_broadcast_between_processes_replaces_weights():
    learner = modelfactory.load_model(MODEL, seed=1)
    group = SyncGroup(host="127.0.0.1", port=free_port(), world_size=2, backend="gloo", timeout_s=120)
    manifest = param_manifest(learner)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_engine_process, args=(group, manifest, out))
    child.start()
    try:
        sender = WeightSender(group)
        assert broadcast_params(learner, sender) == len(manifest)
        before, after, tokens = out.get(timeout=150)
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.kill()
    assert before != pytest.approx(checksum(learner))
    assert after == pytest.approx(checksum(learner), rel=1e-9)
    prompt = modelfactory.load_tokenizer(MODEL).encode(PROMPT)
    assert tokens == greedy(learner, prompt)



def _zero3_learner(group: SyncGroup, dist_port: int, out: mp.Queue) -> None:
    """Learner rank 0 of a one-rank ZeRO-3 group: parameters are partitioned, so sending must gather."""
    import os

    import deepspeed
    from transformers.integrations import HfDeepSpeedConfig

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(dist_port), RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")
    deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False  # no JIT build on CPU
    torch.distributed.init_process_group("gloo", rank=0, world_size=1)
    keep = HfDeepSpeedConfig({"train_micro_batch_size_per_gpu": 1, "zero_optimization": {"stage": 3}})
    model = modelfactory.load_model(MODEL, seed=1)
    first = next(model.parameters())
    out.put((hasattr(first, "ds_id") and first.numel() == 0, param_manifest(model)))
    sender = WeightSender(group)
    broadcast_params(model, sender, gather_whole_model=True)
    broadcast_params(model, sender, gather_whole_model=False)
    with deepspeed.zero.GatheredParameters(list(model.parameters())):
        out.put(checksum(model))
    del keep


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_zero3_partitioned_learner_broadcasts_whole_and_per_parameter():
    group = SyncGroup(host="127.0.0.1", port=free_port(), world_size=2, backend="gloo", timeout_s=200)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_zero3_learner, args=(group, free_port(), out))
    child.start()
    try:
        partitioned, manifest = out.get(timeout=200)
        pg = open_group(group, 1)
        engine = modelfactory.load_model(MODEL, seed=0)
        sums = []
        for _ in range(2):  # gather_whole_model=True, then one parameter at a time
            params = dict(engine.named_parameters())
            with torch.no_grad():
                for name, tensor in receive_params(pg, manifest, torch.device("cpu")):
                    params[name].copy_(tensor)
            sums.append(checksum(engine))
            with torch.no_grad():
                for p in engine.parameters():
                    p.zero_()
        sent = out.get(timeout=100)
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.kill()
    assert partitioned
    assert [m.shape for m in manifest] == [tuple(p.shape) for p in engine.parameters()]
    assert sums == pytest.approx([sent, sent], rel=1e-9) and sent != 0


class Learner:
    """Learner rank 0 stand-in: a model with other weights and the sending end of the group."""

    def __init__(self) -> None:
        self.model = modelfactory.load_model(MODEL, seed=1)
        self.sender: WeightSender | None = None

    def open(self, group: SyncGroup) -> None:
        self.sender = WeightSender(group)

    def manifest(self):
        return param_manifest(self.model)

    def broadcast(self) -> int:
        return broadcast_params(self.model, self.sender, gather_whole_model=True)

    def greedy(self, prompt_ids: list[int], steps: int) -> list[int]:
        return greedy(self.model, prompt_ids, steps)


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    from olmo3hpc.engine.cluster import connect

    handle = connect(num_cpus=4)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Learner lives in this test module
    yield ray
    handle.shutdown()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_learner_actor_broadcast_changes_engine_actor_output(ray_cluster):
    ray = ray_cluster
    rollout = RolloutConfig(engine="transformers", max_prompt_length=16, response_length=16)
    engine = make_engine_actor(EngineSpec(MODEL, rollout, chunk_tokens=4), {"num_cpus": 1})
    learner = ray.remote(Learner).options(num_cpus=1).remote()
    prompt = tuple(modelfactory.load_tokenizer(MODEL).encode(PROMPT))
    request = [GenerationRequest("p", prompt, SamplingSpec.greedy(10))]
    try:
        assert ray.get(engine.ready.remote(), timeout=120) == 0
        before = ray.get(engine.generate.remote(request), timeout=60)[0].samples[0].token_ids
        group = SyncGroup(host="127.0.0.1", port=free_port(), world_size=2, backend="gloo", timeout_s=120)
        ray.get([learner.open.remote(group), engine.init_weight_sync.remote(group, 1)], timeout=150)
        manifest = ray.get(learner.manifest.remote(), timeout=30)
        done = ray.get([engine.receive_weights.remote(manifest, 7), learner.broadcast.remote()], timeout=150)
        assert done == [7, len(manifest)]
        after = ray.get(engine.generate.remote(request), timeout=60)[0]
        expected = ray.get(learner.greedy.remote(list(prompt), 10), timeout=60)
    finally:
        ray.kill(engine)
        ray.kill(learner)
    assert after.samples[0].token_ids == expected != before
    assert after.samples[0].version_start == after.samples[0].version_end == 7
