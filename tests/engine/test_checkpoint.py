"""Checkpointer atomicity and pruning. The learner group here is a small stand-in that writes per-rank
files the way LearnerGroup does; the real DeepSpeed path is covered by tests/stages/test_sft.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from olmo3hpc.config import TrainConfig
from olmo3hpc.engine import preempt
from olmo3hpc.engine.checkpoint import Checkpointer, TrainerState


class FileGroup:
    """Writes one file per rank (like DeepSpeed's per-rank shards); can crash mid-save."""

    def __init__(self, world: int = 2, crash_after_ranks: int | None = None) -> None:
        self.world, self.crash_after_ranks, self.loaded = world, crash_after_ranks, None

    def save_checkpoint(self, path: str) -> None:
        for rank in range(self.world):
            if self.crash_after_ranks is not None and rank >= self.crash_after_ranks:
                raise RuntimeError("node lost during save")
            (Path(path) / f"rank{rank}.bin").write_text(path)

    def load_checkpoint(self, path: str) -> None:
        assert all((Path(path) / f"rank{r}.bin").exists() for r in range(self.world))
        self.loaded = path

    def export_hf(self, path: str) -> str:
        Path(path).mkdir(parents=True)
        (Path(path) / "model.safetensors").write_text("weights")
        return path


def test_save_restore_round_trip_and_latest_pointer(tmp_path):
    ckpt = Checkpointer(tmp_path, keep_last=2)
    assert ckpt.restore(FileGroup()) is None
    ckpt.save(FileGroup(), TrainerState(step=10, epoch=0.5, cursor=80, tokens_seen=1234, extra={"a": 1}))
    assert (tmp_path / "checkpoints" / "latest").read_text().strip() == "step_00000010"
    group = FileGroup()
    state = Checkpointer(tmp_path).restore(group)
    assert state == TrainerState(step=10, epoch=0.5, cursor=80, tokens_seen=1234, extra={"a": 1})
    assert group.loaded.endswith("step_00000010")


def test_crash_mid_save_keeps_latest_on_the_previous_complete_checkpoint(tmp_path):
    ckpt = Checkpointer(tmp_path, keep_last=3)
    ckpt.save(FileGroup(), TrainerState(step=5))
    with pytest.raises(RuntimeError, match="node lost"):
        ckpt.save(FileGroup(crash_after_ranks=1), TrainerState(step=10))
    assert (tmp_path / "checkpoints" / "step_00000010.tmp").exists()
    restarted = Checkpointer(tmp_path, keep_last=3)  # the requeued job
    assert not (tmp_path / "checkpoints" / "step_00000010.tmp").exists()
    assert restarted.restore(FileGroup()).step == 5


def test_keep_last_prunes_oldest_and_resaving_a_step_is_idempotent(tmp_path):
    ckpt = Checkpointer(tmp_path, keep_last=2)
    for step in (1, 2, 3, 4):
        ckpt.save(FileGroup(), TrainerState(step=step))
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*")) == ["step_00000003", "step_00000004"]
    ckpt.save(FileGroup(crash_after_ranks=0), TrainerState(step=4))  # already complete: nothing rewritten
    assert ckpt.latest().name == "step_00000004"


def test_latest_naming_a_damaged_directory_is_an_error(tmp_path):
    ckpt = Checkpointer(tmp_path)
    ckpt.save(FileGroup(), TrainerState(step=1))
    (tmp_path / "checkpoints" / "step_00000001" / "trainer_state.json").unlink()
    with pytest.raises(RuntimeError, match="damaged"):
        ckpt.latest()


def test_export_replaces_an_older_export(tmp_path):
    ckpt = Checkpointer(tmp_path)
    first = ckpt.export(FileGroup(), "final")
    (first / "stale.txt").write_text("old")
    again = ckpt.export(FileGroup(), "final")
    assert (again / "model.safetensors").exists() and not (again / "stale.txt").exists()
    assert ckpt.export(FileGroup(), 100).name == "step_00000100"


def test_after_step_saves_and_exports_periodically_but_leaves_the_last_step_to_the_stage(tmp_path):
    ckpt, group, state = Checkpointer(tmp_path, keep_last=-1), FileGroup(), TrainerState()
    for _ in range(6):
        state.advance(items_per_step=8, epoch=(state.step + 1) / 3, tokens=100)
        ckpt.after_step(group, state, total=6, train=TrainConfig(checkpoint_every=2, export_every=3))
    assert (state.step, state.cursor, state.tokens_seen, state.epoch) == (6, 48, 600, 2.0)
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*")) == ["step_00000002", "step_00000004"]
    assert sorted(p.name for p in (tmp_path / "hf").iterdir()) == ["step_00000003"]


def test_preemption_at_a_step_boundary_checkpoints_then_exits_for_requeue(tmp_path):
    ckpt, state = Checkpointer(tmp_path), TrainerState(step=7)
    ckpt.exit_if_preempted(FileGroup(), state)  # nothing requested: no checkpoint, no exit
    assert ckpt.latest() is None
    preempt.request()
    try:
        with pytest.raises(SystemExit) as stop:
            ckpt.exit_if_preempted(FileGroup(), state)
    finally:
        preempt.clear()
    assert stop.value.code == preempt.REQUEUE_EXIT_CODE
    assert ckpt.restore(FileGroup()).step == 7
