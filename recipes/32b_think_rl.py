"""OLMo 3 32B Think RL as at the run commit 42aa63c (branch script 32b_rl_smoke_test.sh): from the 32B
Think DPO output, lr 1e-6, 64 learners + 20 TP-8 engines filling all 28 nodes.

The HEAD script instead starts from the SFT soup at lr 2e-6 with 96 learners + 6 engines (144 of 224
GPUs); we follow the run-commit script, which is consistent with the allocation and the lineage.

    olmo3hpc launch 32b_think_rl --site <your-site> --reward.judge_url http://judge:8001/v1
"""

from _olmo3 import RL, mix, replace

from olmo3hpc.config import PlacementConfig


def recipe():
    return replace(
        RL,
        meta=replace(RL.meta, name="32b_think_rl", seed=1),
        model=replace(RL.model, init="recipe:32b_think_dpo", chat_template="olmo_thinker", params_b=32.0),
        data=replace(RL.data, mixer_list=mix(
            ("hamishivi/math_rlvr_mixture_dpo", 1.0),
            ("saurabh5/code_rlvr_mixture_dpo", 1.0),
            ("allenai/IF_multi_constraints_upto5_filtered_dpo_0625_filter-keyword-filtered-topic-char-topic-filtered", 30186),
            ("allenai/rlvr_general_mix-keyword-filtered-topic-chars-char-filt-topic-filtered", 21387),
        ), eval_mixer_list=mix(
            ("hamishivi/omega-combined", 8), ("allenai/IF_multi_constraints_upto5", 8),
            ("saurabh5/rlvr_acecoder_filtered", 8),
            ("hamishivi/tulu_3_rewritten_400k_string_f1_only_v2_nocode_all_filtered_qwen2_5_openthoughts2", 4),
            ("hamishivi/virtuoussy_multi_subject_rlvr", 4),
        )),
        train=replace(RL.train, checkpoint_every=1, export_every=50),
        deepspeed=replace(RL.deepspeed, hpz_partition_size=1, gather_whole_model=False),
        rollout=replace(RL.rollout, num_engines=20, tensor_parallel=8, response_length=32768, prompts_per_step=128,
                        enforce_eager=True),
        rl=replace(RL.rl, total_episodes=10_000_000, pack_length=35840, async_steps=8, inflight_updates=True,
                   tis_cap=2.0, advantage_normalization="centered", active_sampling=True, local_eval_every=50),
        optim=replace(RL.optim, lr=1e-6),
        reward=replace(RL.reward, code_max_execution_time=6.0),
        slurm=replace(RL.slurm, nodes=28),
        placement=PlacementConfig(mode="separate", learners_per_node=(8,) * 8),
    )
