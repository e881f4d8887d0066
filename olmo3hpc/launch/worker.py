"""Node k > 0 of a job: wait for the head's address, join with a Ray worker, leave with the head."""

from __future__ import annotations

import os
import subprocess
import time

from olmo3hpc.launch import bootstrap
from olmo3hpc.launch.context import JobContext
from olmo3hpc.launch.head import BootstrapError, Signals, node_info
from olmo3hpc.launch.nodeenv import job_environment, node_spec
from olmo3hpc.launch.ports import choose_ports
from olmo3hpc.launch.rendezvous import Rendezvous, poll_until, read_json

_JOIN_TRIES = 3
_HEAD_MISSES = 10
"""Consecutive failed GCS probes (1 s apart) after which the head counts as gone."""
FAULT_ENV = "OLMO3HPC_INJECT_FAULT"
"""Fault injection for drills and tests: `no_join:<k>` makes node k never join (a hung node)."""


def run_worker(ctx: JobContext, signals: Signals) -> None:
    rdv = Rendezvous.for_job(ctx.run_dir, ctx.attempt_key)
    rdv.publish_node(ctx.node, node_info(ctx))
    if os.environ.get(FAULT_ENV) == f"no_join:{ctx.node}":
        ctx.log.line(f"{FAULT_ENV}: node {ctx.node} will not join")
        poll_until(rdv.done_file.exists, float("inf"), interval_s=0.5)
        return
    head = poll_until(lambda: rdv.done_file.exists() or read_json(rdv.head_file), ctx.run.ray.ready_timeout_s)
    if not isinstance(head, dict):
        if head is None:
            raise BootstrapError(f"node {ctx.node} ({ctx.host_of(ctx.node)}): no head address in "
                                 f"{rdv.head_file} after {ctx.run.ray.ready_timeout_s:g} s")
        return  # the head finished (or failed) before this node got going
    if not _head_registered(ctx, rdv, head["address"]):
        return
    proc = _join_with_retries(ctx, rdv, head["address"], signals)
    if proc is None:
        return
    try:
        _block(ctx, rdv, proc, head["address"], signals)
    finally:
        _stop(ctx, rdv, proc)


def _stop(ctx: JobContext, rdv: Rendezvous, proc: subprocess.Popen) -> None:
    said = bootstrap.stop_and_say(proc, "ray worker")
    bootstrap.remove_temp_dir(node_spec(ctx, ctx.node).temp_dir)
    rdv.mark_left(ctx.node)
    ctx.log.line(said)


def _join_with_retries(ctx: JobContext, rdv: Rendezvous, address: str, signals: Signals) -> subprocess.Popen | None:
    """Start the worker and wait until its node is alive in the GCS. Ray gives a joining raylet a
    fixed 30 s to register; on a saturated machine that is too short, so a start that dies before
    registering is retried (next port block, fresh temp dir) until `ray.ready_timeout_s`."""
    deadline = time.monotonic() + ctx.run.ray.ready_timeout_s
    for attempt in range(_JOIN_TRIES):
        proc = _join(ctx, rdv, address, attempt)
        joined = poll_until(lambda: proc.poll() is not None or rdv.done_file.exists() or _registered(ctx, address),
                            max(deadline - time.monotonic(), 1.0), interval_s=0.5)
        if proc.poll() is None or rdv.done_file.exists() or signals.kind == "preempt":
            return proc if joined else _give_up(ctx, rdv, proc, "did not register in time")
        ctx.log.line(f"ray worker exited with {proc.returncode} before registering (try {attempt + 1}/{_JOIN_TRIES})")
        bootstrap.stop(proc)
        bootstrap.remove_temp_dir(node_spec(ctx, ctx.node).temp_dir)
        if time.monotonic() >= deadline:
            break
    return _give_up(ctx, rdv, None, f"Ray worker failed to start {_JOIN_TRIES} times")


def _give_up(ctx: JobContext, rdv: Rendezvous, proc: subprocess.Popen | None, why: str) -> None:
    if proc is not None:
        _stop(ctx, rdv, proc)
    reason = f"{why}; log {ctx.task_log(ctx.node)}"
    rdv.mark_failed(ctx.node, reason)
    raise BootstrapError(f"node {ctx.node} ({ctx.host_of(ctx.node)}): {reason}")


def _registered(ctx: JobContext, address: str) -> bool:
    try:
        return any(n.index == ctx.node for n in bootstrap.gcs_nodes(address, timeout_s=2.0))
    except Exception:  # noqa: BLE001  GCS busy: not yet
        return False


def _head_registered(ctx: JobContext, rdv: Rendezvous, address: str) -> bool:
    """`ray start --address` gives up if the head's own node is not in the GCS yet (slow heads, busy
    machines): join only once it is. False when the head finished first."""
    def check() -> bool:
        if rdv.done_file.exists():
            return True
        try:
            return any(n.index == 0 for n in bootstrap.gcs_nodes(address, timeout_s=2.0))
        except Exception:  # noqa: BLE001  GCS still starting: its RPC errors mean "not yet"
            return False

    if poll_until(check, ctx.run.ray.ready_timeout_s, interval_s=0.2) is None:
        raise BootstrapError(f"node {ctx.node} ({ctx.host_of(ctx.node)}): the head's Ray node never registered "
                             f"at {address} within {ctx.run.ray.ready_timeout_s:g} s; see {ctx.task_log(0)}")
    return not rdv.done_file.exists()


def _join(ctx: JobContext, rdv: Rendezvous, address: str, attempt: int) -> subprocess.Popen:
    mine = bootstrap.versions()
    head = read_json(rdv.head_file) or {}
    if {k: head.get(k) for k in mine} != mine:
        reason = f"runs Ray {mine['ray']} / Python {mine['python']}, the head Ray {head.get('ray')} / Python {head.get('python')}"
        rdv.mark_failed(ctx.node, reason)
        raise BootstrapError(f"node {ctx.node} ({ctx.host_of(ctx.node)}) {reason}")
    ports = choose_ports(ctx.job_number, ctx.node, skip=attempt)
    cmd = bootstrap.ray_start_cmd(node_spec(ctx, ctx.node), ports, address)
    return bootstrap.spawn(cmd, job_environment(ctx), ctx.log, "ray")


def _block(ctx: JobContext, rdv: Rendezvous, proc: subprocess.Popen, address: str, signals: Signals) -> None:
    """Until the head says done (normal end), our Ray node dies (failure), or the head vanishes.
    After a SIGTERM (preemption, requeue, cancel) Slurm stops our Ray node itself: not a failure."""
    host, port = address.rsplit(":", 1)
    misses, last_probe = 0, 0.0
    while not rdv.done_file.exists():
        if proc.poll() is not None:
            if rdv.done_file.exists() or signals.kind == "preempt":
                return
            reason = (f"Ray worker exited unexpectedly with code {proc.returncode}; "
                      f"log {ctx.task_log(ctx.node)}")
            rdv.mark_failed(ctx.node, reason)
            raise BootstrapError(f"node {ctx.node} ({ctx.host_of(ctx.node)}): {reason}")
        if time.monotonic() - last_probe >= 1.0:
            last_probe = time.monotonic()
            misses = 0 if bootstrap.tcp_open(host, int(port)) else misses + 1
            if misses >= _HEAD_MISSES:
                raise BootstrapError(f"node {ctx.node}: the Ray head at {address} went away without "
                                     f"finishing; see {ctx.task_log(0)}")
        try:
            proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass
