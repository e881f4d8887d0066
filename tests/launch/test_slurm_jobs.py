"""Jobs on a REAL Slurm (the local 2-node cluster): Ray across nodes, isolation, failure, preemption."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from slurm_helpers import small_run, wait_for, wait_job
from launch_drivers import expected_counter
from olmo3hpc.launch.jobs import status
from olmo3hpc.launch.options import LaunchOptions
from olmo3hpc.launch.runlog import read_events
from olmo3hpc.launch.submit import LaunchError, launch

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm_cluster", "job_env")]
ACTORS = LaunchOptions(executor="slurm", driver="launch_drivers:actors", quiet=True)


def _files_containing(root: Path, needle: str) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and needle.encode() in path.read_bytes():
            hits.append(str(path))
    return hits


def test_two_jobs_at_once_each_form_a_two_node_ray_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "hf_" + secrets.token_hex(16)
    monkeypatch.setenv("HF_TOKEN", secret)
    runs = [small_run(tmp_path, f"pair{i}") for i in range(2)]
    results = [launch(run, ACTORS) for run in runs]
    states = [wait_job(r.job_ids[0], 480) for r in results]
    assert states == ["COMPLETED", "COMPLETED"], [str(status(str(r.run_dir))) for r in results]
    addresses = set()
    for r in results:
        out = json.loads((r.run_dir / "driver_result.json").read_text())
        assert out["ray_nodes"] == 2
        assert sorted(rep["node_index"] for rep in out["reports"]) == ["0", "1"]
        assert len({rep["node_id"] for rep in out["reports"]}) == 2
        assert all(rep["slurm_vars"] == [] for rep in out["reports"])  # no SLURM_* leaks into actors
        assert out["driver_hf_token_visible"] and all(rep["hf_token_visible"] for rep in out["reports"])
        addresses.add(out["address"])
        assert _files_containing(r.run_dir, secret) == []
        assert secret not in r.sbatch_text
    assert len(addresses) == 2  # the two clusters on the same two nodes used different GCS ports
    starts = [min(e["time"] for e in read_events(r.run_dir) if e["event"] == "node_start") for r in results]
    ends = [max(e["time"] for e in read_events(r.run_dir) if e["event"] == "done") for r in results]
    assert max(starts) < min(ends)  # they really ran at the same time
    for port in (6379, 8265, 10001):
        assert all(not a.endswith(f":{port}") for a in addresses)


def test_killed_ray_worker_fails_the_job_within_60s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLMO3HPC_TEST_HOLD_S", "300")
    r = launch(small_run(tmp_path, "killed"), ACTORS)
    wait_for(lambda: (r.run_dir / "driver_result.json").exists(), 300, "the driver to reach its actors")
    node1 = json.loads(next((r.run_dir / "ray").glob("*/node-1.json")).read_text())
    raylets = [p for p in psutil.Process(node1["pid"]).children(recursive=True) if p.name() == "raylet"]
    assert raylets, "worker raylet not found"
    raylets[0].kill()
    killed = time.monotonic()
    state = wait_job(r.job_ids[0], 90)
    took = time.monotonic() - killed
    assert state == "FAILED" and took < 60, (state, took)
    failed = [e for e in read_events(r.run_dir) if e["event"] == "failed"]
    assert any("node 1" in e["reason"] for e in failed), failed
    assert "node 1" in str(status(str(r.run_dir)))


def test_time_limit_signal_checkpoints_requeues_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLMO3HPC_TEST_STEPS", "12")
    opts = LaunchOptions(executor="slurm", driver="launch_drivers:counter", quiet=True)
    r = launch(small_run(tmp_path, "preempt"), opts)
    metrics = r.run_dir / "metrics.jsonl"
    wait_for(lambda: metrics.exists() and len(metrics.read_text().splitlines()) >= 4, 300, "4 training steps")
    subprocess.run(["scancel", "--signal=USR2", r.job_ids[0]], check=True)  # what Slurm sends before the limit
    state = wait_job(r.job_ids[0], 480)
    assert state == "COMPLETED", status(str(r.run_dir))
    assert json.loads((r.run_dir / "final.json").read_text()) == expected_counter(12)
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert {row["restart"] for row in rows} == {0, 1}
    assert len({row["wandb_run_id"] for row in rows}) == 1 and rows[0]["wandb_run_id"]
    assert [e["event"] for e in read_events(r.run_dir)].count("requeue") == 1
    resumed = [row["step"] for row in rows if row["restart"] == 1]
    assert resumed[-1] == 12 and resumed[0] > 1  # resumed from the checkpoint, not from step 0


def test_node_that_never_joins_is_named_with_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLMO3HPC_INJECT_FAULT", "no_join:1")
    r = launch(small_run(tmp_path, "nojoin", **{"ray.ready_timeout_s": 20.0}), ACTORS)
    assert wait_job(r.job_ids[0], 400) == "FAILED"
    reasons = " ".join(e["reason"] for e in read_events(r.run_dir) if e["event"] == "failed")
    assert "node 1 (n2" in reasons and f"{r.job_ids[0]}_1_log.out" in reasons, reasons


def test_unknown_partition_shows_slurm_message_and_writes_nothing(tmp_path: Path) -> None:
    run = small_run(tmp_path, "badpart", **{"slurm.partition": "no_such_partition"})
    with pytest.raises(LaunchError, match="(?i)invalid partition"):
        launch(run, ACTORS)
    assert not (tmp_path / "badpart").exists()


def test_dry_run_prints_the_sbatch_and_checks_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = small_run(tmp_path, "dry")
    result = launch(run, LaunchOptions(executor="slurm", dry_run=True))
    out = capsys.readouterr().out
    assert result.dry_run and result.sbatch_text in out
    assert any("to start at" in n for n in result.notes)  # sbatch --test-only's verdict
    assert not (tmp_path / "dry").exists()


def test_scontrol_requeue_resumes_from_the_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Preemption the Slurm way: TERM reaches the driver, which checkpoints; Slurm requeues the job."""
    monkeypatch.setenv("OLMO3HPC_TEST_STEPS", "12")
    opts = LaunchOptions(executor="slurm", driver="launch_drivers:counter", quiet=True)
    r = launch(small_run(tmp_path, "requeue"), opts)
    metrics = r.run_dir / "metrics.jsonl"
    wait_for(lambda: metrics.exists() and len(metrics.read_text().splitlines()) >= 4, 300, "4 training steps")
    subprocess.run(["scontrol", "requeue", r.job_ids[0]], check=True)
    assert wait_job(r.job_ids[0], 480) == "COMPLETED", status(str(r.run_dir))
    assert json.loads((r.run_dir / "final.json").read_text()) == expected_counter(12)
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert {row["restart"] for row in rows} == {0, 1} and len({row["wandb_run_id"] for row in rows}) == 1
    assert any(e["event"] == "checkpointed" for e in read_events(r.run_dir))


def test_pretokenize_job_runs_first_and_chains_with_afterok(tmp_path: Path) -> None:
    opts = LaunchOptions(executor="slurm", driver="launch_drivers:actors", pretokenize=True, quiet=True)
    r = launch(small_run(tmp_path, "chained"), opts)
    assert r.pretokenize_job_id and r.job_ids
    dep = subprocess.run(["scontrol", "show", "job", r.job_ids[0]], capture_output=True, text=True).stdout
    assert f"afterok:{r.pretokenize_job_id}" in dep
    assert wait_job(r.job_ids[0], 600) == "COMPLETED", status(str(r.run_dir))
    assert wait_job(r.pretokenize_job_id, 5) == "COMPLETED"
    events = read_events(r.run_dir)
    order = [e["event"] for e in events if e["event"] in {"pretokenize_done", "ray_ready"}]
    assert order == ["pretokenize_done", "ray_ready"]
    assert any((tmp_path / "cache").iterdir())


def test_status_logs_and_cancel_by_run_dir_and_job_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from olmo3hpc.launch.jobs import cancel, logs

    monkeypatch.setenv("OLMO3HPC_TEST_HOLD_S", "300")
    r = launch(small_run(tmp_path, "verbs"), ACTORS)
    job = r.job_ids[0]
    wait_for(lambda: (r.run_dir / "driver_result.json").exists(), 300, "the job to run its driver")
    by_id = status(job)
    assert by_id.run_dir == r.run_dir and by_id.jobs[0].state == "RUNNING"
    out = io.StringIO()
    logs(str(r.run_dir), out=out)
    assert "[node0 " in out.getvalue() and "[node1 " in out.getvalue() and "ray_ready" in out.getvalue()
    assert cancel(str(r.run_dir)) == [job]
    assert wait_job(job, 60) == "CANCELLED"
    assert "CANCELLED" in str(status(str(r.run_dir)))


def test_job_array_runs_one_ray_cluster_per_task(tmp_path: Path) -> None:
    opts = LaunchOptions(executor="slurm", driver="launch_drivers:actors", array=2, quiet=True)
    r = launch(small_run(tmp_path, "sweep", nodes=1), opts)
    assert len(r.job_ids) == 2 and "--array=0-1%2" in r.sbatch_text
    assert [wait_job(j, 480) for j in r.job_ids] == ["COMPLETED", "COMPLETED"]
    outs = [json.loads((r.run_dir / f"driver_result_{i}.json").read_text()) for i in range(2)]
    assert [o["array_index"] for o in outs] == ["0", "1"]
    assert all(o["ray_nodes"] == 1 for o in outs) and outs[0]["address"] != outs[1]["address"]
