"""Tiny DPO on a CPU in minutes: random Olmo3, in-process tokenizer, bundled toy preference pairs.

    olmo3hpc launch smoke_dpo --executor local
"""

from pathlib import Path

from olmo3hpc.config import (
    DataConfig, DeepSpeedConfig, DPOConfig, DPORun, MetaConfig, ModelConfig, OptimConfig, PlacementConfig,
    SlurmConfig, TrainConfig,
)

DATA = Path(__file__).resolve().parent / "data"


def recipe() -> DPORun:
    return DPORun(
        meta=MetaConfig(name="smoke_dpo", seed=1),
        model=ModelConfig(init="random:tiny", tokenizer="random:bpe", chat_template="olmo", params_b=0.001,
                          dtype="float32", gradient_checkpointing=False),
        data=DataConfig(mixer_list=(str(DATA / "smoke_dpo.jsonl"), "1.0"),
                        eval_mixer_list=(str(DATA / "smoke_dpo_eval.jsonl"), "1.0"), max_seq_length=256,
                        num_workers=1),
        optim=OptimConfig(lr=5e-4, warmup_ratio=0.1, weight_decay=0.0),
        train=TrainConfig(epochs=1, micro_batch_size=4, grad_accum=1, checkpoint_every=10, keep_last=2),
        deepspeed=DeepSpeedConfig(zero_stage=2),
        dpo=DPOConfig(loss_type="dpo_norm", beta=5.0),
        slurm=SlurmConfig(nodes=1, gpus_per_node=0, time="00:30:00", signal_delay_s=60),
        placement=PlacementConfig(cpu_devices_per_node=2),
    )
