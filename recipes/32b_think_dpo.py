"""OLMo 3 32B Think DPO (dpo_tune_cache, run commit 2fd104e): from the merged 32B Think SFT soup;
lr 7e-8 is the sweep point (7e-8/8e-8/9e-8) whose output started 32B Think RL.

    olmo3hpc launch 32b_think_dpo --model.init runs/32b_think_sft_soup
"""

from _olmo3 import DPO, replace



def recipe():
    return replace(
        DPO,
        meta=replace(DPO.meta, name="32b_think_dpo"),
        model=replace(DPO.model, init="recipe:32b_think_sft", public_equivalent="allenai/Olmo-3-32B-Think-SFT",
                      chat_template="tokenizer", params_b=32.0),
        data=replace(DPO.data, mixer_list=("allenai/olmo-3-preference-mix-deltas_reasoning-scottmix-DECON-keyword-ftd-topic-ftd-dedup5_take2", "1.0"),
                     max_seq_length=8192),
        optim=replace(DPO.optim, lr=7e-8),
        train=replace(DPO.train, grad_accum=1),
        dpo=replace(DPO.dpo, max_train_samples=200000),
        # --zero_stage 3 made the script build its own DeepSpeed config, where hpZ defaults to 8.
        deepspeed=replace(DPO.deepspeed, zero_stage=3, hpz_partition_size=8),
        slurm=replace(DPO.slurm, nodes=16),
    )
