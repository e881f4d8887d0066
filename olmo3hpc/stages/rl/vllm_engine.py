"""vLLM backend of the rollout engine (`engines.RolloutEngine` with `rollout.engine = "vllm"`).

One in-process V1 `LLMEngine` per actor (`VLLM_ENABLE_V1_MULTIPROCESSING=0`, as open-instruct), driven
step by step from the actor's generation thread: continuous batching (queued requests are admitted
between steps), and every `engine.step()` runs inside `UpdateGate.step()`, so in-flight weight
updates land exactly at a step boundary and running requests keep their KV cache.

Each prompt is fanned out into n sub-requests with seed + k (as open-instruct), with DELTA output so
the policy version of every sample's first and last token is known. Log-probs use
`logprobs_mode="processed_logprobs"` (after temperature; equal to log softmax(logits / T) at top_p 1).

Weights: `WeightSyncExtension` is injected into every vLLM worker (`worker_extension_cls`), so the
same `collective_rpc` reaches TP workers in their own processes on GPU (NCCL group) and the
in-process worker on CPU (gloo). Updates go through vLLM's layerwise `reload_weights`, which also
works where the CPU kernels repacked the weights (oneDNN on AVX-512). On CPU the engine runs bf16.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from olmo3hpc.stages.rl.engines import EngineSpec, Feed, GenerationRequest, GenerationResult, Sample
from olmo3hpc.stages.rl.weight_sync import ParamMeta, SyncGroup, UpdateGate, open_group, receive_params

EXTENSION = "olmo3hpc.stages.rl.vllm_engine.WeightSyncExtension"


class WeightSyncExtension:
    """Methods added to vLLM's worker class; called through `collective_rpc` (names avoid clashes)."""

    def olmo_init_weight_sync(self, group: SyncGroup, rank_offset: int) -> None:
        self._olmo_pg = open_group(group, rank_offset + self.rank)  # type: ignore[attr-defined]

    def olmo_receive_weights(self, manifest: Sequence[ParamMeta]) -> None:
        device = self.device  # type: ignore[attr-defined]
        self._olmo_reload(receive_params(self._olmo_pg, manifest, device))

    def olmo_load_weights(self, weights: list[tuple[str, torch.Tensor]]) -> None:
        self._olmo_reload(weights)

    def _olmo_reload(self, weights: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Load HF-named weights into the running model. vLLM's `reload_weights` restores each layer's
        checkpoint-format parameters, loads, and re-runs the kernel processing (e.g. oneDNN packing on
        AVX-512 CPUs, which leaves parameters `load_weights` cannot write into); older vLLMs without
        it load in place."""
        runner = self.model_runner  # type: ignore[attr-defined]
        if hasattr(runner, "reload_weights"):
            runner.reload_weights(weights_iterator=weights)
        else:
            runner.model.load_weights(weights=weights)


def model_path(spec: EngineSpec) -> str:
    """An HF directory vLLM can load: the init itself, or a `random:` model written to a temp dir."""
    from olmo3hpc.engine import modelfactory

    if not spec.model.init.startswith("random:"):
        return modelfactory.resolve_init(spec.model, spec.output_root)
    tokenizer = modelfactory.load_tokenizer(spec.model, spec.output_root)
    model = modelfactory.load_model(spec.model, dtype=torch.float32, seed=spec.init_seed, tokenizer=tokenizer)
    out = tempfile.mkdtemp(prefix=f"o3vllm{spec.engine_index}_")
    model.config.architectures = [type(model).__name__]  # from_config leaves it empty; vLLM routes on it
    modelfactory.save_hf(model.state_dict(), model.config, tokenizer, out)
    return out


def _engine_args(spec: EngineSpec, path: str) -> dict[str, Any]:
    rollout, gpu = spec.rollout, spec.device == "gpu"
    return dict(
        model=path, tokenizer=path, runner="generate", dtype="bfloat16", seed=spec.seed + spec.engine_index,
        max_model_len=rollout.max_model_len, tensor_parallel_size=rollout.tensor_parallel,
        distributed_executor_backend="uni" if rollout.tensor_parallel == 1 else "ray",
        enforce_eager=rollout.enforce_eager or not gpu, enable_prefix_caching=rollout.prefix_caching,
        gpu_memory_utilization=rollout.gpu_memory_utilization, worker_extension_cls=EXTENSION,
        enable_sleep_mode=gpu, logprobs_mode="processed_logprobs", max_num_seqs=spec.max_batch * rollout.samples_per_prompt,
    )


@dataclass
class _Pending:
    """A request being generated: its n sub-requests' accumulated deltas."""

    request: GenerationRequest
    tokens: list[list[int]] = field(default_factory=list)
    logprobs: list[list[float]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    versions: list[list[int]] = field(default_factory=list)
    finish: list[str | None] = field(default_factory=list)

    def done(self) -> bool:
        return all(f is not None for f in self.finish)


class VLLMBackend:
    def __init__(self, spec: EngineSpec) -> None:
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        if spec.device == "cpu":
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; vLLM's CPU default is far larger
        from vllm import LLM

        self.spec = spec
        self.llm = LLM(**_engine_args(spec, model_path(spec)))
        self.engine = self.llm.llm_engine
        self._pending: dict[str, _Pending] = {}
        self._next_id = 0

    def serve(self, feed: Feed, gate: UpdateGate) -> None:
        admitted = feed.take(self.spec.max_batch, 0.05)
        if not admitted:
            return
        with gate.active():
            while admitted or self._pending:
                with gate.step() as version:
                    for request in admitted:
                        self._add(request)
                    outputs = self.engine.step()
                for output in outputs:
                    self._absorb(output, version, feed)
                room = self.spec.max_batch - len(self._pending)
                admitted = feed.take(room, 0.0) if room > 0 and gate.may_admit() else []

    def _add(self, request: GenerationRequest) -> None:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        s = request.sampling
        key = str(self._next_id)
        self._next_id += 1
        self._pending[key] = _Pending(request, [[] for _ in range(s.n)], [[] for _ in range(s.n)],
                                      ["" for _ in range(s.n)], [[] for _ in range(s.n)], [None] * s.n)
        for k in range(s.n):
            params = SamplingParams(
                n=1, temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens, stop=list(s.stop),
                include_stop_str_in_output=True, skip_special_tokens=False, logprobs=0,
                seed=None if s.seed is None else s.seed + k, output_kind=RequestOutputKind.DELTA,
            )
            self.engine.add_request(f"{key}:{k}", {"prompt_token_ids": list(request.prompt_ids)}, params)

    def _absorb(self, output: Any, version: int, feed: Feed) -> None:
        key, k = output.request_id.rsplit(":", 1)
        pending, k = self._pending[key], int(k)
        for completion in output.outputs:
            pending.tokens[k].extend(completion.token_ids)
            pending.texts[k] += completion.text
            for token, by_token in zip(completion.token_ids, completion.logprobs or []):
                pending.logprobs[k].append(float(by_token[token].logprob))
            if completion.token_ids:  # [first, last] version that produced tokens
                versions = pending.versions[k]
                versions[:] = [versions[0] if versions else version, version]
            if output.finished:
                pending.finish[k] = "length" if completion.finish_reason == "length" else "stop"
        if pending.done():
            del self._pending[key]
            feed.emit(pending.request, _result(pending))

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> None:
        self.llm.collective_rpc("olmo_load_weights", args=(list(weights),))
        self._after_update()

    def init_weight_sync(self, group: SyncGroup, rank: int) -> None:
        self.llm.collective_rpc("olmo_init_weight_sync", args=(group, rank))

    def receive_weights(self, manifest: Sequence[ParamMeta]) -> None:
        self.llm.collective_rpc("olmo_receive_weights", args=(list(manifest),))
        self._after_update()

    def _after_update(self) -> None:
        # Cached prefixes were computed by the old weights; only safe to drop when nothing is running.
        if self.spec.rollout.prefix_caching and not self._pending:
            self.llm.reset_prefix_cache()

    def sleep(self) -> None:
        # vLLM sleep mode frees GPU weights + KV cache (CuMem allocator); vllm-cpu has no sleep mode and
        # there is no accelerator memory to give back, so on CPU this is deliberately a no-op.
        if self.spec.device == "gpu":
            self.llm.sleep(level=1)

    def wake_up(self) -> None:
        if self.spec.device == "gpu":
            self.llm.wake_up()


def _result(pending: _Pending) -> GenerationResult:
    samples = [
        Sample(pending.tokens[k], pending.logprobs[k], pending.finish[k] or "length",  # type: ignore[arg-type]
               pending.texts[k], pending.versions[k][0] if pending.versions[k] else -1,
               pending.versions[k][-1] if pending.versions[k] else -1)
        for k in range(len(pending.tokens))
    ]
    return GenerationResult(pending.request.request_id, pending.request.prompt_ids, samples)
