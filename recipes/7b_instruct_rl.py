"""OLMo 3 7B Instruct RL (grpo_fast 9ade62d): math, code, IF and judge-scored chat; 2000 steps.

    olmo3hpc launch 7b_instruct_rl --site <your-site> --reward.judge_url http://judge:8001/v1
"""

from _olmo3 import INSTRUCT_RL_EVAL_MIX, INSTRUCT_RL_MIX, RL, replace

from olmo3hpc.config import PlacementConfig

def recipe():
    return replace(
        RL,
        meta=replace(RL.meta, name="7b_instruct_rl"),
        model=replace(RL.model, init="recipe:7b_instruct_dpo", public_equivalent="allenai/Olmo-3-7B-Instruct-DPO",
                      chat_template="tokenizer", params_b=7.0),
        data=replace(RL.data, mixer_list=INSTRUCT_RL_MIX, eval_mixer_list=INSTRUCT_RL_EVAL_MIX),
        train=replace(RL.train, checkpoint_every=50, export_every=50),
        rollout=replace(RL.rollout, num_engines=56, tensor_parallel=1, response_length=8192,
                        stop_strings=("</answer>",), prefix_caching=True),
        rl=replace(RL.rl, total_episodes=1_024_000, num_mini_batches=4, pack_length=11264, async_steps=8,
                   inflight_updates=True, tis_cap=0.0, advantage_normalization="centered", active_sampling=True,
                   no_resampling_pass_rate=0.875, local_eval_every=50),
        slurm=replace(RL.slurm, nodes=8),
        placement=PlacementConfig(mode="separate", learners_per_node=(8,)),
    )
