"""OLMo 3 7B Think RL as released (grpo_fast, Oct 2025): drained updates, async 1, standard advantages,
no TIS, and 56 engines to keep the learners fed.

    olmo3hpc launch 7b_think_rl_no_pipeline --site <your-site>
"""

from _olmo3 import RL, replace

from olmo3hpc.config import PlacementConfig


def recipe():
    return replace(
        RL,
        meta=replace(RL.meta, name="7b_think_rl_no_pipeline"),
        model=replace(RL.model, init="recipe:7b_think_dpo", public_equivalent="allenai/Olmo-3-7B-Think-DPO",
                      chat_template="olmo_thinker", params_b=7.0),
        data=replace(RL.data, mixer_list=("allenai/Dolci-Think-RL-7B", "1.0"),
                     eval_mixer_list=("allenai/Dolci-Think-RL-7B", "8")),
        train=replace(RL.train, checkpoint_every=100, export_every=25),
        rollout=replace(RL.rollout, num_engines=56, tensor_parallel=1, response_length=32768),
        # The HEAD script now silently runs centered + TIS 2.0 (2026-03 default change); this is what ran.
        rl=replace(RL.rl, total_episodes=10_000_000, pack_length=35840, async_steps=1, inflight_updates=False,
                   tis_cap=0.0, advantage_normalization="standard", local_eval_every=50),
        slurm=replace(RL.slurm, nodes=9),
        placement=PlacementConfig(mode="separate", learners_per_node=(8, 8)),
    )
