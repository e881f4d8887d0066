"""OLMo 3 7B Think DPO (dpo_tune_cache, run commit 68da0a1): reasoning delta pairs, first 150k after shuffle.

    olmo3hpc launch 7b_think_dpo --site <your-site>
    # public mix: --data.mixer_list allenai/Dolci-Think-DPO-7B 1.0
"""

from _olmo3 import DPO, replace



def recipe():
    return replace(
        DPO,
        meta=replace(DPO.meta, name="7b_think_dpo"),
        model=replace(DPO.model, init="recipe:7b_think_sft", public_equivalent="allenai/Olmo-3-7B-Think-SFT",
                      chat_template="olmo_thinker", params_b=7.0),
        data=replace(DPO.data, mixer_list=("scottgeng00/olmo-3-preference-mix-deltas_reasoning-yolo_scottmix-DECON", "1.0"),
                     max_seq_length=16384),
        optim=replace(DPO.optim, lr=8e-8),
        train=replace(DPO.train, grad_accum=4),
        dpo=replace(DPO.dpo, max_train_samples=150000),
        slurm=replace(DPO.slurm, nodes=4),
    )
