"""OLMo 3 7B RL-Zero Instruction Following (grpo_fast d928a7c): IFEval-style constraint rewards.

    olmo3hpc launch 7b_rlzero_instruction_following --site <your-site>
    # public data: --data.mixer_list allenai/Dolci-RLZero-IF-7B 1.0
"""

from _olmo3 import RL, replace

from olmo3hpc.config import PlacementConfig


def recipe():
    return replace(
        RL,
        meta=replace(RL.meta, name="7b_rlzero_instruction_following"),
        model=replace(RL.model, init="allenai/Olmo-3-1025-7B", chat_template="olmo_thinker", params_b=7.0),
        data=replace(RL.data, mixer_list=("saurabh5/IF_multi_constraints_upto5_filtered_olmo_completions_filtered", "13314"),
                     eval_mixer_list=("hamishivi/IF_multi_constraints_upto5_filtered", "8")),
        train=replace(RL.train, checkpoint_every=200, export_every=50, keep_last=-1),
        rollout=replace(RL.rollout, num_engines=32, tensor_parallel=1, response_length=16384, samples_per_prompt=8,
                        prompts_per_step=32, stop_strings=("</answer>",), prefix_caching=True),
        rl=replace(RL.rl, total_episodes=10_000_000, pack_length=18432, async_steps=4, inflight_updates=True,
                   tis_cap=2.0, advantage_normalization="standard", mask_truncated_completions=True,
                   local_eval_every=50),
        reward=replace(RL.reward, code_pass_rate_threshold=0.0),
        slurm=replace(RL.slurm, nodes=5),
        placement=PlacementConfig(mode="separate", learners_per_node=(8,)),
    )
