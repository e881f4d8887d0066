"""Tiny GRPO on a CPU in minutes: random Olmo3, toy prompts with verifiable answers.

    olmo3hpc launch smoke_rl --executor local

Every prompt's answer is 7 and the `gsm8k` verifier (last number in the response) checks it, so a
random tiny model gets well under 1% of its samples right at first; with 16 x 16 samples per step a
few groups still carry signal, and within ~30 steps it learns to answer 7: mean reward rises from
~0.1 toward 5-9 (rewards are 0 or 10). One prompt in the data is longer than
rollout.max_prompt_length on purpose: it is filtered and counted.
"""

from pathlib import Path

from olmo3hpc.config import (
    DataConfig, DeepSpeedConfig, MetaConfig, ModelConfig, OptimConfig, PlacementConfig, RewardConfig, RLConfig,
    RLRun, RolloutConfig, SlurmConfig, TrainConfig,
)

DATA = Path(__file__).resolve().parent / "data"
STEPS = 30


def recipe() -> RLRun:
    rollout = RolloutConfig(engine="transformers", num_engines=1, max_prompt_length=96, response_length=4,
                            samples_per_prompt=16, prompts_per_step=16, temperature=1.0)
    return RLRun(
        meta=MetaConfig(name="smoke_rl", seed=1),
        model=ModelConfig(init="random:tiny", tokenizer="random:bpe", chat_template="olmo", params_b=0.001,
                          dtype="float32", gradient_checkpointing=False),
        data=DataConfig(mixer_list=(str(DATA / "smoke_rl.jsonl"), "1.0"),
                        eval_mixer_list=(str(DATA / "smoke_rl_eval.jsonl"), "1.0"), max_seq_length=256,
                        num_workers=1),
        optim=OptimConfig(lr=5e-3, schedule="constant", warmup_ratio=0.0),
        train=TrainConfig(micro_batch_size=8, checkpoint_every=10, keep_last=2),
        deepspeed=DeepSpeedConfig(zero_stage=2),
        rollout=rollout,
        rl=RLConfig(total_episodes=rollout.samples_per_step * STEPS, async_steps=1, pack_length=256,
                    advantage_normalization="standard", local_eval_every=10),
        reward=RewardConfig(),
        slurm=SlurmConfig(nodes=1, gpus_per_node=0, time="00:30:00", signal_delay_s=60),
        placement=PlacementConfig(mode="separate", learners_per_node=(1,), cpu_devices_per_node=2),
    )
