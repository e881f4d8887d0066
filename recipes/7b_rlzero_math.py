"""OLMo 3 7B RL-Zero Math (grpo_fast d928a7c): GRPO straight from the base model, plain-text prompt.

    olmo3hpc launch 7b_rlzero_math --site <your-site>
"""

from _olmo3 import RL, mix, replace

from olmo3hpc.config import PlacementConfig


def recipe():
    return replace(
        RL,
        meta=replace(RL.meta, name="7b_rlzero_math"),
        model=replace(RL.model, init="allenai/Olmo-3-1025-7B", chat_template="olmo_thinker_rlzero", params_b=7.0),
        data=replace(RL.data, mixer_list=("allenai/Dolci-RLZero-Math-7B", "1.0"),
                     eval_mixer_list=mix(("allenai/aime2024-25-rlvr", 1.0), ("allenai/aime2024-25-rlvr", 1.0)),
                     eval_mixer_list_splits=("test_2024", "test_2025")),
        train=replace(RL.train, checkpoint_every=100, export_every=100),
        rollout=replace(RL.rollout, num_engines=64, tensor_parallel=1, response_length=12000,
                        samples_per_prompt=16, prompts_per_step=16, prefix_caching=True),
        # Run-era flags --active_fill_completions / --no_resample_solve_rate 0.9 are today's
        # active_sampling / no_resampling_pass_rate.
        rl=replace(RL.rl, total_episodes=512_000, pack_length=32768, async_steps=4, inflight_updates=True,
                   tis_cap=2.0, advantage_normalization="centered", active_sampling=True,
                   no_resampling_pass_rate=0.9, mask_truncated_completions=True, local_eval_every=100),
        # The script asks for 8 learners + 64 engines on 8 nodes (72 GPUs > 64); 9 nodes make that layout
        # fit, as the OLMo 3.1 version of this script does.
        slurm=replace(RL.slurm, nodes=9),
        placement=PlacementConfig(mode="separate", learners_per_node=(8,)),
    )
