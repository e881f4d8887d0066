#!/bin/bash
# Bring up a throw-away Slurm 22.05 cluster on this one Debian 12 machine (run as root, no systemd).
# Idempotent and safe to call while jobs run: a running cluster is left alone (exit 0 at once),
# dead daemons are restarted one by one, only a cluster without state is built from scratch.
#   SLURM_LOCAL_DIR   state/log/pid dir             (default /tmp/slurm-local)
#   SLURM_LOCAL_NODES emulated nodes n1..nN         (default 2; all slurmds on 127.0.0.1)
#   SLURM_LOCAL_ACCT  1 = MariaDB + slurmdbd so sacct works (submitit reads job state from sacct)
set -euo pipefail
S=${SLURM_LOCAL_DIR:-/tmp/slurm-local}
N=${SLURM_LOCAL_NODES:-2}
ACCT=${SLURM_LOCAL_ACCT:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
ts() { date +%s.%N; }
T=$(ts); T_START=$T
lap() { local t; t=$(ts); printf '[up.sh] %-28s %6.2fs\n' "$1" "$(awk "BEGIN{print $t - $T}")"; T=$t; }

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
daemons_alive() {
  alive "$S/run/slurmctld.pid" || return 1
  for i in $(seq 1 "$N"); do alive "$S/run/slurmd-n$i.pid" || return 1; done
  if [ "$ACCT" = 1 ]; then alive "$S/run/slurmdbd.pid" || return 1; fi
}
resume_down_nodes() {
  # a node left down/drained (e.g. by a killed job) is resumed, never the cluster rebuilt
  local bad; bad=$(timeout 30 sinfo -h -N -t down,drain,fail -o %N 2>/dev/null | sort -u | paste -sd, -)
  [ -z "$bad" ] || scontrol update nodename="$bad" state=resume 2>/dev/null || true
}
start_missing() {
  # restart only daemons whose pid is gone; running ones (and their jobs) are left alone
  alive /run/munge/munged.pid || { runuser -u munge -- /usr/sbin/munged 9>&-; cp /run/munge/munged.pid "$S/run/munged.pid"; }
  if [ "$ACCT" = 1 ] && ! alive "$S/run/slurmdbd.pid"; then /usr/sbin/slurmdbd 9>&-; fi
  alive "$S/run/slurmctld.pid" || /usr/sbin/slurmctld 9>&-
  for i in $(seq 1 "$N"); do alive "$S/run/slurmd-n$i.pid" || /usr/sbin/slurmd -N "n$i" 9>&-; done
}

# Several test sessions may call up.sh at once: one at a time. Every daemon started below gets
# `9>&-` so it does not inherit (and hold forever) the lock.
exec 9>"${S%/}.lock"
flock 9
if command -v sinfo >/dev/null && daemons_alive; then
  resume_down_nodes
  echo "[up.sh] already up ($S)"; exit 0
fi
if [ -s "$S/run/slurmctld.pid" ] && [ -f /etc/slurm/slurm.conf ] && alive "$S/run/mariadb.pid"; then
  echo "[up.sh] some daemons are gone: restarting only those"
  start_missing
  for _ in $(seq 300); do daemons_alive && [ -n "$(timeout 10 sinfo -h -o %T 2>/dev/null)" ] && break; sleep 0.1; done
  daemons_alive || { echo "[up.sh] repair failed: run slurm/local/down.sh, then up.sh"; exit 1; }
  resume_down_nodes; sinfo -N; exit 0
fi
if [ -d "$S/run" ]; then echo "[up.sh] stale state without a database: down.sh first"; "$HERE/down.sh"; fi

# 1. packages (policy-rc.d keeps postinst scripts from starting daemons)
export DEBIAN_FRONTEND=noninteractive
[ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; }
pkgs="slurmctld slurmd slurm-client munge"
[ "$ACCT" = 1 ] && pkgs="$pkgs slurmdbd slurm-wlm-mysql-plugin mariadb-server mariadb-client"
missing=""
for p in $pkgs; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"; done
if [ -n "$missing" ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
lap "packages"
HOST=$(hostname -s)
mkdir -p "$S"/{state,spool,log,run}

# 2. munge (the package postinst wrote /etc/munge/munge.key)
[ -s /etc/munge/munge.key ] || runuser -u munge -- /usr/sbin/mungekey --create
mkdir -p /run/munge && chown munge:munge /run/munge
if ! alive /run/munge/munged.pid; then runuser -u munge -- /usr/sbin/munged 9>&-; fi
cp /run/munge/munged.pid "$S/run/munged.pid"
munge -n | unmunge >/dev/null
lap "munged"

# 3. accounting: a private MariaDB (port 3307, own datadir) + slurmdbd
if [ "$ACCT" = 1 ]; then
  mkdir -p "$S/db" "$S/dbrun" && chown mysql:mysql "$S/db" "$S/dbrun"
  mariadb-install-db --user=mysql --datadir="$S/db" --auth-root-authentication-method=socket \
      --skip-test-db >"$S/log/mariadb-install.log" 2>&1
  setsid /usr/sbin/mariadbd --user=mysql --datadir="$S/db" --socket="$S/dbrun/mysql.sock" \
      --pid-file="$S/dbrun/mariadb.pid" --port=3307 --bind-address=127.0.0.1 \
      --log-error="$S/dbrun/mariadb.err" --innodb-buffer-pool-size=64M </dev/null >/dev/null 2>&1 9>&- &
  for _ in $(seq 300); do mariadb --socket="$S/dbrun/mysql.sock" -e 'select 1' >/dev/null 2>&1 && break; sleep 0.1; done
  mariadb --socket="$S/dbrun/mysql.sock" -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
  cp "$S/dbrun/mariadb.pid" "$S/run/mariadb.pid"
  lap "mariadb"
  cat > /etc/slurm/slurmdbd.conf <<EOC
AuthType=auth/munge
DbdHost=$HOST
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3307
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
LogFile=$S/log/slurmdbd.log
PidFile=$S/run/slurmdbd.pid
EOC
  chmod 600 /etc/slurm/slurmdbd.conf
  /usr/sbin/slurmdbd 9>&-
  # sacctmgr reads slurm.conf, which may still say accounting_storage/none: probe the TCP port instead
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/6819) 2>/dev/null && break; sleep 0.1; done
  lap "slurmdbd"
  ACCT_LINES="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819"
else
  ACCT_LINES="AccountingStorageType=accounting_storage/none"
fi

# 4. slurm.conf: N emulated nodes; every slurmd reports the whole machine
read -r CPUS MEM < <(slurmd -C | awk '/^NodeName/{for(i=1;i<=NF;i++){split($i,a,"="); v[a[1]]=a[2]} print v["CPUs"], v["RealMemory"]}')
NODE_MEM=$(( MEM * 8 / 10 / N ))
cat > /etc/slurm/slurm.conf <<EOC
ClusterName=localci
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# requeued jobs wait cred_expire+1 s before they are eligible again (default 120; minimum accepted 5)
AuthInfo=cred_expire=5
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool/%n
SlurmctldPidFile=$S/run/slurmctld.pid
SlurmdPidFile=$S/run/slurmd-%n.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=2
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
$ACCT_LINES
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=300
KillWait=5
InactiveLimit=0
NodeName=n[1-$N] NodeHostname=$HOST NodeAddr=127.0.0.1 Port=[17001-$((17000+N))] CPUs=$CPUS RealMemory=$NODE_MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOC
if [ "$ACCT" = 1 ]; then
  sacctmgr -i add cluster localci >/dev/null 2>&1 || true
fi
lap "config"

# 5. daemons (each daemonizes and writes its pid file under $S/run)
/usr/sbin/slurmctld -i 9>&-
for i in $(seq 1 "$N"); do /usr/sbin/slurmd -N "n$i" 9>&-; done
for _ in $(seq 300); do [ "$(sinfo -h -o %T 2>/dev/null | sort -u)" = idle ] && break; sleep 0.1; done
[ "$(sinfo -h -o %T | sort -u)" = idle ] || { sinfo -N -l; tail -20 "$S"/log/*.log; exit 1; }
lap "slurmctld+slurmd -> idle"
sinfo -N
printf '[up.sh] total %.2fs\n' "$(awk "BEGIN{print $(ts) - $T_START}")"
