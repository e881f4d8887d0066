"""Node 0 of a job: Ray head, readiness gate, then the stage driver as a child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from olmo3hpc.launch import bootstrap
from olmo3hpc.launch.context import JobContext
from olmo3hpc.launch.nodeenv import job_environment, node_spec
from olmo3hpc.launch.ports import choose_ports
from olmo3hpc.launch.rendezvous import Rendezvous, poll_until

REQUEUE_EXIT_CODE = 75  # olmo3hpc.engine.preempt.REQUEUE_EXIT_CODE (launch must not import engine)
_PORT_RETRIES = 3
_LEAVE_TIMEOUT_S = 20.0
_DRIVER_GRACE_S = 30.0


class BootstrapError(RuntimeError):
    """The Ray cluster of the job could not be formed; the message names nodes and logs."""


@dataclass
class Signals:
    """What Slurm asked for: `timeout` (USR1/USR2: checkpoint and requeue) or `preempt` (TERM)."""

    kind: str = ""
    driver: subprocess.Popen | None = field(default=None, repr=False)

    def install(self) -> None:
        for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        self.kind = self.kind or ("preempt" if signum == signal.SIGTERM else "timeout")
        if self.driver is not None and self.driver.poll() is None:
            os.kill(self.driver.pid, signal.SIGTERM if signum == signal.SIGTERM else signal.SIGUSR1)


@dataclass(frozen=True)
class HeadOutcome:
    exit_code: int
    signal_kind: str
    ready_s: float


def run_head(ctx: JobContext, signals: Signals) -> HeadOutcome:
    """Start the head, wait for every node, run the driver, tear everything down by PID."""
    rdv = Rendezvous.for_job(ctx.run_dir, ctx.attempt_key)
    log = ctx.log
    rdv.publish_node(0, node_info(ctx))
    env = job_environment(ctx)
    head, address = _start_head(ctx, rdv, env)
    try:
        ready_s = _wait_ready(ctx, rdv, head, address)
        log.event("ray_ready", nodes=ctx.num_nodes, seconds=round(ready_s, 2), address=address)
        if signals.kind:
            return HeadOutcome(REQUEUE_EXIT_CODE, signals.kind, ready_s)
        code = _run_driver(ctx, rdv, address, env, signals)
        return HeadOutcome(code, signals.kind, ready_s)
    finally:
        _teardown(ctx, rdv, head)


def node_info(ctx: JobContext) -> dict:
    return {"node": ctx.node, "host": ctx.host_of(ctx.node), "pid": os.getpid(),
            "log": str(ctx.task_log(ctx.node)), **bootstrap.versions()}


def _start_head(ctx: JobContext, rdv: Rendezvous, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    spec = node_spec(ctx, 0)
    timeout = ctx.run.ray.ready_timeout_s
    for attempt in range(_PORT_RETRIES):
        ports = choose_ports(ctx.job_number, 0, skip=attempt)
        proc = bootstrap.spawn(bootstrap.ray_start_cmd(spec, ports, None), env, ctx.log, "ray")
        up = poll_until(lambda: proc.poll() is not None or bootstrap.tcp_open(spec.ip, ports.gcs), timeout)
        if up and proc.poll() is None:
            address = f"{spec.ip}:{ports.gcs}"
            rdv.publish_head({"address": address, "host": ctx.host_of(0), **bootstrap.versions()})
            return proc, address
        bootstrap.stop(proc)
        ctx.log.line(f"ray head did not start on ports {ports.base}+ (exit {proc.returncode}); trying the next block")
    raise BootstrapError(f"Ray head on node 0 ({ctx.host_of(0)}) did not start after {_PORT_RETRIES} tries; "
                         f"see {ctx.task_log(0)}")


def _wait_ready(ctx: JobContext, rdv: Rendezvous, head: subprocess.Popen, address: str) -> float:
    """Block until every node is alive in the GCS with its GPUs and CPUs; fail fast on a node's
    failure or a version mismatch; name the missing nodes and their logs at the deadline."""
    want_gpus = ctx.run.slurm.gpus_per_node
    seen: dict[int, bootstrap.NodeSeen] = {}

    def check() -> bool:
        _raise_on_failures(ctx, rdv)
        _check_versions(ctx, rdv)
        if head.poll() is not None:
            raise BootstrapError(f"Ray head on node 0 exited with {head.returncode}; see {ctx.task_log(0)}")
        nodes = _safe_nodes(address)
        if nodes is not None:  # an overloaded GCS that does not answer yet is "not ready", not a failure
            seen.clear()
            seen.update({n.index: n for n in nodes if n.gpus >= want_gpus and n.cpus > 0})
        return len(seen) >= ctx.num_nodes

    if poll_until(check, ctx.run.ray.ready_timeout_s, interval_s=0.2) is None:
        missing = [k for k in range(ctx.num_nodes) if k not in seen]
        names = ", ".join(f"node {k} ({ctx.host_of(k)}, log {ctx.task_log(k)})" for k in missing)
        raise BootstrapError(f"Ray cluster not ready after {ctx.run.ray.ready_timeout_s:g} s: "
                             f"{names} never registered with {want_gpus} GPU(s)")
    return time.time() - ctx.started


def _raise_on_failures(ctx: JobContext, rdv: Rendezvous) -> None:
    failures = rdv.failures(ctx.num_nodes)
    if failures:
        raise BootstrapError("; ".join(f"node {k} ({ctx.host_of(k)}): {why}" for k, why in sorted(failures.items())))


def _check_versions(ctx: JobContext, rdv: Rendezvous) -> None:
    mine = bootstrap.versions()
    for k, info in rdv.nodes(ctx.num_nodes).items():
        theirs = {key: info.get(key) for key in mine}
        if theirs != mine:
            raise BootstrapError(f"node {k} ({info.get('host')}) runs Ray {theirs['ray']} / Python "
                                 f"{theirs['python']} but the head runs Ray {mine['ray']} / Python {mine['python']}")


def _run_driver(ctx: JobContext, rdv: Rendezvous, address: str, env: dict[str, str], signals: Signals) -> int:
    env = {**env, "RAY_ADDRESS": address}
    cmd = [sys.executable, "-u", "-m", "olmo3hpc.job", "drive", str(ctx.run_dir)]
    driver = bootstrap.spawn(cmd, env, ctx.log, "driver")
    signals.driver = driver
    if signals.kind:  # a signal landed between readiness and spawn
        os.kill(driver.pid, signal.SIGTERM if signals.kind == "preempt" else signal.SIGUSR1)
    ctx.log.event("driver_start", pid=driver.pid)
    lost = _watch(ctx, rdv, address, driver)
    if lost:
        _stop_driver(driver)
        raise BootstrapError(f"{lost}; the driver was stopped")
    return driver.returncode


def _watch(ctx: JobContext, rdv: Rendezvous, address: str, driver: subprocess.Popen) -> str:
    """Wait for the driver; return a reason if a node is lost first (empty when the driver ended)."""
    last_gcs = 0.0
    while driver.poll() is None:
        failures = rdv.failures(ctx.num_nodes)
        if failures:
            return "; ".join(f"node {k} ({ctx.host_of(k)}): {why}" for k, why in sorted(failures.items()))
        if time.monotonic() - last_gcs >= 2.0:
            last_gcs = time.monotonic()
            nodes = _safe_nodes(address)
            missing = [] if nodes is None else [k for k in range(ctx.num_nodes) if k not in {n.index for n in nodes}]
            if missing and driver.poll() is None:
                return "Ray node(s) " + ", ".join(f"{k} ({ctx.host_of(k)}, log {ctx.task_log(k)})" for k in missing) \
                    + " left the cluster during the job"
        try:
            driver.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
    return ""


def _safe_nodes(address: str) -> list[bootstrap.NodeSeen] | None:
    """None when the GCS did not answer: a slow reply is not a lost node (a dead head is seen by
    the driver failing and by the teardown)."""
    try:
        return bootstrap.gcs_nodes(address, timeout_s=5.0)
    except Exception:  # noqa: BLE001  GcsClient raises several RPC error types
        return None


def _stop_driver(driver: subprocess.Popen) -> None:
    if driver.poll() is None:
        driver.terminate()
        try:
            driver.wait(timeout=_DRIVER_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()


def _teardown(ctx: JobContext, rdv: Rendezvous, head: subprocess.Popen) -> None:
    """Tell workers to leave, wait (bounded) until they have, then stop the head by PID."""
    rdv.mark_done()
    poll_until(lambda: all(rdv.left_file(k).exists() or k in rdv.failures(ctx.num_nodes)
                           for k in range(1, ctx.num_nodes)), _LEAVE_TIMEOUT_S)
    ctx.log.line(bootstrap.stop_and_say(head, "ray head"))
    bootstrap.remove_temp_dir(node_spec(ctx, 0).temp_dir)
