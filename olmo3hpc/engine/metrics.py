"""Training metrics: run_dir/metrics.jsonl (appended across requeues), a console line, optional W&B.

API:
    log = MetricsLogger(run, total_steps)     # in the driver; opens W&B when meta.wandb_project is set
    log.log(step, {"loss": ..., "lr": ..., "tokens": ...})   # one JSONL line {"step", "time", ...}
    log.log(step, {"eval/loss": ...}, progress=False)      # not a training step: no console line/tok/s
    log.close()

The console line (every train.log_every steps) shows step/total, loss, lr, tokens/s and ETA; tokens/s
and ETA are measured over the steps of this process (a requeued job starts its own clock). The W&B
run id is persisted in run_dir/wandb_id and reused with resume="allow", so requeues continue one run.
"""

from __future__ import annotations

import json
import math
import sys
import time
import uuid
from pathlib import Path
from typing import Any, TextIO

from olmo3hpc.config import Run


class MetricsLogger:
    def __init__(self, run: Run, total_steps: int, stream: TextIO | None = None) -> None:
        self.run_dir = Path(run.meta.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "metrics.jsonl"
        self.total_steps = total_steps
        self.log_every = run.train.log_every
        self.stream = stream or sys.stdout
        self._file = open(self.path, "a")
        # The clock starts here (the stage builds the logger right before its first step), so the first
        # step's tokens/s and ETA measure that step instead of dividing by ~0.
        self._start = time.time()
        self._first_step: int | None = None
        self._tokens = 0.0
        self._wandb = _open_wandb(run, self.run_dir) if run.meta.wandb_project else None

    def log(self, step: int, metrics: dict[str, Any], progress: bool = True) -> None:
        """Record the metrics of completed optimizer step `step` (1-based). `progress=False` marks a record
        that is not a training step (evaluation): it neither counts towards tokens/s nor prints a line."""
        record = {"step": step, "time": time.time(), **{k: _plain(v) for k, v in metrics.items()}}
        if progress:
            record["tokens_per_s"], eta = self._advance(step, record["time"], float(metrics.get("tokens", 0.0)))
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._wandb is not None:
            self._wandb.log({k: v for k, v in record.items() if k not in ("step", "time")}, step=step)
        if progress and (step % self.log_every == 0 or step == self.total_steps):
            print(self._line(step, record, eta), file=self.stream, flush=True)

    def _advance(self, step: int, now: float, tokens: float) -> tuple[float, float]:
        """(tokens/s, ETA seconds) over the steps this process has logged, through `step`."""
        if self._first_step is None:
            self._first_step = step - 1
        self._tokens += tokens
        elapsed = max(now - self._start, 1e-9)
        done = step - self._first_step
        eta = elapsed / done * (self.total_steps - step) if done else math.nan
        return self._tokens / elapsed, eta

    def _line(self, step: int, record: dict[str, Any], eta_s: float) -> str:
        parts = [f"step {step}/{self.total_steps}"]
        for key in ("loss", "grad_norm"):
            if key in record:
                parts.append(f"{key} {record[key]:.4f}")
        if "lr" in record:
            parts.append(f"lr {record['lr']:.3e}")
        parts.append(f"{record['tokens_per_s']:.0f} tok/s")
        parts.append(f"ETA {_hms(eta_s)}")
        return " | ".join(parts)

    def close(self) -> None:
        self._file.close()
        if self._wandb is not None:
            self._wandb.finish()


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _hms(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _open_wandb(run: Run, run_dir: Path) -> Any:
    try:
        import wandb
    except ImportError:
        raise RuntimeError(
            f"meta.wandb_project is {run.meta.wandb_project!r} but wandb is not installed; "
            "`pip install wandb` or set --meta.wandb_project ''"
        ) from None
    id_file = run_dir / "wandb_id"
    if not id_file.exists():
        id_file.write_text(uuid.uuid4().hex[:16])
    from olmo3hpc.config import run_to_dict

    return wandb.init(
        project=run.meta.wandb_project, entity=run.meta.wandb_entity or None, name=run.meta.name,
        id=id_file.read_text().strip(), resume="allow", config=run_to_dict(run), dir=str(run_dir),
    )
