"""The planner refuses impossible layouts before anything is written, and places what fits."""

import dataclasses

import pytest

from olmo3hpc.catalog import load_recipe, recipe_names
from olmo3hpc.config import PlanError, dump_run, load_run, plan, replace_path


@pytest.mark.parametrize("name", recipe_names())
def test_every_recipe_validates_plans_and_round_trips(name, tmp_path):
    run = load_recipe(name)
    p = plan(run)
    assert p.learners >= 1
    (tmp_path / "config.yaml").write_text(dump_run(run))
    assert load_run(tmp_path / "config.yaml") == run


def test_rl_plan_separates_learners_and_engines():
    p = plan(load_recipe("7b_think_rl"))
    assert [n.learners for n in p.nodes] == [8, 8, 0, 0]
    assert [len(n.engines) for n in p.nodes] == [0, 0, 8, 8]
    assert p.training_steps == 10_000_000 // 512


def test_tensor_parallel_engines_stay_on_one_node():
    p = plan(load_recipe("32b_think_rl"))
    assert p.tensor_parallel == 8 and p.engines == 20
    assert all(len(n.engines) * 8 + n.learners <= 8 for n in p.nodes)


def test_too_many_engines_is_refused_with_the_arithmetic():
    run = replace_path(load_recipe("7b_think_rl"), "rollout.num_engines", 17)
    with pytest.raises(PlanError, match=r"17 engines x tp 1 do not fit: learners 16 \+ engines 17"):
        plan(run)


def test_tensor_parallel_must_divide_node_gpus():
    run = replace_path(load_recipe("32b_instruct_rl"), "rollout.tensor_parallel", 3)
    with pytest.raises(PlanError, match="does not divide 8 GPUs per node"):
        plan(run)


def test_32b_learners_on_too_few_gpus_is_refused():
    run = load_recipe("32b_think_dpo")
    run = replace_path(replace_path(run, "slurm.nodes", 1), "placement.learners_per_node", (4,))
    with pytest.raises(PlanError, match="32B learner group needs ~128 GB per GPU"):
        plan(run)


def test_sft_global_batch_must_divide():
    run = replace_path(load_recipe("7b_think_sft"), "slurm.nodes", 3)
    with pytest.raises(PlanError, match="global_batch_tokens 1048576 is not a multiple"):
        plan(run)


def test_sft_accumulation_is_derived_from_global_batch_tokens():
    assert plan(load_recipe("32b_instruct_sft")).grad_accum == 2


def test_colocated_engines_share_learner_gpus():
    run = load_recipe("7b_think_rl")
    run = dataclasses.replace(run, placement=dataclasses.replace(run.placement, mode="colocated", learners_per_node=(8,)),
                              slurm=dataclasses.replace(run.slurm, nodes=1))
    run = replace_path(run, "rollout.num_engines", 8)
    p = plan(run)
    assert p.nodes[0].learners == 8 and len(p.nodes[0].engines) == 8


def test_judge_gpus_are_reserved():
    run = replace_path(load_recipe("7b_think_rl"), "slurm.nodes", 5)
    run = replace_path(replace_path(run, "reward.judge_gpus", 2), "reward.judge_tensor_parallel", 2)
    p = plan(run)
    assert sum(n.judge for n in p.nodes) == 2 and p.engines == 16
