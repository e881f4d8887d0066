"""Drawing and writing for `tools.report`: one PNG per curve group and the summary markdown."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from olmo3hpc.tools.report import Metrics

TITLES = {"loss": "Loss", "reward": "Reward", "lr": "Learning rate", "throughput": "Throughput"}


def _moving_average(values: list[float], window: int) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v - (values[i - window] if i >= window else 0.0)
        out.append(acc / min(i + 1, window))
    return out


def save_curves(metrics: Metrics, groups: dict[str, list[str]], out_dir: Path, smooth_window: int) -> dict[str, str]:
    """Write <group>.png for every group with data; returns {group: file name}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = {}
    for group, keys in groups.items():
        series = {k: metrics.series(k) for k in keys}
        series = {k: s for k, s in series.items() if s[0]}
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
        smooth = 1 if group == "lr" else smooth_window  # a schedule is exact; averaging only blurs it
        for key, (steps, values) in series.items():
            line, = ax.plot(steps, values, label=key, alpha=0.35 if smooth > 1 else 1.0, linewidth=1.2)
            if smooth > 1:
                ax.plot(steps, _moving_average(values, smooth), color=line.get_color(), linewidth=2,
                        label=f"{key} (avg {smooth})")
        ax.set_title(TITLES[group])
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if group == "lr":
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        ax.legend(fontsize=8, loc="best")
        fig.tight_layout()
        fig.savefig(out_dir / f"{group}.png")
        plt.close(fig)
        drawn[group] = f"{group}.png"
    return drawn


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    return f"{x:.4g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.3e}"


def _metric_table(metrics: Metrics) -> list[str]:
    rows = ["| metric | last | min | max |", "|---|---|---|---|"]
    for key in metrics.keys():
        _, values = metrics.series(key)
        if values:
            rows.append(f"| {key} | {_fmt(values[-1])} | {_fmt(min(values))} | {_fmt(max(values))} |")
    return rows


def _run_facts(run_dir: Path) -> tuple[str, int]:
    """(stage, planned steps or 0) from config.yaml; ("?", 0) when it is missing or unreadable."""
    try:
        from olmo3hpc.config import load_run, plan

        run = load_run(run_dir / "config.yaml")
        return run.stage, plan(run).training_steps
    except Exception:  # a report must still render for a run whose config no longer validates
        return "?", 0


def _artifacts(run_dir: Path) -> list[str]:
    lines = []
    latest = run_dir / "checkpoints" / "latest"
    if latest.is_file():
        lines.append(f"- latest checkpoint: `checkpoints/{latest.read_text().strip()}`")
    exports = sorted(p.name for p in (run_dir / "hf").glob("*") if (p / "config.json").is_file())
    if exports:
        lines.append(f"- HF exports: {', '.join(f'`hf/{e}`' for e in exports)}")
    for table in sorted(run_dir.glob("eval/*/results.md")):
        lines.append(f"- eval sweep: `{table.relative_to(run_dir)}`")
    return lines


def render_summary(run_dir: Path, metrics: Metrics, groups: dict[str, list[str]], drawn: dict[str, str],
                   status: str) -> str:
    stage, planned = _run_facts(run_dir)
    records = metrics.records
    last_step = records[-1]["step"] if records else 0
    lines = [f"# Run `{run_dir.name}`", "", f"- stage: {stage}", f"- status: {status}",
             f"- steps logged: {last_step}" + (f" of {planned} planned" if planned else "")]
    times = [r["time"] for r in records if isinstance(r.get("time"), (int, float))]
    if times:
        stamp = dt.datetime.fromtimestamp(max(times), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        lines.append(f"- wall time covered: {(max(times) - min(times)) / 60:.1f} min (last metric {stamp})")
    if metrics.skipped_lines:
        lines.append(f"- skipped malformed metrics lines: {metrics.skipped_lines[:20]}")
    lines += _artifacts(run_dir)
    lines += ["", "## Metrics", ""] + (_metric_table(metrics) if records else ["No metrics logged yet."])
    lines += ["", "## Curves", ""]
    for group in groups:
        if group in drawn:
            lines.append(f"![{TITLES[group]}]({drawn[group]})")
        else:
            lines.append(f"- {TITLES[group]}: no metrics of this kind in this run")
    return "\n".join(lines) + "\n"
