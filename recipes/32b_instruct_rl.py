"""OLMo 3 32B Instruct RL (grpo_fast 8d8232cc): TP-4 engines, per-parameter weight sync; released lineage of
Olmo-3.1-32B-Instruct.

    olmo3hpc launch 32b_instruct_rl --site <your-site> --reward.judge_url http://judge:8001/v1
"""

from _olmo3 import INSTRUCT_RL_EVAL_MIX, INSTRUCT_RL_MIX, RL, replace

from olmo3hpc.config import PlacementConfig


def recipe():
    return replace(
        RL,
        meta=replace(RL.meta, name="32b_instruct_rl", seed=543210),
        model=replace(RL.model, init="recipe:32b_instruct_dpo", chat_template="tokenizer", params_b=32.0),
        data=replace(RL.data, mixer_list=INSTRUCT_RL_MIX, eval_mixer_list=INSTRUCT_RL_EVAL_MIX),
        train=replace(RL.train, checkpoint_every=100, export_every=50),
        deepspeed=replace(RL.deepspeed, hpz_partition_size=1, gather_whole_model=False),
        rollout=replace(RL.rollout, num_engines=16, tensor_parallel=4, response_length=16384, enforce_eager=True),
        rl=replace(RL.rl, total_episodes=10_000_000, pack_length=19456, async_steps=8, inflight_updates=True,
                   tis_cap=2.0, advantage_normalization="centered", active_sampling=True, local_eval_every=50),
        optim=replace(RL.optim, lr=2e-6),
        reward=replace(RL.reward, code_max_execution_time=6.0),
        slurm=replace(RL.slurm, nodes=12),
        placement=PlacementConfig(mode="separate", learners_per_node=(8, 8, 8, 8)),
    )
