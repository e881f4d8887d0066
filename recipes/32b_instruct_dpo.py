"""OLMo 3 32B Instruct DPO (dpo_tune_cache, run commit 2fd104e); its output starts 32b_instruct_rl.

    olmo3hpc launch 32b_instruct_dpo --site <your-site>
"""

from _olmo3 import DPO, mix, replace


RUN_ERA_MIX = mix(
    ("allenai/olmo-3-pref-mix-deltas-complement2-DECON-tpc-kwd-ch-dedup5-lbc100-grafmix-unbal", 125000),
    ("allenai/dpo-yolo1-200k-gpt4.1-2w2s-maxdelta_reje-426124-rm-gemma3-kwd-ftd-ch-ftd-topic-ftd-dedup5-lbc100", 125000),
    ("allenai/general_responses_dev_8maxturns_truncate-9fbef8-enrejected-kwd-ftd-cn-ftd-topic-filt-lb100", 1250),
    ("allenai/paraphrase_train_dev_8maxturns_truncated-6e031f-dorejected-kwd-ftd-cn-ftd-topic-filt-lb100", 938),
    ("allenai/repeat_tulu_5maxturns_big_truncated2048_victoriagrejected-kwd-ftd-cn-ftd-topic-filt-lb100", 312),
    ("allenai/self-talk_gpt3.5_gpt4o_prefpairs_truncat-1848c9-agrejected-kwd-ftd-cn-ftd-topic-filt-lb100", 2500),
    ("allenai/general-responses-truncated-gpt-dedup-topic-filt-lb100", 1250),
    ("allenai/paraphrase-truncated-gpt-dedup-topic-filt-lb100", 938),
    ("allenai/repeat-truncated-gpt-dedup-topic-filt-lb100", 312),
    ("allenai/self-talk-truncated-gpt-deduped-topic-filt-lb100", 2500),
)


def recipe():
    return replace(
        DPO,
        meta=replace(DPO.meta, name="32b_instruct_dpo"),
        model=replace(DPO.model, init="recipe:32b_instruct_sft", chat_template="tokenizer", params_b=32.0),
        data=replace(DPO.data, mixer_list=RUN_ERA_MIX, max_seq_length=8192),
        optim=replace(DPO.optim, lr=1e-6),
        train=replace(DPO.train, grad_accum=2),
        # The published script passes --num_processes 64, which mason multiplied by the node count
        # again; what ran was 64 GPUs (8 nodes), 64 x 1 x 2 = 128 pairs per step.
        slurm=replace(DPO.slurm, nodes=8),
    )
