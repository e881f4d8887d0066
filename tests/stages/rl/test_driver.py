"""The GRPO driver end to end on CPU: a real private Ray, DeepSpeed learner actors, a transformers
rollout engine actor, the reward registry and checkpoints in a temporary run directory."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from olmo3hpc.catalog import load_recipe
from olmo3hpc.config import RLRun, replace_path
from olmo3hpc.engine import placement, preempt
from olmo3hpc.engine.metrics import MetricsLogger, read_metrics

pytestmark = pytest.mark.slow


def _run(tmp_path: Path, steps: int, **overrides: object) -> RLRun:
    run = replace_path(load_recipe("smoke_rl"), "meta.output_root", str(tmp_path))
    for path, value in overrides.items():
        run = replace_path(run, path.replace("__", "."), value)
    return replace_path(run, "rl.total_episodes", run.rollout.samples_per_step * steps)


def _small(tmp_path: Path, steps: int, **overrides: object) -> RLRun:
    return _run(tmp_path, steps, rollout__prompts_per_step=4, rollout__samples_per_prompt=4, **overrides)


@pytest.mark.timeout(900)
def test_smoke_rl_mean_reward_rises(tmp_path: Path):
    from olmo3hpc.stages.rl import train

    run = _run(tmp_path, steps=30)
    train(run)
    records = read_metrics(run.meta.run_dir)
    assert [r["step"] for r in records] == list(range(1, 31))
    rewards = [r["reward_mean"] for r in records]
    first, last = sum(rewards[:8]) / 8, sum(rewards[-8:]) / 8
    assert last > first + 1.0, f"mean reward did not rise: first 8 steps {first:.2f}, last 8 {last:.2f}"
    for key in ("reward_std", "groups_all_zero", "groups_all_solved", "response_length_mean", "policy_loss",
                "clip_fraction", "engine_logprob_diff", "staleness_max", "tokens_per_s", "learner_idle_fraction"):
        assert key in records[-1], key
    assert records[-1]["prompts_too_long"] == 1.0  # the one over-long toy prompt
    assert "eval_reward_mean" in records[9] and "eval_reward_mean" in records[29]
    assert max(r["staleness_submitted_max"] for r in records) <= run.rl.async_steps
    assert (run.meta.run_dir / "hf" / "final" / "config.json").is_file()
    assert (run.meta.run_dir / "checkpoints" / "latest").read_text().strip() == "step_00000030"
    where = placement.read(run.meta.run_dir)  # separate: the engine has its own CPU device (cores)
    if os.cpu_count() >= 2:
        assert set(where["learners"][0]["cpu_cores"]).isdisjoint(where["engines"][0]["cpu_cores"]), where


@pytest.mark.timeout(900)
def test_preemption_checkpoints_and_resume_continues_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from olmo3hpc.stages.rl import train

    run = _small(tmp_path, steps=5, rl__async_steps=2, train__checkpoint_every=0)
    log = MetricsLogger.log

    def log_then_preempt(self, step, metrics, progress=True):  # the signal lands right after step 2
        log(self, step, metrics, progress)
        if step == 2:
            preempt.request()
    monkeypatch.setattr(MetricsLogger, "log", log_then_preempt)
    try:
        with pytest.raises(SystemExit) as stop:
            train(run)
        assert stop.value.code == preempt.REQUEUE_EXIT_CODE
    finally:
        preempt.clear()
    ckpt = run.meta.run_dir / "checkpoints"
    name = (ckpt / "latest").read_text().strip()
    state = json.loads((ckpt / name / "trainer_state.json").read_text())
    saved_step = state["step"]
    assert saved_step >= 2 and state["extra"]["stream"]["pending"]  # async 2: later batches were in flight
    assert all(step >= saved_step for step, _ in state["extra"]["stream"]["pending"])

    monkeypatch.setattr(MetricsLogger, "log", log)
    train(run)  # the requeued job: same run directory
    steps = [r["step"] for r in read_metrics(run.meta.run_dir)]
    assert steps == list(range(1, saved_step + 1)) + list(range(saved_step + 1, 6))
    assert (run.meta.run_dir / "hf" / "final" / "config.json").is_file()


@pytest.mark.timeout(600)
def test_dead_engine_stops_the_driver_with_its_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import ray

    from olmo3hpc.stages.rl import driver, train
    from olmo3hpc.stages.rl.engine_pool import ENGINE_NAME_PREFIX, EngineError

    run = _small(tmp_path, steps=200, train__checkpoint_every=0)
    killed: list[float] = []
    sync = driver._sync_weights

    def sync_then_kill(s, version):  # the engine dies while generating, right after step 2's weights landed
        sync(s, version)
        if version == 2 and not killed:
            names = [n for n in ray.util.list_named_actors() if n.startswith(ENGINE_NAME_PREFIX)]
            ray.kill(ray.get_actor(names[0]), no_restart=True)
            killed.append(time.monotonic())
    monkeypatch.setattr(driver, "_sync_weights", sync_then_kill)
    with pytest.raises(EngineError, match="rollout engine 0"):
        train(run)
    assert killed and time.monotonic() - killed[0] < 120, "the driver took too long to notice the dead engine"
    latest = (run.meta.run_dir / "checkpoints" / "latest").read_text().strip()
    assert int(latest.removeprefix("step_")) >= 2  # the learners' progress was saved


@pytest.mark.timeout(900)
def test_colocated_placement_with_two_zero3_learners_and_kl(tmp_path: Path):
    from olmo3hpc.stages.rl import train

    run = _small(tmp_path, steps=3, placement__mode="colocated", placement__learners_per_node=(2,),
                 deepspeed__zero_stage=3, rl__local_eval_every=2, train__checkpoint_every=2, train__export_every=2,
                 rl__kl_beta=0.05, rl__num_mini_batches=2, rl__tis_cap=2.0, rl__filter_zero_std=False)
    train(run)
    records = read_metrics(run.meta.run_dir)
    assert [r["step"] for r in records] == [1, 2, 3]
    assert all(r["skipped_update"] == 0.0 and r["kl_ref"] >= 0.0 for r in records)  # no group filtered
    assert "eval_reward_mean" in records[1]
    assert (run.meta.run_dir / "checkpoints" / "step_00000002" / "rng_rank00001.pt").is_file()
    assert (run.meta.run_dir / "hf" / "step_00000002" / "config.json").is_file()
    assert (run.meta.run_dir / "hf" / "final" / "model.safetensors").is_file()
    where = placement.read(run.meta.run_dir)  # colocated on the one private-Ray node
    assert [e["node_index"] for e in where["learners"]] == [0, 0] and [e["node_index"] for e in where["engines"]] == [0]
    learner_cores = [set(e["cpu_cores"]) for e in where["learners"]]
    assert where["engines"][0]["cpu_cores"] == where["learners"][0]["cpu_cores"]  # shares learner 0's CPU device
    if os.cpu_count() >= 2:
        assert learner_cores[0].isdisjoint(learner_cores[1])


@pytest.mark.timeout(900)
def test_active_sampling_refills_and_solved_prompts_leave_the_sampler(tmp_path: Path):
    from olmo3hpc.stages.rl import train

    # Three kinds of prompt for the untrained model's short random completions: no-comma passes
    # almost always (solved: filtered, then excluded), "at least one letter a" passes about a third
    # of the time (mixed groups, the ones that train), the sum is never right (all zero: filtered;
    # they also keep the sampler from running dry once the others are excluded).
    easy = {"instruction_id": "punctuation:no_comma", "kwargs": None}
    coin = {"instruction_id": "keywords:letter_frequency", "kwargs": {"letter": "a", "let_frequency": 1,
                                                                      "let_relation": "at least"}}
    # A system turn of our own: without one the OLMo template inserts its long default system prompt,
    # which alone exceeds the recipe's rollout.max_prompt_length (every prompt would be filtered).
    system = {"role": "system", "content": "Be brief."}
    rows = [{"messages": [system, {"role": "user", "content": f"{kind} {i}"}], "ground_truth": json.dumps(truth),
             "dataset": "ifeval"} for i in range(4) for kind, truth in (("Say something", easy), ("Write", coin))]
    rows += [{"messages": [system, {"role": "user", "content": f"What is {i} + {7 - i}?"}], "ground_truth": "7",
              "dataset": "gsm8k"} for i in range(4)]
    data = tmp_path / "mixed.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = _small(tmp_path, steps=4, data__mixer_list=(str(data), "1.0"), rl__async_steps=2, rl__active_sampling=True,
                 rl__no_resampling_pass_rate=0.75, rl__local_eval_every=0, train__checkpoint_every=0)
    train(run)
    records = read_metrics(run.meta.run_dir)
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert any(r["groups_seen"] > run.rollout.prompts_per_step for r in records)  # filtered groups were topped up
    assert any(r["groups_trained"] >= run.rollout.prompts_per_step for r in records)
    assert records[-1]["prompts_excluded"] >= 1  # solved no-comma prompts left the sampler
    assert sum(r["groups_all_solved"] for r in records) >= 1  # solved groups were seen (and filtered)


@pytest.mark.timeout(600)
def test_next_steps_rollouts_are_scored_while_the_learners_train(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from olmo3hpc.stages.rl import driver, train
    from olmo3hpc.stages.rl.scoring import GroupScorer

    run = _small(tmp_path, steps=4, rl__filter_zero_std=False, rl__local_eval_every=0, train__checkpoint_every=0)
    training = threading.Event()
    during: list[bool] = []
    learn, submit = driver._learn, GroupScorer.submit

    def flagged_learn(s, step, samples):
        training.set()
        try:
            return learn(s, step, samples)
        finally:
            training.clear()

    def recorded_submit(self, prompt, texts, sample_ids):
        during.append(training.is_set())
        return submit(self, prompt, texts, sample_ids)
    monkeypatch.setattr(driver, "_learn", flagged_learn)
    monkeypatch.setattr(GroupScorer, "submit", recorded_submit)
    train(run)
    records = read_metrics(run.meta.run_dir)
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert any(during), "no group was scored while the learners trained"
    # Scoring started early is used, never repeated: one scoring per group the steps saw, plus at most
    # the groups of later steps that had finished when the run ended.
    seen = int(sum(r["groups_seen"] for r in records))
    assert seen <= len(during) <= seen + run.rl.async_steps * run.rollout.prompts_per_step
