#!/bin/bash
# Stop the local Slurm cluster started by up.sh: every daemon by its pid file (never by name).
S=${SLURM_LOCAL_DIR:-/tmp/slurm-local}
# ps reports an exited-but-unreaped child as a zombie, and kill -0 still succeeds on it
gone() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null); [ -z "$st" ] || [[ $st == Z* ]]; }
stop() {
  local f=$1 pid; [ -s "$f" ] || return 0; pid=$(cat "$f")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do gone "$pid" && return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
if [ -s "$S/run/slurmctld.pid" ] && command -v squeue >/dev/null; then
  ids=$(timeout 5 squeue -h -o %i 2>/dev/null || true)
  [ -n "$ids" ] && scancel $ids 2>/dev/null
fi
for f in "$S"/run/slurmd-*.pid; do stop "$f"; done
stop "$S/run/slurmctld.pid"; stop "$S/run/slurmdbd.pid"; stop "$S/run/mariadb.pid"; stop "$S/run/munged.pid"
rm -rf "$S"
echo "[down.sh] stopped ($S removed)"
