"""Seconds from job start to "Ray ready on 2 nodes": olmo3hpc's bootstrap vs a bare `ray start`.

Both jobs run on the local Slurm cluster (slurm/local/up.sh) in the same allocation shape
(2 nodes x 1 task x 1 CPU). Job start = the first line of the batch script; ready = both nodes
alive in the GCS. The bare baseline is the textbook script: srun a head, probe its port, srun a
worker, poll the GCS; it picks free ports too, but has no version check, rendezvous, env hygiene
or teardown protocol. The figure is the median ratio over alternating rounds.

    python bench/ray_bootstrap.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BARE = r"""#!/bin/bash
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=1
#SBATCH --time=6
#SBATCH --output={out}/bare-%j.out
date +%s.%N > {out}/t0
export RAY_AUTH_MODE=disabled RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S=0
nodes=($(scontrol show hostnames "$SLURM_JOB_NODELIST"))
read p0 p1 <<<"$({python} -c 'from olmo3hpc.launch.ports import choose_ports as c; import os; j=int(os.environ["SLURM_JOB_ID"]); print(c(j,0).base, c(j,1).base)')"
ip=$({python} -c 'from olmo3hpc.launch.bootstrap import node_ip; print(node_ip())')
COMMON="--num-cpus=2 --object-store-memory=83886080 --disable-usage-stats --block"
flags() {{ {python} -c "from olmo3hpc.launch.ports import RayPorts; print(' '.join(RayPorts($1).flags(head=$2)))"; }}
srun -N1 -n1 -w "${{nodes[0]}}" --overlap {ray} start --head --include-dashboard=false --temp-dir=/tmp/bb-$SLURM_JOB_ID-0 \
    $(flags $p0 True) $COMMON > {out}/head.log 2>&1 &
HEAD=$!
until (exec 3<>/dev/tcp/$ip/$p0) 2>/dev/null; do kill -0 $HEAD || exit 1; sleep 0.1; done
srun -N1 -n1 -w "${{nodes[1]}}" --overlap {ray} start --address=$ip:$p0 --temp-dir=/tmp/bb-$SLURM_JOB_ID-1 \
    $(flags $p1 False) $COMMON > {out}/worker.log 2>&1 &
WORKER=$!
{python} -c "
import time
from ray._raylet import GcsClient
gcs, deadline = GcsClient(address='$ip:$p0'), time.time() + 300
while sum(n.state == 0 for n in gcs.get_all_node_info(timeout=5).values()) < 2 and time.time() < deadline:
    time.sleep(0.2)
print(time.time())" > {out}/t1
kill -TERM $WORKER $HEAD; wait
rm -rf /tmp/bb-$SLURM_JOB_ID-0 /tmp/bb-$SLURM_JOB_ID-1
"""


def noop(run) -> int:
    """The driver of the olmo3hpc job: Ray is ready when it runs; nothing else to do."""
    return 0


def wait_gone(job_id: str, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not subprocess.run(["squeue", "-h", "-j", job_id], capture_output=True, text=True).stdout.strip():
            return
        time.sleep(0.5)
    raise TimeoutError(f"job {job_id} still queued after {timeout_s} s")


def bare_round(root: Path) -> float:
    out = root / f"bare-{time.time_ns()}"
    out.mkdir(parents=True)
    py = sys.executable
    script = BARE.format(out=out, python=py, ray=Path(py).with_name("ray"))
    (out / "job.sh").write_text(script)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    job_id = subprocess.run(["sbatch", "--parsable", str(out / "job.sh")], capture_output=True, text=True,
                            check=True, env=env).stdout.strip()
    wait_gone(job_id)
    return float((out / "t1").read_text()) - float((out / "t0").read_text())


def ours_round(root: Path) -> float:
    from olmo3hpc.catalog import load_recipe
    from olmo3hpc.config import replace_path
    from olmo3hpc.launch.options import LaunchOptions
    from olmo3hpc.launch.runlog import read_events
    from olmo3hpc.launch.submit import launch

    name = f"ours-{time.time_ns()}"
    run = load_recipe("smoke_sft")
    t0 = root / name / "t0"
    for key, value in {"meta.output_root": str(root), "meta.name": name, "slurm.nodes": 2, "slurm.cpus_per_node": 1,
                       "slurm.time": "00:10:00", "slurm.signal_delay_s": 30, "ray.object_store_mb": 80,
                       "slurm.setup": (f"date +%s.%N > {t0}",)}.items():
        run = replace_path(run, key, value)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO / "bench"), str(REPO)])
    result = launch(run, LaunchOptions(executor="slurm", driver="ray_bootstrap:noop", quiet=True))
    wait_gone(result.job_ids[0])
    ready = [e for e in read_events(result.run_dir) if e["event"] == "ray_ready"]
    if not ready:
        raise RuntimeError(f"olmo3hpc job {result.job_ids[0]} never got Ray ready; see {result.run_dir}/logs")
    return ready[0]["time"] - float(t0.read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("sbatch") is None:
        sys.exit("ray_bootstrap: needs Slurm (run slurm/local/up.sh as root)")
    root = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    ratios = []
    for i in range(args.rounds):
        bare = bare_round(root)
        ours = ours_round(root)
        ratios.append(ours / bare)
        print(f"round {i}: bare ray start {bare:.2f} s, olmo3hpc {ours:.2f} s, ratio {ours / bare:.2f}", flush=True)
    print(json.dumps({"ratios": [round(r, 3) for r in ratios]}))
    shutil.rmtree(root, ignore_errors=True)
    print(f"ray_bootstrap: {statistics.median(ratios):.2f} (goal <= 1.3)")


if __name__ == "__main__":
    main()
