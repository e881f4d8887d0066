"""Merge finished eval-sweep cells into results.csv, results.md (checkpoint x task group) and scores.png.

    merge_results(sweep_dir) -> list of cell results

Reads every `cells/<label>__<group>.json` (a cell file exists only once the cell is finished), so it
can run at any time: while the array is running it shows what is done, and every cell task re-merges
when it finishes. Each output file is replaced atomically.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from olmo3hpc.atomic import staged_file, write_text_atomic

CSV_FIELDS = ("label", "step", "group", "score", "n", "too_long", "engine", "seconds", "checkpoint")


def read_cells(sweep_dir: Path) -> list[dict[str, Any]]:
    cells = []
    for path in sorted((sweep_dir / "cells").glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: corrupt cell result ({e.msg}); delete it to re-run the cell") from None
        data["group"] = data["group"]["name"] if isinstance(data["group"], dict) else data["group"]
        cells.append(data)
    return sorted(cells, key=lambda c: (c["step"] is None, c["step"] or 0, c["label"], c["group"]))


def _csv(cells: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(cells)
    return buf.getvalue()


def _markdown(cells: list[dict[str, Any]], title: str) -> str:
    groups = sorted({c["group"] for c in cells})
    labels = list(dict.fromkeys(c["label"] for c in cells))
    table = {(c["label"], c["group"]): c for c in cells}
    lines = [f"# Eval sweep: {title}", "", "| checkpoint | step | " + " | ".join(groups) + " | mean |",
             "|---|---|" + "---|" * (len(groups) + 1)]
    for label in labels:
        row = [table.get((label, g)) for g in groups]
        step = next(c["step"] for c in row if c is not None)
        scores = [c["score"] for c in row if c is not None]
        shown = [f"{c['score']:.3f} (n={c['n']})" if c else "pending" for c in row]
        mean = f"{sum(scores) / len(scores):.3f}" if len(scores) == len(groups) else "-"
        lines.append(f"| {label} | {'' if step is None else step} | " + " | ".join(shown) + f" | {mean} |")
    return "\n".join(lines) + "\n"


def _plot(cells: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for group in sorted({c["group"] for c in cells}):
        points = sorted((c["step"], c["score"]) for c in cells if c["group"] == group and c["step"] is not None)
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=group)
    ax.set_title(f"Eval sweep: {title}")
    ax.set_xlabel("step")
    ax.set_ylabel("score (mean over items)")
    ax.set_ylim(-0.05, 1.05)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    fig.tight_layout()
    with staged_file(path) as tmp:  # every array task re-merges when its cell finishes
        fig.savefig(tmp)
    plt.close(fig)


def merge_results(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """Rewrite results.csv / results.md / scores.png from the finished cells; returns them."""
    sweep_dir = Path(sweep_dir)
    cells = read_cells(sweep_dir)
    if not cells:
        return cells
    title = sweep_dir.name
    write_text_atomic(sweep_dir / "results.csv", _csv(cells))
    write_text_atomic(sweep_dir / "results.md", _markdown(cells, title))
    _plot(cells, sweep_dir / "scores.png", title)
    return cells
