"""Local eval: greedy decoding (temperature 0, one sample) on the held-out prompts, scored with the same
reward function as training (open-instruct `local_eval_every`)."""

from __future__ import annotations

import numpy as np

from olmo3hpc.config import RLRun
from olmo3hpc.stages.rl.engine_pool import EnginePool
from olmo3hpc.stages.rl.engines import GenerationRequest, SamplingSpec
from olmo3hpc.stages.rl.prompt_set import PromptSet
from olmo3hpc.stages.rl.scoring import GroupScorer


def local_eval(engines: EnginePool, scorer: GroupScorer, prompts: PromptSet, run: RLRun) -> dict[str, float]:
    """Mean reward, solved fraction and response length of greedy completions; {} without eval prompts."""
    if not prompts.prompts:
        return {}
    sampling = SamplingSpec.greedy(run.rollout.response_length, tuple(run.rollout.stop_strings))
    requests = [GenerationRequest(f"eval{i}", tuple(int(t) for t in p.ids), sampling)
                for i, p in enumerate(prompts.prompts)]
    results = engines.generate(requests)
    groups = [(p, [r.samples[0].text], [f"eval/prompt{i}"]) for i, (p, r) in enumerate(zip(prompts.prompts, results))]
    arr = np.asarray([g[0] for g in scorer.score_groups(groups)], dtype=np.float64)
    lengths = [len(r.samples[0].token_ids) for r in results]
    return {
        "eval_reward_mean": float(arr.mean()),
        "eval_solved_fraction": float(np.mean(arr >= run.reward.verification_reward)),
        "eval_response_length_mean": float(np.mean(lengths)),
    }
