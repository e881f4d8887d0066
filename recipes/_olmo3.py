"""Run-era defaults shared by the OLMo 3 recipes (not a recipe: the leading underscore hides it).

Values are the trainer defaults in effect at the OLMo 3 run commits (olmo3_recipes.json,
`defaults_in_effect`): OLMo-core SFT at 9e97471/38f6652, dpo_tune_cache at 2fd104e/68da0a1,
grpo_fast at 42aa63c. A recipe replaces only what its script set explicitly.
"""

from dataclasses import replace

from olmo3hpc.config import (
    DataConfig, DeepSpeedConfig, DPOConfig, DPORun, MetaConfig, ModelConfig, OptimConfig, PlacementConfig,
    RewardConfig, RLConfig, RLRun, RolloutConfig, SFTRun, SlurmConfig, TrainConfig,
)

__all__ = ["SFT", "DPO", "RL", "replace", "mix", "INSTRUCT_RL_MIX", "INSTRUCT_RL_EVAL_MIX"]


def mix(*pairs: tuple[str, int | float]) -> tuple[str, ...]:
    """`dataset_mixer_list` from (name, amount) pairs: floats are fractions, ints row counts."""
    return tuple(item for name, amount in pairs for item in (name, str(amount)))


# OLMo-core SFT: SkipStepAdamW(0.9, 0.95), wd 0, LinearWithWarmup 3% -> 0, clip 1.0, 32k packed
# sequences, checkpoints every 1000 steps + ephemeral every 500, data loader seed 34521.
SFT = SFTRun(
    model=ModelConfig(gradient_checkpointing=True),
    data=DataConfig(max_seq_length=32768, packing=True, shuffle_seed=34521),
    optim=OptimConfig(betas=(0.9, 0.95), weight_decay=0.0, schedule="linear", warmup_ratio=0.03,
                      max_grad_norm=1.0),
    train=TrainConfig(epochs=2, micro_batch_size=1, checkpoint_every=500, export_every=1000, keep_last=3),
    deepspeed=DeepSpeedConfig(zero_stage=3),
    slurm=SlurmConfig(gpus_per_node=8, exclusive=True),
)

# dpo_tune_cache: torch AdamW defaults (0.9, 0.999), wd 0, linear 10% warmup -> 0, 1 epoch, seed 42,
# concatenated forward, no packing, reference log-probs cached before training. Gradient clipping
# was DeepSpeed "auto" under accelerate; we clip at 1.0 like the other OLMo 3 stages.
DPO = DPORun(
    meta=MetaConfig(seed=42),
    model=ModelConfig(gradient_checkpointing=True),
    data=DataConfig(packing=False),
    optim=OptimConfig(betas=(0.9, 0.999), weight_decay=0.0, schedule="linear", warmup_ratio=0.1,
                      max_grad_norm=1.0),
    train=TrainConfig(epochs=1, micro_batch_size=1, checkpoint_every=500, keep_last=3),
    deepspeed=DeepSpeedConfig(zero_stage=3),
    dpo=DPOConfig(loss_type="dpo_norm", beta=5.0),
    slurm=SlurmConfig(gpus_per_node=8, exclusive=True),
)

# grpo_fast at 42aa63c: torch AdamW defaults, constant LR, clip 1.0, ZeRO-3, beta 0 (no reference
# model), kl3, verification reward 10, zero-std filtering on, per-device batch 1, bf16 vLLM engines.
# Code rewards: OLMo 3 posted to Ai2's AWS endpoint; here the job starts its own sandboxed service
# (code_api_url None). The Qwen3-32B judge ran outside the job; give `--reward.judge_url URL`, or
# one more node with `--reward.judge_gpus 2 --reward.judge_tensor_parallel 2`.
RL = RLRun(
    meta=MetaConfig(seed=1),
    model=ModelConfig(chat_template="olmo_thinker", gradient_checkpointing=True),
    data=DataConfig(mixer_list_splits=("train",), eval_mixer_list_splits=("train",)),
    optim=OptimConfig(lr=1e-6, betas=(0.9, 0.999), weight_decay=0.0, schedule="constant", warmup_ratio=0.0,
                      max_grad_norm=1.0),
    train=TrainConfig(micro_batch_size=1, checkpoint_every=100, export_every=25, keep_last=3),
    deepspeed=DeepSpeedConfig(zero_stage=3, hpz_partition_size=8, backend_timeout_min=1200),
    rollout=RolloutConfig(engine="vllm", max_prompt_length=2048, samples_per_prompt=8, prompts_per_step=64,
                          temperature=1.0, top_p=1.0),
    rl=RLConfig(kl_beta=0.0, kl_estimator="k3", filter_zero_std=True, clip_lower=0.2, clip_higher=0.272,
                local_eval_every=50),
    reward=RewardConfig(verification_reward=10.0, judge_model="Qwen/Qwen3-32B", judge_timeout_s=600,
                        judge_max_tokens=2048, judge_max_context=32768, code_pass_rate_threshold=0.99),
    slurm=SlurmConfig(gpus_per_node=8, exclusive=True),
    placement=PlacementConfig(mode="separate"),
)


# The published script passes ${nonreasoner_math_mix_decon}, which it never defines; the mix it does
# define (nonreasoner_integration_mix_decon) is this one (7B and 32B Instruct RL share it). Public equivalent: allenai/Dolci-Instruct-RL.
INSTRUCT_RL_MIX = mix(
    ("hamishivi/rlvr_acecoder_filtered_filtered", 20000),
    ("hamishivi/omega-combined-no-boxed_filtered", 20000),
    ("hamishivi/rlvr_orz_math_57k_collected_filtered", 14000),
    ("hamishivi/polaris_53k", 14000),
    ("hamishivi/MathSub-30K_filtered", 9000),
    ("hamishivi/DAPO-Math-17k-Processed_filtered", 7000),
    ("allenai/IF_multi_constraints_upto5_filtered_dpo_0625_filter-keyword-filtered-topic-char-topic-filtered", 38000),
    ("allenai/rlvr_general_mix-keyword-filtered-topic-chars-char-filt-topic-filtered", 50000),
)
INSTRUCT_RL_EVAL_MIX = mix(
    ("hamishivi/omega-combined", 4),
    ("allenai/IF_multi_constraints_upto5", 4),
    ("saurabh5/rlvr_acecoder_filtered", 4),
    ("hamishivi/tulu_3_rewritten_400k_string_f1_only_v2_nocode_all_filtered_qwen2_5_openthoughts2", 4),
    ("hamishivi/virtuoussy_multi_subject_rlvr", 4),
)
