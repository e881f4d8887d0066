"""Every OLMo 3 recipe against the run-era reference (tests/config/olmo3_recipes.json, a copy of the reference), field by field.

MAPPING says which JSON key lands in which config field; DEVIATIONS lists the few values a recipe
changes on purpose, each with the reason also written in the recipe.
"""

import json
import re
from pathlib import Path

import pytest

from olmo3hpc.catalog import load_recipe
from olmo3hpc.config import get_path

REFERENCE = json.loads((Path(__file__).parent / "olmo3_recipes.json").read_text())

MAPPING = {
    # SFT (OLMo-core flags)
    "--train_module.optim.lr": "optim.lr",
    "--trainer.max_duration.value": "train.epochs",
    "--seq_len": "data.max_seq_length",
    "--global_batch_size": "train.global_batch_tokens",
    "--num_nodes": "slurm.nodes",
    "--launch.num_gpus": "slurm.gpus_per_node",
    "init_seed": "meta.seed",
    # DPO (dpo_tune_cache flags)
    "--max_seq_length": "data.max_seq_length",
    "--gradient_accumulation_steps": "train.grad_accum",
    "--warmup_ratio": "optim.warmup_ratio",
    "--weight_decay": "optim.weight_decay",
    "--num_train_epochs": "train.epochs",
    "--dpo_loss_type": "dpo.loss_type",
    "--dpo_beta": "dpo.beta",
    "--max_train_samples": "dpo.max_train_samples",
    "--zero_stage": "deepspeed.zero_stage",
    # shared
    "--learning_rate": "optim.lr",
    "--lr_scheduler_type": "optim.schedule",
    "--per_device_train_batch_size": "train.micro_batch_size",
    "--seed": "meta.seed",
    "--gradient_checkpointing": "model.gradient_checkpointing",
    # RL (grpo_fast flags)
    "--beta": "rl.kl_beta",
    "--kl_estimator": "rl.kl_estimator",
    "--num_samples_per_prompt_rollout": "rollout.samples_per_prompt",
    "--num_unique_prompts_rollout": "rollout.prompts_per_step",
    "--num_mini_batches": "rl.num_mini_batches",
    "--num_epochs": "rl.num_epochs",
    "--max_prompt_token_length": "rollout.max_prompt_length",
    "--response_length": "rollout.response_length",
    "--pack_length": "rl.pack_length",
    "--temperature": "rollout.temperature",
    "--stop_strings": "rollout.stop_strings",
    "--total_episodes": "rl.total_episodes",
    "--deepspeed_stage": "deepspeed.zero_stage",
    "--deepspeed_zpg": "deepspeed.hpz_partition_size",
    "--gather_whole_model": "deepspeed.gather_whole_model",
    "--backend_timeout": "deepspeed.backend_timeout_min",
    "--num_learners_per_node": "placement.learners_per_node",
    "--vllm_num_engines": "rollout.num_engines",
    "--vllm_tensor_parallel_size": "rollout.tensor_parallel",
    "--vllm_enable_prefix_caching": "rollout.prefix_caching",
    "--vllm_enforce_eager": "rollout.enforce_eager",
    "--local_eval_every": "rl.local_eval_every",
    "--save_freq": "train.export_every",
    "--checkpoint_state_freq": "train.checkpoint_every",
    "--keep_last_n_checkpoints": "train.keep_last",
    "--clip_higher": "rl.clip_higher",
    "--mask_truncated_completions": "rl.mask_truncated_completions",
    "--inflight_updates": "rl.inflight_updates",
    "--async_steps": "rl.async_steps",
    "--advantage_normalization_type": "rl.advantage_normalization",
    "--truncated_importance_sampling_ratio_cap": "rl.tis_cap",
    "--active_sampling": "rl.active_sampling",
    "--active_fill_completions": "rl.active_sampling",
    "--no_resampling_pass_rate": "rl.no_resampling_pass_rate",
    "--no_resample_solve_rate": "rl.no_resampling_pass_rate",
    "--code_pass_rate_reward_threshold": "reward.code_pass_rate_threshold",
    "--code_max_execution_time": "reward.code_max_execution_time",
    "--llm_judge_timeout": "reward.judge_timeout_s",
    "--llm_judge_max_tokens": "reward.judge_max_tokens",
    "--llm_judge_max_context_length": "reward.judge_max_context",
}
INFRASTRUCTURE = {"num_nodes": "slurm.nodes", "gpus_per_node": "slurm.gpus_per_node",
                  "deepspeed_zero_stage": "deepspeed.zero_stage", "vllm_engines": "rollout.num_engines",
                  "vllm_tp": "rollout.tensor_parallel"}

# (recipe, config path): (expected value, why) -- each reason is also a comment in the recipe.
DEVIATIONS = {
    ("7b_think_sft", "slurm.nodes"): (4, "OLMo-core used context parallel 2; same 32-way data parallel batch"),
    ("32b_think_sft", "slurm.nodes"): (16, "OLMo-core used context parallel 8; same 128-way batch"),
    ("7b_rlzero_math", "slurm.nodes"): (9, "8 learners + 64 engines do not fit 8 nodes"),
}

# The 32B Think RL run-commit branch script is what we follow (see recipes/32b_think_rl.py).
VARIANT = {"32b_think_rl": ("branch_script_at_run_commit", "differences_vs_head")}


def _expected(value):
    """JSON values carry notes ("not set -> 0.0 at run commit", "1 (default)"); reduce them to values."""
    if isinstance(value, str):
        if "not set" in value:
            m = re.search(r"->\s*'?([^\s')]+)", value) or re.search(r"\((False|True|[\d.]+)\)", value)
            value = m.group(1) if m else value
        value = value.split(" (")[0].strip().strip("'")
        if value in ("True", "False", "true", "false"):
            return value.lower() == "true"
        if re.fullmatch(r"kl\d", value):
            return "k" + value[2:]
        for cast in (int, float):
            try:
                return cast(value)
            except ValueError:
                pass
    return value


def _reference_values(name):
    ref = REFERENCE[name]
    hyper = dict(ref["hyperparameters"])
    if name in VARIANT:
        key, diff = VARIANT[name]
        hyper.update(ref["variants"][key][diff])
    values = {MAPPING[k]: _expected(v) for k, v in hyper.items() if k in MAPPING}
    for k, path in INFRASTRUCTURE.items():
        if k in ref.get("infrastructure", {}) and not (name in VARIANT and path in ("slurm.nodes", "rollout.num_engines", "rollout.tensor_parallel")):
            values[path] = ref["infrastructure"][k]
    if values.get("dpo.max_train_samples") is None and "dpo.max_train_samples" in values:
        values["dpo.max_train_samples"] = 0
    return values


def _normalize(path, value):
    if path == "rollout.stop_strings":
        return tuple(value.split()) if isinstance(value, str) else tuple(value)
    if path == "placement.learners_per_node":
        return tuple(value)
    if path == "train.epochs":
        return float(value)
    return value


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_recipe_matches_reference(name):
    run = load_recipe(name)
    assert run.stage == REFERENCE[name]["stage"]
    mismatches = []
    for path, want in sorted(_reference_values(name).items()):
        if (name, path) in DEVIATIONS:
            want = DEVIATIONS[(name, path)][0]
        got = get_path(run, path)
        if _normalize(path, got) != _normalize(path, want):
            mismatches.append(f"{path}: recipe {got!r} != reference {want!r}")
    assert not mismatches, f"{name}:\n  " + "\n  ".join(mismatches)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_recipe_datasets_match_reference(name):
    run = load_recipe(name)
    ref = REFERENCE[name]
    datasets = ref["variants"][VARIANT[name][0]]["datasets"] if name in VARIANT else ref["datasets"]
    want = []
    for d in datasets:
        source = d.get("public_equivalent") or d.get("name") or d.get("path")
        amount = d.get("count", d.get("fraction", 1.0))
        want.append((source, str(amount)))
    assert list(run.data.mix) == want
    if ref.get("eval_datasets"):
        names = [n for n, _ in run.data.eval_mixer_list and zip(run.data.eval_mixer_list[::2], run.data.eval_mixer_list[1::2])]
        assert set(names) == {d["name"] for d in ref["eval_datasets"]}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_recipe_template_and_init(name):
    run = load_recipe(name)
    ref = REFERENCE[name]
    template = ref["chat_template_name"]
    if run.model.chat_template == "tokenizer":
        assert "olmo123" in template or "tokenizer-instruct-dev" in template
    else:
        assert template.startswith(run.model.chat_template) or f" {run.model.chat_template} " in f" {template} "
    public = ref.get("init_model_public_equivalent", "")
    if run.model.lineage is None:
        assert run.model.init in (ref["init_model"], public.split(" (")[0]) or ref["init_model"].startswith(run.model.init)
    elif public:
        assert run.model.public_equivalent == public.split(" (")[0]


LINEAGE = {
    "7b_instruct_sft": "7b_think_sft", "32b_instruct_sft": "32b_think_sft",
    "7b_instruct_dpo": "7b_instruct_sft", "7b_think_dpo": "7b_think_sft",
    "32b_instruct_dpo": "32b_instruct_sft", "32b_think_dpo": "32b_think_sft",
    "7b_instruct_rl": "7b_instruct_dpo", "7b_think_rl": "7b_think_dpo", "7b_think_rl_no_pipeline": "7b_think_dpo",
    "32b_instruct_rl": "32b_instruct_dpo", "32b_think_rl": "32b_think_dpo",
}


@pytest.mark.parametrize("name,parent", sorted(LINEAGE.items()))
def test_lineage_is_explicit(name, parent):
    assert load_recipe(name).model.init == f"recipe:{parent}"
