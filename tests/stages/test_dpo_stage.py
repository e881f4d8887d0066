"""The DPO stage end to end on CPU: Ray + DeepSpeed learners, reference cache, metrics, resume, export."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

import pytest

from olmo3hpc.catalog import load_recipe
from olmo3hpc.config import DPORun
from olmo3hpc.engine import preempt
from olmo3hpc.engine.metrics import read_metrics
from olmo3hpc.stages.dpo import train

pytestmark = pytest.mark.slow

STEP_KEYS = ("loss", "lr", "grad_norm", "rewards/chosen", "rewards/rejected", "rewards/margin", "rewards/accuracy",
             "logps/chosen", "logps/rejected", "tokens")


def _smoke(root: Path, held_out: bool = True, **train: object) -> DPORun:
    run = load_recipe("smoke_dpo")
    data = run.data if held_out else dataclasses.replace(run.data, eval_mixer_list=())
    return dataclasses.replace(run, meta=dataclasses.replace(run.meta, output_root=str(root)), data=data,
                               train=dataclasses.replace(run.train, **train))


def test_smoke_dpo_learns_held_out_preferences(tmp_path: Path) -> None:
    run = _smoke(tmp_path)
    result = train(run)
    # before training the policy is the reference: every margin is 0 and accuracy 0 (chance is 0.5)
    assert result.eval["eval/rewards/accuracy"] >= 0.8
    assert result.eval["eval/loss"] < 0.5 < 0.6931
    assert result.steps == 32 and not result.reference_cached
    steps = [m for m in read_metrics(run.meta.run_dir) if "loss" in m]
    assert [m["step"] for m in steps] == list(range(1, 33))
    assert all(k in steps[0] for k in STEP_KEYS)
    assert steps[0]["loss"] == pytest.approx(0.6931, abs=1e-3)  # policy == reference at step 1
    lrs = [m["lr"] for m in steps]  # 10% warmup (3 steps) to 5e-4, then linear decay towards 0
    assert lrs[2] == pytest.approx(5e-4) and lrs[0] < lrs[1] < lrs[2] and lrs[-1] < lrs[3] / 10
    assert (Path(run.meta.run_dir) / "hf" / "final" / "model.safetensors").is_file()
    assert len(list((tmp_path / "cache" / "ref_logps").glob("*.pt"))) == 2  # train + held-out tables


def _preempt_after(run_dir: Path, step: int) -> threading.Thread:
    def watch() -> None:
        deadline = time.time() + 600
        while time.time() < deadline and not preempt.requested():
            path = run_dir / "metrics.jsonl"
            if path.exists() and len(path.read_text().splitlines()) >= step:
                preempt.request()
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_preempted_run_resumes_exactly_and_reuses_reference_cache(tmp_path: Path) -> None:
    straight = _smoke(tmp_path / "a", held_out=False, max_steps=12, checkpoint_every=0)
    train(straight)
    expected = [m["loss"] for m in read_metrics(straight.meta.run_dir)]
    assert len(expected) == 12

    run = _smoke(tmp_path / "b", held_out=False, max_steps=12, checkpoint_every=0)
    preempt.clear()
    watcher = _preempt_after(Path(run.meta.run_dir), 4)
    try:
        with pytest.raises(SystemExit) as stop:
            train(run)
        assert stop.value.code == preempt.REQUEUE_EXIT_CODE
    finally:
        preempt.request()  # stop the watcher if training ended first
        watcher.join(timeout=5)
        preempt.clear()
    ckpt = Path(run.meta.run_dir) / "checkpoints"
    stopped_at = json.loads((ckpt / (ckpt / "latest").read_text().strip() / "trainer_state.json").read_text())["step"]
    assert 4 <= stopped_at < 12
    resumed = train(run)
    assert resumed.reference_cached  # the table written before preemption is reused, not recomputed
    losses = {}
    for m in read_metrics(run.meta.run_dir):
        losses.setdefault(m["step"], m["loss"])
    assert [losses[s] for s in range(1, 13)] == pytest.approx(expected, abs=1e-6)
