"""`olmo3hpc report <run_dir>`: training curves as PNGs and a summary.md, for a finished or running run.

    report(ReportArgs(run_dir="runs/smoke_rl")) -> Path of run_dir/report/

Reads run_dir/metrics.jsonl (the `engine.metrics` format: {"step", "time", metric: float}) while it
may still be growing: a cut last line is ignored, a malformed line elsewhere is skipped and counted,
and a step logged again after a requeue keeps its latest record. Curves: loss, reward, learning rate
and throughput (metric names matched by pattern, so SFT, DPO and RL all work; a group without
metrics is listed as absent instead of drawn empty). The summary names the run's status (from
events.jsonl and hf/final), last step vs planned steps, per-metric last/min/max, checkpoints, HF
exports and eval-sweep tables. The report directory is replaced atomically on every call.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tyro

from olmo3hpc.tools.report_render import render_summary, save_curves
from olmo3hpc.tools.staging import staged_dir

CURVES = {
    "loss": ("loss",),
    "reward": ("reward", "score"),
    "lr": ("lr", "learning_rate"),
    "throughput": ("per_s", "per_second", "throughput", "mfu"),
}
"""PNG name -> substrings of metric names drawn in it ("lr" matches whole names or a `/lr` suffix)."""
ACTIVE_S = 600.0
"""A run whose last metric is younger than this (and has no done/failed event) counts as running."""


@dataclass(frozen=True)
class ReportArgs:
    run_dir: tyro.conf.Positional[str]
    """Run directory (holding metrics.jsonl and config.yaml)."""
    output: str = ""
    """Report directory; empty = <run_dir>/report."""
    smooth: int = 1
    """Moving-average window (in logged steps) drawn over each raw curve; 1 = raw only."""


@dataclass
class Metrics:
    records: list[dict[str, Any]] = field(default_factory=list)
    """One record per step, sorted by step (the latest record of a step logged twice)."""
    skipped_lines: list[int] = field(default_factory=list)
    """1-based numbers of malformed lines that were skipped (a cut last line is not counted)."""

    def series(self, key: str) -> tuple[list[int], list[float]]:
        pairs = [(r["step"], float(r[key])) for r in self.records
                 if isinstance(r.get(key), (int, float)) and math.isfinite(float(r[key]))]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.records:
            for k, v in r.items():
                if k not in ("step", "time") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    seen[k] = None
        return list(seen)


def read_metrics(path: Path) -> Metrics:
    """Tolerant reader of a metrics.jsonl that another process may be appending to."""
    if not path.is_file():
        return Metrics()
    lines = path.read_bytes().decode(errors="replace").split("\n")
    by_step: dict[int, dict] = {}
    skipped = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            step = int(record["step"])
        except (ValueError, KeyError, TypeError):
            if number < len(lines):  # the last piece has no newline yet: a write in progress
                skipped.append(number)
            continue
        by_step[step] = record
    return Metrics([by_step[s] for s in sorted(by_step)], skipped)


def curve_groups(keys: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name, patterns in CURVES.items():
        if name == "lr":
            hits = [k for k in keys if k in patterns or k.endswith("/lr") or "learning_rate" in k]
        else:
            hits = [k for k in keys if any(p in k for p in patterns)]
        groups[name] = hits
    return groups


def run_status(run_dir: Path, metrics: Metrics) -> str:
    from olmo3hpc.launch.runlog import read_events

    terminal = [e["event"] for e in read_events(run_dir) if e.get("event") in ("done", "failed")]
    if terminal and terminal[-1] == "failed":
        return "failed"
    if terminal or (run_dir / "hf" / "final" / "config.json").is_file():
        return "finished"
    last = metrics.records[-1].get("time") if metrics.records else None
    if isinstance(last, (int, float)) and time.time() - last < ACTIVE_S:
        return "running"
    return "stopped (no done event, no new metrics for 10 min)"


def report(args: ReportArgs) -> Path:
    """Write <run_dir>/report/{summary.md, <curve>.png}; returns the report directory."""
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: run directory not found")
    metrics = read_metrics(run_dir / "metrics.jsonl")
    groups = curve_groups(metrics.keys())
    out = Path(args.output) if args.output else run_dir / "report"
    with staged_dir(out, overwrite=True) as tmp:
        drawn = save_curves(metrics, groups, tmp, args.smooth)
        summary = render_summary(run_dir, metrics, groups, drawn, run_status(run_dir, metrics))
        (tmp / "summary.md").write_text(summary)
    return out
