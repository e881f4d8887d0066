"""OLMo 3 7B RL-Zero Code (grpo_fast d928a7c): partial credit per passed test (threshold 0).

    olmo3hpc launch 7b_rlzero_code --site <your-site>
    # public data: --data.mixer_list allenai/Dolci-RLZero-Code-7B 1.0
"""

from _olmo3 import RL, mix, replace

from olmo3hpc.config import PlacementConfig


def recipe():
    return replace(
        RL,
        meta=replace(RL.meta, name="7b_rlzero_code"),
        # As run: olmo_thinker with a </answer> stop string (the HEAD script swapped in olmo_thinker_code_rlzero).
        model=replace(RL.model, init="allenai/Olmo-3-1025-7B", chat_template="olmo_thinker", params_b=7.0),
        data=replace(RL.data, mixer_list=mix(
            ("saurabh5/rlvr_acecoder_filtered_filtered_olmo_completions_filtered", 6656),
            ("hamishivi/synthetic2-rlvr-code-compressed_filtered", 3328),
            ("hamishivi/klear-code-rlvr_filtered", 3328),
        ), eval_mixer_list=mix(("hamishivi/rlvr_acecoder_filtered_filtered", 4), ("hamishivi/klear-code-rlvr_filtered", 4))),
        train=replace(RL.train, checkpoint_every=50, export_every=50, keep_last=-1),
        rollout=replace(RL.rollout, num_engines=32, tensor_parallel=1, response_length=16384, samples_per_prompt=8,
                        prompts_per_step=32, stop_strings=("</answer>",), prefix_caching=True),
        rl=replace(RL.rl, total_episodes=10_000_000, pack_length=18432, async_steps=4, inflight_updates=True,
                   tis_cap=2.0, advantage_normalization="standard", mask_truncated_completions=True,
                   local_eval_every=50),
        reward=replace(RL.reward, code_pass_rate_threshold=0.0),
        slurm=replace(RL.slurm, nodes=5),
        placement=PlacementConfig(mode="separate", learners_per_node=(8,)),
    )
