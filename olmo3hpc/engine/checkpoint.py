"""Atomic resumable checkpoints and HF exports of a learner group, in the run directory.

Layout:
    checkpoints/step_00000100/{deepspeed/, rng_rank*.pt, trainer_state.json}
    checkpoints/latest                 text: the newest COMPLETE checkpoint dir name (os.replace'd)
    hf/step_00000100/, hf/final/       safetensors + config + tokenizer + generation_config

API (driver side):
    ckpt = Checkpointer(run_dir, keep_last)
    state = ckpt.restore(group)        # TrainerState of `latest` loaded into every rank, or None
    ckpt.save(group, state)            # every rank writes into step_N.tmp; then rename + `latest`
    ckpt.export(group, "final" | step) # hf/<name>.tmp -> hf/<name>
    ckpt.exit_if_preempted(group, state)      # at a step boundary: checkpoint + exit REQUEUE_EXIT_CODE
    ckpt.after_step(group, state, total, run.train)   # periodic checkpoint / HF export (not the last step)

A save is visible only after its directory is complete and renamed; `latest` is replaced after
that. A crash mid-save leaves a `*.tmp` directory that the next start deletes, and `latest` still
names the previous complete checkpoint. `trainer_state.json` is written last inside the directory,
so a directory without it is never trusted.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from olmo3hpc.atomic import write_text_atomic
from olmo3hpc.config import TrainConfig
from olmo3hpc.engine import preempt

STATE_FILE = "trainer_state.json"
LATEST_FILE = "latest"


@dataclass
class TrainerState:
    """Driver-side loop state; everything the loop needs to continue exactly where it stopped."""

    step: int = 0
    """Optimizer steps completed."""
    epoch: float = 0.0
    """Passes over the data completed (fractional)."""
    cursor: int = 0
    """Training rows (SFT packed rows, DPO pairs, RL prompts) consumed, in the seeded order."""
    tokens_seen: int = 0
    """Training tokens processed so far (non-padding)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Stage-specific counters and driver RNG states (JSON-able)."""

    def advance(self, items_per_step: int, epoch: float, tokens: int) -> None:
        """Record one completed optimizer step that consumed `items_per_step` items and `tokens` tokens."""
        self.step += 1
        self.cursor = self.step * items_per_step
        self.epoch = epoch
        self.tokens_seen += tokens

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainerState:
        return cls(**json.loads(text))


def step_name(step: int) -> str:
    return f"step_{step:08d}"


class Checkpointer:
    def __init__(self, run_dir: str | Path, keep_last: int = 3) -> None:
        self.run_dir = Path(run_dir)
        self.dir = self.run_dir / "checkpoints"
        self.hf_dir = self.run_dir / "hf"
        self.keep_last = keep_last
        self.dir.mkdir(parents=True, exist_ok=True)
        self._remove_partial()

    def latest(self) -> Path | None:
        """The newest complete checkpoint, or None."""
        pointer = self.dir / LATEST_FILE
        if not pointer.exists():
            return None
        path = self.dir / pointer.read_text().strip()
        if not (path / STATE_FILE).is_file():
            raise RuntimeError(f"{pointer} names {path}, which has no {STATE_FILE}; the checkpoint is damaged")
        return path

    def restore(self, group: Any) -> TrainerState | None:
        """Load `latest` into every learner; None when the run has no checkpoint yet."""
        path = self.latest()
        if path is None:
            return None
        group.load_checkpoint(str(path))
        return TrainerState.from_json((path / STATE_FILE).read_text())

    def save(self, group: Any, state: TrainerState) -> Path:
        final = self.dir / step_name(state.step)
        if (final / STATE_FILE).is_file():  # this exact step is already saved (e.g. resumed, then stopped)
            self._point_latest(final)
            return final
        tmp = final.with_name(final.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        group.save_checkpoint(str(tmp))
        write_text_atomic(tmp / STATE_FILE, state.to_json(), durable=True)
        shutil.rmtree(final, ignore_errors=True)  # an incomplete leftover without trainer_state.json
        os.replace(tmp, final)
        _fsync_dir(self.dir)
        self._point_latest(final)
        self._prune()
        return final

    def export(self, group: Any, name: str | int) -> Path:
        """HF export into hf/<name> (an int names hf/step_N), replacing an older one atomically."""
        label = step_name(name) if isinstance(name, int) else name
        final, tmp = self.hf_dir / label, self.hf_dir / f"{label}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        group.export_hf(str(tmp))
        old = self.hf_dir / f"{label}.old"
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
        return final

    def exit_if_preempted(self, group: Any, state: TrainerState) -> None:
        """The loop's step-boundary preemption point: checkpoint `state`, then exit for requeue."""
        if not preempt.requested():
            return
        self.save(group, state)
        print(f"preemption requested: checkpointed step {state.step}, exiting for requeue", flush=True)
        sys.exit(preempt.REQUEUE_EXIT_CODE)

    def after_step(self, group: Any, state: TrainerState, total: int, train: TrainConfig) -> None:
        """Periodic checkpoint (train.checkpoint_every) and HF export (train.export_every) after a step;
        the last step is left to the stage's final save and hf/final export."""
        if state.step >= total:
            return
        if train.checkpoint_every and state.step % train.checkpoint_every == 0:
            self.save(group, state)
        if train.export_every and state.step % train.export_every == 0:
            self.export(group, state.step)

    def _point_latest(self, path: Path) -> None:
        write_text_atomic(self.dir / LATEST_FILE, path.name + "\n", durable=True)

    def _prune(self) -> None:
        if self.keep_last < 0:
            return
        keep = max(self.keep_last, 1)  # never delete the checkpoint `latest` names
        done = sorted(p for p in self.dir.glob("step_*") if p.is_dir() and not p.name.endswith(".tmp"))
        for old in done[:-keep]:
            shutil.rmtree(old, ignore_errors=True)

    def _remove_partial(self) -> None:
        for root in (self.dir, self.hf_dir):
            for partial in list(root.glob("*.tmp")) if root.exists() else []:
                shutil.rmtree(partial, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
