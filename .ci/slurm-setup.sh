#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine (for tests and CI).
#
# Installs Debian's slurm-wlm and munge (apt), writes a slurm.conf whose only
# node is this host (CPUs from nproc, RealMemory from free) in the partition
# 'debug', creates a munge key, starts munged, slurmctld and slurmd, and waits
# until `sinfo` shows the node idle. Idempotent: a running, healthy cluster is
# left alone. Needs root (or passwordless sudo). Exits non-zero with a reason
# on the last line when SLURM cannot be started.
#
# Environment:
#   SLURM_SETUP_TIMEOUT  seconds to wait for the node to become idle (60)
#   SLURM_SETUP_LOG      where the daemons log (/var/log/slurm)
set -euo pipefail

TIMEOUT=${SLURM_SETUP_TIMEOUT:-60}
LOGDIR=${SLURM_SETUP_LOG:-/var/log/slurm}
CONF=/etc/slurm/slurm.conf
export PATH="$PATH:/usr/sbin:/sbin"

say() { echo "slurm-setup: $*"; }
fail() { echo "slurm-setup: FAILED: $*" >&2; exit 1; }

node_state() {
    # State of this host's node as sinfo reports it ('' if sinfo does not answer).
    timeout 10 sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n1 | tr -d '*~#!%$@^-'  || true
}

NODE=$(hostname -s)

if command -v sinfo >/dev/null 2>&1; then
    state=$(node_state)
    case "$state" in
        idle|mixed|allocated|completing) say "already running: node $NODE is $state"; exit 0 ;;
    esac
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    fail "needs root or passwordless sudo to install and start slurm (running as $(id -un))"
fi
as_root() { "${SUDO[@]}" "$@"; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
            && command -v munged >/dev/null && command -v sinfo >/dev/null; then
        return
    fi
    command -v apt-get >/dev/null || fail "apt-get not found: install slurm-wlm and munge by hand"
    say "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq >/dev/null || fail "apt-get update failed (no network or no apt source?)"
    as_root apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null \
        || fail "apt-get install slurm-wlm munge failed"
}

write_config() {
    local cpus mem_mb
    cpus=$(nproc)
    # RealMemory: total MB minus a little for the OS, so slurmd's check passes.
    mem_mb=$(free -m | awk '/^Mem:/ {print int($2 * 0.95)}')
    as_root mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd "$LOGDIR" /run/slurm
    as_root tee "$CONF" >/dev/null <<EOF
# Written by simpipe .ci/slurm-setup.sh: a one-node cluster for tests.
ClusterName=simpipe
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=60
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP DefMemPerCPU=$((mem_mb / cpus))
EOF
    say "wrote $CONF (node $NODE, $cpus CPUs, ${mem_mb} MB)"
}

start_munge() {
    if [ ! -s /etc/munge/munge.key ]; then
        as_root mkdir -p /etc/munge
        as_root dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        say "created /etc/munge/munge.key"
    fi
    local owner=root
    id munge >/dev/null 2>&1 && owner=munge
    as_root mkdir -p /run/munge /var/lib/munge /var/log/munge
    as_root chown "$owner:" /etc/munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge
    as_root chmod 700 /etc/munge /var/lib/munge /var/log/munge
    as_root chmod 400 /etc/munge/munge.key
    as_root chmod 755 /run/munge
    if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        local pid
        pid=$(cat /run/munge/munged.pid 2>/dev/null || true)
        [ -n "$pid" ] && as_root kill "$pid" 2>/dev/null && sleep 1 || true
        if [ "$owner" = munge ]; then
            as_root runuser -u munge -- munged --force || fail "munged did not start"
        else
            as_root munged --force || fail "munged did not start"
        fi
        sleep 1
    fi
    munge -n | unmunge >/dev/null 2>&1 || fail "munge does not work (munge -n | unmunge failed)"
    say "munged is running"
}

start_daemon() {
    local name=$1; shift
    local pidfile=/run/slurm/$name.pid
    if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        say "$name already running (pid $(cat "$pidfile")); reconfiguring"
        return 0
    fi
    as_root "$name" "$@" || fail "$name did not start; see $LOGDIR/$name.log"
}

wait_idle() {
    local state="" waited=0
    while [ "$waited" -lt "$TIMEOUT" ]; do
        state=$(node_state)
        case "$state" in
            idle|mixed|allocated|completing) say "node $NODE is $state"; sinfo; return 0 ;;
            down|drained|drain|fail) as_root scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true ;;
        esac
        sleep 1
        waited=$((waited + 1))
    done
    tail -n 20 "$LOGDIR/slurmctld.log" "$LOGDIR/slurmd.log" >&2 2>/dev/null || true
    fail "node $NODE did not become idle in ${TIMEOUT}s (last state: '${state:-no answer}')"
}

install_packages
write_config
start_munge
start_daemon slurmctld
start_daemon slurmd
as_root scontrol reconfigure >/dev/null 2>&1 || true
wait_idle
