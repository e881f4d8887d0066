"""OLMo 3 7B Instruct DPO (dpo_tune_cache, run commit 2fd104e): delta-learning pairs, dpo_norm, beta 5.

    olmo3hpc launch 7b_instruct_dpo --site <your-site>
    # public mix instead of the run-era one: --data.mixer_list allenai/Dolci-Instruct-DPO 1.0
"""

from _olmo3 import DPO, mix, replace


RUN_ERA_MIX = mix(
    ("allenai/olmo-3-pref-mix-deltas-complement2-DECON-tpc-kwd-ch-dedup5-lbc100-grafmix-unbal", 125000),
    ("allenai/dpo-yolo1-200k-gpt4.1-2w2s-maxdelta_reje-426124-rm-gemma3-kwd-ftd-ch-ftd-topic-ftd-dedup5-lbc100", 125000),
    ("allenai/related-query_qwen_pairs_filtered_lbc100", 1250),
    ("allenai/paraphrase_qwen_pairs_filtered_lbc100", 938),
    ("allenai/repeat_qwen_pairs_filtered_lbc100", 312),
    ("allenai/self-talk_qwen_pairs_filtered_lbc100", 2500),
    ("allenai/related-query_gpt_pairs_filtered_lbc100", 1250),
    ("allenai/paraphrase_gpt_pairs_filtered_lbc100", 938),
    ("allenai/repeat_gpt_pairs_filtered_lbc100", 312),
    ("allenai/self-talk_gpt_pairs_filtered_lbc100", 2500),
)


def recipe():
    return replace(
        DPO,
        meta=replace(DPO.meta, name="7b_instruct_dpo"),
        # "olmo123" is not a registered template: the checkpoint tokenizer's own template was used.
        model=replace(DPO.model, init="recipe:7b_instruct_sft", public_equivalent="allenai/Olmo-3-7B-Instruct-SFT",
                      chat_template="tokenizer", params_b=7.0),
        data=replace(DPO.data, mixer_list=RUN_ERA_MIX, max_seq_length=16384),
        optim=replace(DPO.optim, lr=1e-6),
        # 32 GPUs x 1 pair x 4 accumulation = 128 pairs per step.
        train=replace(DPO.train, grad_accum=4),
        slurm=replace(DPO.slurm, nodes=4),
    )
