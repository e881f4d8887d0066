"""Login-node latency: `olmo3hpc --help` and `launch --dry-run` wall time against `python -c pass`.

    python bench/cli_startup.py [--repeat 5]

The login node must stay fast (no torch/ray import on this path). Prints medians of fresh processes.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time


def wall(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    py = sys.executable
    with tempfile.TemporaryDirectory() as out:
        cases = {
            "python -c pass": [py, "-c", "pass"],
            "olmo3hpc --help": [py, "-m", "olmo3hpc", "--help"],
            "olmo3hpc recipes": [py, "-m", "olmo3hpc", "recipes"],
            "olmo3hpc launch 7b_think_rl --dry-run": [py, "-m", "olmo3hpc", "launch", "7b_think_rl", "--dry-run",
                                                      "--executor", "slurm", "--meta.output_root", out],
        }
        results = {name: wall(cmd, repeat) for name, cmd in cases.items()}
    base = results["python -c pass"]
    for name, seconds in results.items():
        print(f"{name:40s} {seconds:6.3f} s  ({seconds / base:4.1f}x python -c pass)")
    worst = max(v for k, v in results.items() if k.startswith("olmo3hpc"))
    print(f"cli_startup: {worst:.2f} s slowest CLI command, {worst / base:.1f}x python startup (goal < 1.5 s)")


if __name__ == "__main__":
    main()
