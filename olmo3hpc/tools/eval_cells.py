"""One eval-sweep cell: a checkpoint x a task group, generated greedily and scored by the verifiers.

    result = evaluate_cell(cell, settings, cells_dir)   # writes cells_dir/<key>.json (+ .samples.jsonl)

Generation uses the RL stage's rollout engine in-process (`stages.rl.engines.RolloutEngine`: vLLM or
transformers behind one interface) with greedy decoding; prompts are rendered with the run's chat
template exactly as the RL stage renders them (`data.prompts`). Scores come from the reward registry
through `rewards.services.RewardServices` (a local code-execution service is started only when the
group has code rows). A sample's score is the mean over its verifiers of their 0..1 scores; a prompt
longer than `max_prompt_length` scores 0 and is counted. The result file is written last and
atomically: a cell is finished exactly when `<key>.json` exists.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from olmo3hpc.atomic import write_text_atomic
from olmo3hpc.tools.suites import TaskGroup, load_rows

RESULT_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class EvalSettings:
    engine: Literal["vllm", "transformers"] = "transformers"
    device: Literal["cpu", "gpu"] = "cpu"
    dtype: Literal["bfloat16", "float32"] = "float32"
    chat_template: str = "olmo"
    max_new_tokens: int = 0
    """0 = the task group's own budget."""
    limit: int = 0
    """Rows per task group (0 = all)."""
    max_prompt_length: int = 2048


@dataclass(frozen=True)
class Cell:
    checkpoint: str
    """HF model directory."""
    label: str
    """Checkpoint label in tables (e.g. step_00000100, final)."""
    step: int | None
    group: TaskGroup

    @property
    def key(self) -> str:
        return f"{self.label}__{self.group.name}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cell:
        return cls(data["checkpoint"], data["label"], data["step"], TaskGroup(**data["group"]))


def _prompts(cell: Cell, settings: EvalSettings, rows: list[dict], tokenizer: Any) -> list[Any]:
    from olmo3hpc.data.prompts import encode_prompt_rows
    from olmo3hpc.data.templates import ChatRenderer

    renderer = ChatRenderer.for_tokenizer(tokenizer, settings.chat_template)
    return encode_prompt_rows(tokenizer, renderer, rows, "messages", "ground_truth", settings.max_prompt_length)


def _generate(cell: Cell, settings: EvalSettings, prompts: list[Any], max_new: int) -> dict[int, str]:
    from olmo3hpc.config import ModelConfig, RolloutConfig
    from olmo3hpc.stages.rl.engines import EngineSpec, GenerationRequest, RolloutEngine, SamplingSpec

    model = ModelConfig(init=cell.checkpoint, dtype=settings.dtype, gradient_checkpointing=False)
    rollout = RolloutConfig(engine=settings.engine, max_prompt_length=settings.max_prompt_length,
                            response_length=max_new, samples_per_prompt=1)
    engine = RolloutEngine(EngineSpec(model=model, rollout=rollout, device=settings.device))
    try:
        sampling = SamplingSpec.greedy(max_new)
        requests = [GenerationRequest(i, tuple(int(t) for t in p.ids), sampling)
                    for i, p in enumerate(prompts) if p is not None]
        results = engine.generate(requests, timeout_s=RESULT_TIMEOUT_S)
    finally:
        engine.shutdown()
    return {r.request_id: r.samples[0].text for r in results}


def score_responses(rows: list[dict], responses: dict[int, str]) -> list[float]:
    """0..1 score per row: the mean over the row's verifiers; a row without a response scores 0."""
    from olmo3hpc.config import RewardConfig
    from olmo3hpc.rewards.registry import Sample, verifier_pairs
    from olmo3hpc.rewards.services import RewardServices, needed_services

    samples = {i: Sample(id=rows[i]["id"], prediction=text, dataset=rows[i]["dataset"],
                         ground_truth=rows[i]["ground_truth"]) for i, text in responses.items()}
    names = {name for s in samples.values() for name, _ in verifier_pairs(s)}
    with RewardServices(RewardConfig(code_workers=2, reward_workers=1)) as services:
        services.start(*needed_services(names))
        rewards = services.scorer().submit(list(samples.values())).result(timeout=RESULT_TIMEOUT_S)
    scores = [0.0] * len(rows)
    for (i, sample), reward in zip(samples.items(), rewards):
        verifiers = [name.lower() for name, _ in verifier_pairs(sample)]
        scores[i] = sum(reward.scores.get(v, 0.0) for v in verifiers) / len(verifiers)
    return scores


def _fit_context(settings: EvalSettings, checkpoint: str, max_new: int) -> EvalSettings:
    """Shrink the prompt budget so prompt + response fits the model's positions (vLLM refuses more);
    prompts over the budget are counted as too long."""
    config = Path(checkpoint) / "config.json"
    context = json.loads(config.read_text()).get("max_position_embeddings") if config.exists() else None
    if not context:
        return settings
    if max_new >= context:
        raise ValueError(f"{config}: max_position_embeddings={context} leaves no room for a prompt "
                         f"with max_new_tokens={max_new}; pass a smaller --max-new-tokens")
    return replace(settings, max_prompt_length=min(settings.max_prompt_length, int(context) - max_new))


def evaluate_cell(cell: Cell, settings: EvalSettings, cells_dir: Path) -> dict[str, Any]:
    """Generate and score one cell; writes `<key>.samples.jsonl` then `<key>.json`; returns the result."""
    from olmo3hpc.engine.modelfactory import load_tokenizer
    from olmo3hpc.config import ModelConfig

    start = time.time()
    rows = load_rows(cell.group, settings.limit)
    tokenizer = load_tokenizer(ModelConfig(init=cell.checkpoint))
    max_new = settings.max_new_tokens or cell.group.max_new_tokens
    settings = _fit_context(settings, cell.checkpoint, max_new)
    prompts = _prompts(cell, settings, rows, tokenizer)
    texts = _generate(cell, settings, prompts, max_new)
    scores = score_responses(rows, texts)
    samples = [{"id": r["id"], "score": s, "response": texts.get(i, "")} for i, (r, s) in
               enumerate(zip(rows, scores))]
    write_text_atomic(cells_dir / f"{cell.key}.samples.jsonl", "".join(json.dumps(s) + "\n" for s in samples))
    result = {**cell.to_json(), "n": len(rows), "score": sum(scores) / len(scores),
              "too_long": sum(p is None for p in prompts), "engine": settings.engine,
              "seconds": round(time.time() - start, 2)}
    write_text_atomic(cells_dir / f"{cell.key}.json", json.dumps(result, indent=2) + "\n")
    return result
