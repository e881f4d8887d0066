"""OLMo 3 7B Think RL, "pipeline" variant (grpo_fast 42aa63c): in-flight updates, async 8, TIS 2.0, centered.

    olmo3hpc launch 7b_think_rl --site <your-site>
"""

from _olmo3 import RL, replace

from olmo3hpc.config import PlacementConfig


def recipe():
    return replace(
        RL,
        meta=replace(RL.meta, name="7b_think_rl"),
        model=replace(RL.model, init="recipe:7b_think_dpo", public_equivalent="allenai/Olmo-3-7B-Think-DPO",
                      chat_template="olmo_thinker", params_b=7.0),
        data=replace(RL.data, mixer_list=("allenai/Dolci-Think-RL-7B", "1.0"),
                     eval_mixer_list=("allenai/Dolci-Think-RL-7B", "8")),
        train=replace(RL.train, checkpoint_every=100, export_every=25),
        rollout=replace(RL.rollout, num_engines=16, tensor_parallel=1, response_length=32768),
        rl=replace(RL.rl, total_episodes=10_000_000, pack_length=35840, async_steps=8, inflight_updates=True,
                   tis_cap=2.0, advantage_normalization="centered", local_eval_every=50),
        slurm=replace(RL.slurm, nodes=4),
        placement=PlacementConfig(mode="separate", learners_per_node=(8, 8)),
    )
