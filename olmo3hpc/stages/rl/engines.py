"""Rollout engines: one Ray actor per engine, vLLM or transformers behind the same interface.

Data types (plain dataclasses, picklable through Ray):
    SamplingSpec(n, temperature, top_p, max_tokens, stop, seed)   -- SamplingSpec.greedy(max_tokens) for eval
    GenerationRequest(request_id, prompt_ids, sampling)
    Sample(token_ids, logprobs, finish_reason, text, version_start, version_end)
    GenerationResult(request_id, prompt_ids, samples)             -- one per request, n samples
    EngineSpec(model, rollout, engine_index, seed, device, inflight_updates, max_batch, chunk_tokens)

`logprobs[i]` is log softmax(logits / temperature)[token_ids[i]] under the policy that sampled it
(temperature 0 -> plain log softmax), what the learner computes. With top_p < 1 vLLM reports the
top_p-renormalised value (its processed_logprobs) and the transformers engine the unrenormalised one;
every OLMo 3 run uses top_p = 1, where both are identical.
`finish_reason` is "stop" (EOS or a stop string, which stays in the output) or "length".
`version_start` / `version_end` are the engine's policy version when the sample's first and last
token were produced; they differ only when an in-flight weight update landed mid-sequence.

Actor API (`EngineActor = make_engine_actor(spec, options)`; every method is called with .remote()):
    ready() -> int                             engine index once the model is loaded
    generate(requests) -> list[GenerationResult]   blocking batch call (ObjectRef to the caller)
    submit(requests) -> int                    streaming mode: enqueue, returns the queue depth
    results(max_items, timeout_s) -> list[GenerationResult]   completed results, in finish order
    pending() -> int                           requests queued or being generated
    stats() -> dict                            {"steps", "results", "tokens", "busy_s", "version"}
    update_weights(state, version) -> int      load a {hf_name: tensor} dict (via the object store)
    init_weight_sync(group, rank) -> None      join a weight_sync.SyncGroup as `rank` (>= 1)
    receive_weights(manifest, version) -> int  receive one broadcast from learner rank 0 (collective)
    version() -> int                           current policy version
    sleep() / wake_up() -> None                colocated mode: let running requests finish, free the
                                               accelerator; queued requests wait for wake_up
    shutdown() -> None

Streaming: the driver keeps up to `async_steps` batches in flight by calling `submit` ahead and
draining `results`; the actor's own generation thread batches queued requests (up to
`EngineSpec.max_batch`). Weight updates follow `EngineSpec.inflight_updates`: False waits until no
request is active (new ones are held back meanwhile), True lands at the next step boundary (vLLM:
between engine steps; transformers: between `chunk_tokens`-sized generate calls) and the running
sequences continue with their KV cache under the new weights (PipelineRL semantics).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import torch

from olmo3hpc.config.model import ModelConfig
from olmo3hpc.config.rollout import RolloutConfig
from olmo3hpc.engine.cpuslots import CpuSlot, pin
from olmo3hpc.engine.placement import whereabouts
from olmo3hpc.stages.rl.weight_sync import ParamMeta, SyncGroup, UpdateGate, open_group, receive_params

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class SamplingSpec:
    n: int = 1
    """Samples per prompt (GRPO group size)."""
    temperature: float = 1.0
    """0 = greedy."""
    top_p: float = 1.0
    max_tokens: int = 16
    stop: tuple[str, ...] = ()
    """Stop strings; a matched one stays at the end of the output."""
    seed: int | None = None
    """Sample k uses seed + k (vLLM); the transformers engine seeds its batch from the first request."""

    @classmethod
    def greedy(cls, max_tokens: int, stop: tuple[str, ...] = ()) -> SamplingSpec:
        """Eval decoding: temperature 0, one sample."""
        return cls(n=1, temperature=0.0, top_p=1.0, max_tokens=max_tokens, stop=stop)

    @classmethod
    def from_rollout(cls, rollout: RolloutConfig, seed: int | None = None) -> SamplingSpec:
        return cls(rollout.samples_per_prompt, rollout.temperature, rollout.top_p, rollout.response_length,
                   tuple(rollout.stop_strings), seed)

    def validate(self) -> None:
        if self.n < 1 or self.max_tokens < 1:
            raise ValueError(f"SamplingSpec: n and max_tokens must be >= 1, got {self.n}, {self.max_tokens}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"SamplingSpec: temperature {self.temperature} < 0 or top_p {self.top_p} not in (0, 1]")


@dataclass(frozen=True)
class GenerationRequest:
    request_id: Any
    """Caller's key (e.g. dataset index); returned unchanged."""
    prompt_ids: tuple[int, ...]
    sampling: SamplingSpec = SamplingSpec()


@dataclass
class Sample:
    token_ids: list[int]
    logprobs: list[float]
    finish_reason: FinishReason
    text: str
    version_start: int
    version_end: int


@dataclass
class GenerationResult:
    request_id: Any
    prompt_ids: tuple[int, ...]
    samples: list[Sample] = field(default_factory=list)


@dataclass(frozen=True)
class EngineSpec:
    model: ModelConfig
    rollout: RolloutConfig
    engine_index: int = 0
    seed: int = 0
    """Sampling seed; the engine uses seed + engine_index (as open-instruct)."""
    device: Literal["cpu", "gpu"] = "cpu"
    inflight_updates: bool = False
    max_batch: int = 64
    """Requests generated together (vLLM: admitted concurrently; transformers: one padded batch)."""
    chunk_tokens: int = 32
    """Transformers engine: tokens per generate() call; weight updates land between calls."""
    output_root: str = ""
    """Where `recipe:<name>` inits live (run.meta.output_root)."""
    init_seed: int = 0
    """Seed of a `random:` init, so engines start from the learner's weights."""
    cpu_slot: CpuSlot | None = None
    """On CPU: the plan's CPU device this engine pins itself to (None: all usable cores)."""


class Feed(Protocol):
    """What a backend pulls requests from and hands results to (RolloutEngine implements it)."""

    def take(self, max_items: int, timeout_s: float) -> list[GenerationRequest]: ...

    def emit(self, request: GenerationRequest, result: GenerationResult) -> None: ...


class Backend(Protocol):
    def serve(self, feed: Feed, gate: UpdateGate) -> None:
        """Generate whatever `feed` has (returns when idle)."""

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> None: ...

    def init_weight_sync(self, group: SyncGroup, rank: int) -> None: ...

    def receive_weights(self, manifest: Sequence[ParamMeta]) -> None: ...

    def sleep(self) -> None: ...

    def wake_up(self) -> None: ...


def _stop_cut(tokenizer: Any, tokens: list[int], stops: Sequence[str]) -> int | None:
    """Token count up to and including the token that completes the first stop string, if any."""
    text = tokenizer.decode(tokens, skip_special_tokens=False)
    if not any(s in text for s in stops):
        return None
    lo, hi = 1, len(tokens)  # smallest prefix whose text contains a stop string (monotone in length)
    while lo < hi:
        mid = (lo + hi) // 2
        prefix = tokenizer.decode(tokens[:mid], skip_special_tokens=False)
        if any(s in prefix for s in stops):
            hi = mid
        else:
            lo = mid + 1
    return lo


@dataclass
class _Row:
    """One sample being generated by the transformers engine."""

    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    finish: FinishReason | None = None
    version_start: int = -1
    version_end: int = -1


class TransformersBackend:
    """`model.generate` in chunks of `chunk_tokens`, left-padded batches, KV cache carried across chunks."""

    def __init__(self, spec: EngineSpec) -> None:
        from olmo3hpc.engine import modelfactory

        self.spec = spec
        self.device = torch.device("cuda" if spec.device == "gpu" else "cpu")
        self.tokenizer = modelfactory.load_tokenizer(spec.model, spec.output_root)
        model = modelfactory.load_model(spec.model, seed=spec.init_seed, output_root=spec.output_root,
                                        tokenizer=self.tokenizer)
        self.model = model.to(self.device).eval()
        eos = modelfactory.generation_config(self.tokenizer).eos_token_id
        model_eos = self.model.generation_config.eos_token_id
        extra = model_eos if isinstance(model_eos, list) else [model_eos]
        self.eos_ids = sorted({int(i) for i in [*eos, *extra] if i is not None})
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_ids[0]
        self._batches = 0
        self._pg: Any = None

    def serve(self, feed: Feed, gate: UpdateGate) -> None:
        requests = feed.take(self.spec.max_batch, 0.05)
        groups: dict[SamplingSpec, list[GenerationRequest]] = {}
        for request in requests:  # one generate() call shares sampling settings
            groups.setdefault(request.sampling, []).append(request)
        for sampling, group in groups.items():
            for request, result in zip(group, self._generate(group, sampling, gate)):
                feed.emit(request, result)

    def _generate(self, requests: list[GenerationRequest], sampling: SamplingSpec, gate: UpdateGate
                  ) -> list[GenerationResult]:
        prompts = [list(r.prompt_ids) for r in requests for _ in range(sampling.n)]
        width = max(len(p) for p in prompts)
        ids = torch.tensor([[self.pad_id] * (width - len(p)) + p for p in prompts], device=self.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        rows = [_Row() for _ in prompts]
        # An explicit seed reproduces the batch; otherwise each batch draws a fresh engine-seeded stream.
        base = self.spec.seed + self.spec.engine_index + 1_000_003 * self._batches
        torch.manual_seed(sampling.seed if sampling.seed is not None else base)
        self._batches += 1
        cache, produced = None, 0
        with gate.active():
            while produced < sampling.max_tokens and any(r.finish is None for r in rows):
                chunk = min(self.spec.chunk_tokens, sampling.max_tokens - produced)
                with gate.step() as version, torch.no_grad():
                    out = self.model.generate(input_ids=ids, attention_mask=mask, past_key_values=cache,
                                              generation_config=self._config(sampling, chunk))
                new = out.sequences[:, ids.shape[1]:]
                self._absorb(rows, new, out.logits, sampling, version)
                ids, cache, produced = out.sequences, out.past_key_values, produced + new.shape[1]
                mask = torch.cat([mask, torch.ones_like(new)], dim=1)
        return self._results(requests, rows, sampling)

    def _config(self, sampling: SamplingSpec, chunk: int) -> Any:
        from transformers import GenerationConfig

        sample = sampling.temperature > 0
        knobs = dict(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0) if sample else {}
        return GenerationConfig(
            max_new_tokens=chunk, do_sample=sample, eos_token_id=self.eos_ids, pad_token_id=self.pad_id,
            return_dict_in_generate=True, output_logits=True, **knobs,
        )

    def _absorb(self, rows: list[_Row], new: torch.Tensor, logits: tuple[torch.Tensor, ...],
                sampling: SamplingSpec, version: int) -> None:
        """Append a chunk's tokens and their log-probs under the sampling temperature; detect stops."""
        scale = sampling.temperature if sampling.temperature > 0 else 1.0
        logp = torch.log_softmax(torch.stack(logits, dim=1).float() / scale, dim=-1)
        picked = logp.gather(-1, new.unsqueeze(-1)).squeeze(-1).tolist()
        for row, toks, lps in zip(rows, new.tolist(), picked):
            if row.finish is not None:
                continue  # rows that stopped in an earlier chunk keep decoding padding: ignored
            if row.version_start < 0:
                row.version_start = version
            row.version_end = version
            start = len(row.tokens)
            row.tokens.extend(toks)
            row.logprobs.extend(lps)
            self._finish(row, start, sampling)

    def _finish(self, row: _Row, start: int, sampling: SamplingSpec) -> None:
        cut = next((i + 1 for i in range(start, len(row.tokens)) if row.tokens[i] in self.eos_ids), None)
        if sampling.stop:
            stop_cut = _stop_cut(self.tokenizer, row.tokens[: cut or len(row.tokens)], sampling.stop)
            cut = stop_cut if stop_cut is not None else cut
        if cut is not None:
            del row.tokens[cut:], row.logprobs[cut:]
            row.finish = "stop"
        elif len(row.tokens) >= sampling.max_tokens:
            del row.tokens[sampling.max_tokens:], row.logprobs[sampling.max_tokens:]
            row.finish = "length"

    def _results(self, requests: list[GenerationRequest], rows: list[_Row], sampling: SamplingSpec
                 ) -> list[GenerationResult]:
        results = []
        for i, request in enumerate(requests):
            mine = rows[i * sampling.n:(i + 1) * sampling.n]
            samples = [Sample(r.tokens, r.logprobs, r.finish or "length",
                              self.tokenizer.decode(r.tokens, skip_special_tokens=False),
                              r.version_start, r.version_end) for r in mine]
            results.append(GenerationResult(request.request_id, request.prompt_ids, samples))
        return results

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> None:
        params = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, tensor in weights:
                if name not in params:
                    raise KeyError(f"update_weights: {name!r} is not a parameter of the engine model")
                params[name].copy_(tensor)

    def init_weight_sync(self, group: SyncGroup, rank: int) -> None:
        self._pg = open_group(group, rank)

    def receive_weights(self, manifest: Sequence[ParamMeta]) -> None:
        if self._pg is None:
            raise RuntimeError("receive_weights: call init_weight_sync first")
        # Streams: each parameter is copied in as soon as its broadcast arrives.
        self.load_weights(receive_params(self._pg, manifest, self.device))

    def sleep(self) -> None:
        # Colocated mode on GPU: park the weights in host memory. On CPU this is a no-op by construction.
        self.model.to("cpu")

    def wake_up(self) -> None:
        self.model.to(self.device)



def build_backend(spec: EngineSpec) -> Backend:
    if spec.rollout.engine == "vllm":
        from olmo3hpc.stages.rl.vllm_engine import VLLMBackend

        return VLLMBackend(spec)
    return TransformersBackend(spec)


class RolloutEngine:
    """The actor body: an inbox, a generation thread over a backend, and weight-update entry points."""

    def __init__(self, spec: EngineSpec) -> None:
        self.spec = spec
        if spec.device == "cpu" and spec.cpu_slot is not None:
            pin(spec.cpu_slot)  # before the backend starts its threads, which inherit the mask
        self.gate = UpdateGate(spec.inflight_updates)
        self.backend = build_backend(spec)
        self._inbox: queue.Queue[tuple[GenerationRequest, queue.Queue]] = queue.Queue()
        self._outbox: queue.Queue[GenerationResult] = queue.Queue()
        self._replies: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self._in_progress = 0
        self._done = 0
        self._tokens = 0
        self._error: BaseException | None = None
        self._stopped = threading.Event()
        self._awake = threading.Event()
        self._awake.set()
        self._thread = threading.Thread(target=self._loop, name=f"engine-{spec.engine_index}", daemon=True)
        self._thread.start()

    def ready(self) -> int:
        return self.spec.engine_index

    def whereabouts(self) -> dict[str, Any]:
        return {"engine": self.spec.engine_index, **whereabouts()}

    def version(self) -> int:
        return self.gate.version

    def stats(self) -> dict[str, float]:
        """Counters: generation steps, results and completion tokens produced, seconds busy, version."""
        return {"steps": self.gate.steps, "results": self._done, "tokens": self._tokens,
                "busy_s": self.gate.busy_s, "version": self.gate.version}

    def pending(self) -> int:
        with self._lock:
            return self._inbox.qsize() + self._in_progress

    def submit(self, requests: Sequence[GenerationRequest]) -> int:
        self._raise_if_failed()
        for request in requests:
            request.sampling.validate()
            self._inbox.put((request, self._outbox))
        return self.pending()

    def results(self, max_items: int = 1 << 30, timeout_s: float = 0.0) -> list[GenerationResult]:
        """Completed streaming results; waits up to timeout_s for the first one."""
        out: list[GenerationResult] = []
        deadline = time.monotonic() + timeout_s
        while len(out) < max_items:
            wait = deadline - time.monotonic() if not out else 0.0
            try:
                out.append(self._outbox.get(timeout=wait) if wait > 0 else self._outbox.get_nowait())
            except queue.Empty:
                break
        if not out:
            self._raise_if_failed()
        return out

    def generate(self, requests: Sequence[GenerationRequest], timeout_s: float = 3600.0) -> list[GenerationResult]:
        """Blocking batch generation; results come back in request order."""
        reply: queue.Queue[GenerationResult] = queue.Queue()
        for request in requests:
            request.sampling.validate()
            self._inbox.put((request, reply))
        got: dict[int, GenerationResult] = {}
        deadline = time.monotonic() + timeout_s
        while len(got) < len(requests):
            self._raise_if_failed()
            try:
                result, index = reply.get(timeout=min(1.0, max(deadline - time.monotonic(), 0.001)))
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"engine {self.spec.engine_index}: generate exceeded {timeout_s} s")
                continue
            got[index] = result
        return [got[id(r)] for r in requests]

    # Feed protocol, used by the generation thread.
    def take(self, max_items: int, timeout_s: float) -> list[GenerationRequest]:
        if not self._awake.wait(timeout_s) or not self.gate.wait_admit(timeout_s):
            return []
        items = []
        try:
            items.append(self._inbox.get(timeout=timeout_s) if timeout_s > 0 else self._inbox.get_nowait())
            while len(items) < max_items:
                items.append(self._inbox.get_nowait())
        except queue.Empty:
            pass
        with self._lock:
            for request, reply in items:
                self._replies[id(request)] = reply
            self._in_progress += len(items)
        return [request for request, _ in items]

    def emit(self, request: GenerationRequest, result: GenerationResult) -> None:
        with self._lock:
            reply = self._replies.pop(id(request))
            self._in_progress -= 1
            self._done += 1
            self._tokens += sum(len(s.token_ids) for s in result.samples)
        # The blocking path needs to know which request this answers; the streaming path does not.
        reply.put(result if reply is self._outbox else (result, id(request)))

    def _loop(self) -> None:
        try:
            while not self._stopped.is_set():
                self.backend.serve(self, self.gate)
        except BaseException as exc:  # surfaced to callers by _raise_if_failed
            self._error = exc

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"engine {self.spec.engine_index}: generation thread failed") from self._error

    def update_weights(self, state: dict[str, torch.Tensor], version: int) -> int:
        """Load full HF-named tensors passed through the object store (no process group needed)."""
        return self.gate.update(lambda: self.backend.load_weights(state.items()), version)

    def init_weight_sync(self, group: SyncGroup, rank: int) -> None:
        self.backend.init_weight_sync(group, rank)

    def receive_weights(self, manifest: Sequence[ParamMeta], version: int) -> int:
        return self.gate.update(lambda: self.backend.receive_weights(manifest), version)

    def sleep(self, timeout_s: float = 3600.0) -> None:
        """Colocated mode: let running requests finish, then free the accelerator; queued ones wait
        for wake_up (vLLM's sleep would abort running requests)."""
        self._awake.clear()
        deadline = time.monotonic() + timeout_s
        while self._in_progress > 0:
            self._raise_if_failed()
            if time.monotonic() > deadline:
                raise TimeoutError(f"engine {self.spec.engine_index}: requests still running after {timeout_s} s")
            time.sleep(0.01)
        self.gate.update(self.backend.sleep, self.gate.version)

    def wake_up(self) -> None:
        self.gate.update(self.backend.wake_up, self.gate.version)
        self._awake.set()

    def shutdown(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=30)


def make_engine_actor(spec: EngineSpec, options: dict[str, Any] | None = None) -> Any:
    """Start one engine as a threaded Ray actor (methods run concurrently with generation).

    `options` go to `.options()` (e.g. resources={"node:1": 1}, scheduling_strategy). On GPU a TP=1
    engine takes one GPU; TP>1 engines let vLLM's ray executor place their workers.
    """
    import ray

    opts: dict[str, Any] = {"max_concurrency": 16, "num_cpus": 1}
    if spec.device == "gpu" and spec.rollout.tensor_parallel == 1:
        opts["num_gpus"] = 1
    opts.update(options or {})
    return ray.remote(RolloutEngine).options(**opts).remote(spec)
