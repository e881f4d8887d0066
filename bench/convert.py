"""ZeRO-3 checkpoint -> safetensors: olmo3hpc's streamed converter vs DeepSpeed's zero_to_fp32.py.

    python bench/convert.py [--workdir /tmp/olmo3hpc-bench-convert] [--fresh] [--reps 2]

Setup (untimed, reused across runs unless --fresh): a ~270M-parameter random Olmo3 trained one step
with real DeepSpeed ZeRO-3 on 2 gloo ranks (tests/tools/ds_checkpoint_worker.py), and one reference
export by our converter (the run's earlier HF export that later conversions take config/tokenizer from).
Timed: each tool converts the same checkpoint to fp32 safetensors in a fresh subprocess, alternating,
`--reps` times; wall time and the child's own peak RSS (os.wait4) are taken, best of the reps. The
outputs are compared tensor by tensor (bitwise). Page cache is warm for both (the setup read it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _run(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode()[-3000:]}")
    return wall, usage.ru_maxrss / 1024


def _setup(work: Path, fresh: bool) -> None:
    if fresh:
        shutil.rmtree(work, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    if not (work / "logits.pt").is_file():
        print("setup: training a ~270M Olmo3 one step with ZeRO-3 on 2 ranks (a few minutes on 2 cores)")
        _run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29761",
              str(ROOT / "tests/tools/ds_checkpoint_worker.py"), str(work), "--zero-stage", "3",
              "--size", "bench", "--steps", "1"], env)
    if not (work / "ref_hf" / "config.json").is_file():
        _run([sys.executable, str(ROOT / "tools/convert.py"), "--checkpoint", str(work), "--output",
              str(work / "ref_hf"), "--model", str(work / "hf_config"), "--dtype", "bfloat16"], env)


def _same_outputs(ours: Path, theirs: Path) -> int:
    """Number of tensors compared; raises if any differs bitwise."""
    import numpy as np

    from olmo3hpc.tools.safetensors_stream import read_safetensors_dir
    from olmo3hpc.tools.tensor_stream import read_range

    a, b = read_safetensors_dir(ours), read_safetensors_dir(theirs)
    if set(a) != set(b):
        raise AssertionError(f"tensor names differ: {sorted(set(a) ^ set(b))[:5]}")
    for name, src in a.items():
        for start in range(0, src.numel, 1 << 23):
            n = min(1 << 23, src.numel - start)
            if not np.array_equal(read_range(src, start, n), read_range(b[name], start, n)):
                raise AssertionError(f"{name}: outputs differ")
    return len(a)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", default="/tmp/olmo3hpc-bench-convert")
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--reps", type=int, default=2)
    args = ap.parse_args()
    work = Path(args.workdir)
    _setup(work, args.fresh)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    theirs_cmd = [sys.executable, str(work / "checkpoints" / "zero_to_fp32.py"), str(work / "checkpoints"),
                  str(work / "out_zero_to_fp32"), "--safe_serialization"]
    ours_cmd = [sys.executable, str(ROOT / "tools/convert.py"), "--checkpoint", str(work), "--output",
                str(work / "out_ours"), "--model", str(work / "ref_hf"), "--dtype", "float32", "--overwrite"]
    theirs, ours = [], []
    for _ in range(args.reps):
        shutil.rmtree(work / "out_zero_to_fp32", ignore_errors=True)
        theirs.append(_run(theirs_cmd, env))
        ours.append(_run(ours_cmd, env))
    n = _same_outputs(work / "out_ours", work / "out_zero_to_fp32")
    t_time, t_mem = min(t for t, _ in theirs), min(m for _, m in theirs)
    o_time, o_mem = min(t for t, _ in ours), min(m for _, m in ours)
    print(f"zero_to_fp32.py: {t_time:.1f} s, peak RSS {t_mem:.0f} MiB")
    print(f"olmo3hpc convert: {o_time:.1f} s, peak RSS {o_mem:.0f} MiB ({n} tensors, bitwise equal)")
    print(f"convert: {o_time / t_time:.2f}x time, {o_mem / t_mem:.2f}x peak memory of zero_to_fp32 "
          f"(goal <= 0.5x time and <= 0.5x peak memory)")


if __name__ == "__main__":
    main()
