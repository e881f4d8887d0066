"""Tiny GRPO on a CPU in minutes: random Olmo3, toy prompts with verifiable answers.

    olmo3hpc launch smoke_rl --executor local
"""

from pathlib import Path

from olmo3hpc.config import (
    DataConfig, DeepSpeedConfig, MetaConfig, ModelConfig, OptimConfig, PlacementConfig, RewardConfig, RLConfig,
    RLRun, RolloutConfig, SlurmConfig, TrainConfig,
)

DATA = Path(__file__).resolve().parent / "data"


def recipe() -> RLRun:
    return RLRun(
        meta=MetaConfig(name="smoke_rl", seed=1),
        model=ModelConfig(init="random:tiny", tokenizer="random:bpe", chat_template="olmo", params_b=0.001,
                          dtype="float32", gradient_checkpointing=False),
        data=DataConfig(mixer_list=(str(DATA / "smoke_rl.jsonl"), "1.0"),
                        eval_mixer_list=(str(DATA / "smoke_rl.jsonl"), "8"), max_seq_length=256, num_workers=1),
        optim=OptimConfig(lr=1e-3, schedule="constant", warmup_ratio=0.0),
        train=TrainConfig(micro_batch_size=1, checkpoint_every=5, keep_last=2),
        deepspeed=DeepSpeedConfig(zero_stage=2),
        rollout=RolloutConfig(engine="transformers", num_engines=1, max_prompt_length=64, response_length=16,
                              samples_per_prompt=4, prompts_per_step=8, temperature=1.0),
        rl=RLConfig(total_episodes=32 * 20, async_steps=1, advantage_normalization="standard",
                    local_eval_every=5),
        reward=RewardConfig(),
        slurm=SlurmConfig(nodes=1, gpus_per_node=0, time="00:30:00", signal_delay_s=60),
        placement=PlacementConfig(mode="separate", learners_per_node=(1,), cpu_devices_per_node=2),
    )
