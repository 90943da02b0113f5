#!/usr/bin/env bash
# A real single-node SLURM on this machine, for CI and local tests.
#
#   bash scripts/slurm_local.sh [start]   install slurm-wlm + munge if missing, write
#                                         /etc/slurm/slurm.conf, start munged, slurmctld,
#                                         slurmd (no systemd), wait until the node is idle
#   bash scripts/slurm_local.sh stop      kill the daemons by PID file, remove config + state
#   bash scripts/slurm_local.sh status    print `sinfo` (exit 1 if no node is idle)
#
# Mode A of ../shared/slurm/NOTES.md: no accounting database (no slurmdbd). Snakemake must
# therefore poll with `--slurm-status-command squeue` (profiles/slurm-local does), or it hangs.
# Needs root and Debian/Ubuntu (apt). Partition: `debug`. Everything talks over 127.0.0.1.
#
# Environment: SLURM_LOCAL_TIMEOUT (seconds to wait for the idle node, default 60),
#              SLURM_LOCAL_MEM_FRACTION (share of detected memory given to SLURM, default 85).
set -euo pipefail

ACTION=${1:-start}
TIMEOUT=${SLURM_LOCAL_TIMEOUT:-60}
MEM_PCT=${SLURM_LOCAL_MEM_FRACTION:-85}
CONF=/etc/slurm/slurm.conf
ROOT=/var/lib/slurm-local            # spool + logs of this script (removed by `stop`)
RUN=/run/slurm-local                 # PID files
MUNGE_RUN=/run/munge
MUNGE_PID=$MUNGE_RUN/munged.pid
CTLD_PID=$RUN/slurmctld.pid
SLURMD_PID=$RUN/slurmd.pid
LOGS=("$ROOT/log/slurmctld.log" "$ROOT/log/slurmd.log" /var/log/munge/munged.log)

say() { echo "slurm_local: $*"; }
die() { echo "slurm_local: ERROR: $*" >&2; exit 1; }

alive() {  # alive PIDFILE: true if the PID in the file is a running SLURM/munge daemon
    our_pid "$1" >/dev/null
}

dump_logs() {
    local f
    for f in "${LOGS[@]}"; do
        [[ -f $f ]] || continue
        echo "----- tail of $f -----" >&2
        grep -v 'pmix\|MPI: Cannot create' "$f" | tail -n 25 >&2
    done
    command -v sinfo >/dev/null && { echo "----- sinfo -----" >&2; sinfo -N -l >&2 || true; }
}

node_idle() {  # exit 0 when at least one node reports idle
    sinfo -h -N -o '%T' 2>/dev/null | grep -qx 'idle'
}

install_packages() {
    local need=0 f
    for f in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/bin/sinfo /usr/bin/sbatch /usr/sbin/munged; do
        [[ -x $f ]] || need=1
    done
    ((need)) || return 0
    [[ $(id -u) == 0 ]] || die "installing slurm-wlm/munge needs root"
    command -v apt-get >/dev/null || die "slurm-wlm/munge missing and no apt-get to install them"
    # The package scripts must not try to start the daemons (no systemd here): deny them.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
    fi
    local log=/tmp/slurm_local_apt.log
    local apt=(apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 slurm-wlm munge)
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" >"$log" 2>&1; then
        apt-get update -qq >>"$log" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive "${apt[@]}" >>"$log" 2>&1 || {
            ((own_policy)) && rm -f "$policy"
            tail -n 30 "$log" >&2
            die "apt-get install slurm-wlm munge failed (log: $log)"
        }
    fi
    ((own_policy)) && rm -f "$policy"
    say "installed $(dpkg-query -W -f='slurm-wlm ${Version}' slurm-wlm 2>/dev/null)"
}

write_conf() {
    local host node cpus boards sockets cores threads mem
    host=$(hostname -s)
    # `slurmd -C` reports the hardware and works without a slurm.conf.
    node=$(/usr/sbin/slurmd -C | head -n 1)
    get() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$node"; }
    cpus=$(get CPUs) boards=$(get Boards) sockets=$(get SocketsPerBoard)
    cores=$(get CoresPerSocket) threads=$(get ThreadsPerCore) mem=$(get RealMemory)
    [[ -n $cpus && -n $mem ]] || die "cannot parse \`slurmd -C\`: $node"
    # RealMemory above what slurmd detects drains the node: give SLURM a share of it.
    mem=$((mem * MEM_PCT / 100))
    mkdir -p /etc/slurm
    cat >"$CONF" <<EOF
# Written by scripts/slurm_local.sh: single-node CI cluster, no accounting (mode A).
ClusterName=local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
# MinJobAge must stay >= 3 x --slurm-init-seconds-before-status-checks, or the plugin
# silently falls back to sacct (which fails without accounting) and hangs.
MinJobAge=300
DefMemPerCPU=$((mem / cpus))
StateSaveLocation=$ROOT/ctld
SlurmdSpoolDir=$ROOT/d
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$ROOT/log/slurmctld.log
SlurmdLogFile=$ROOT/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus Boards=${boards:-1} SocketsPerBoard=${sockets:-1} CoresPerSocket=${cores:-$cpus} ThreadsPerCore=${threads:-1} RealMemory=$mem State=UNKNOWN
PartitionName=debug Default=YES Nodes=ALL MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    alive "$MUNGE_PID" && return 0
    mkdir -p "$MUNGE_RUN" /var/log/munge /var/lib/munge /etc/munge
    chown munge:munge "$MUNGE_RUN" /var/log/munge /var/lib/munge
    chmod 0755 "$MUNGE_RUN"
    if [[ ! -s /etc/munge/munge.key ]]; then
        mungekey --create --keyfile=/etc/munge/munge.key >/dev/null 2>&1 \
            || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    rm -f "$MUNGE_RUN"/munge.socket.2* "$MUNGE_PID"
    runuser -u munge -- /usr/sbin/munged --pid-file="$MUNGE_PID" \
        || { dump_logs; die "munged failed to start"; }
}

start() {
    [[ $(id -u) == 0 ]] || die "must run as root"
    local t0=$SECONDS
    install_packages
    if alive "$CTLD_PID" && alive "$SLURMD_PID" && alive "$MUNGE_PID" && [[ -f $CONF ]]; then
        if node_idle; then say "already running: node idle, partition debug"; return 0; fi
    else
        # a partial or stale set of daemons: start from a clean state
        stop_daemons
        write_conf
        mkdir -p "$ROOT/ctld" "$ROOT/d" "$ROOT/log" "$RUN"
        start_munge
        /usr/sbin/slurmctld -c || { dump_logs; die "slurmctld failed to start"; }
        /usr/sbin/slurmd || { dump_logs; die "slurmd failed to start"; }
    fi
    local deadline=$((SECONDS + TIMEOUT))
    until node_idle; do
        if ((SECONDS >= deadline)); then
            dump_logs
            die "no idle node after ${TIMEOUT}s (see logs above; stop with: bash $0 stop)"
        fi
        if ! alive "$CTLD_PID" || ! alive "$SLURMD_PID"; then
            sleep 1; dump_logs; die "a SLURM daemon exited during start-up"
        fi
        sleep 0.5
    done
    say "node $(hostname -s) idle, partition debug ($(sinfo -h -o '%c CPUs, %m MB' | head -n 1)), ready in $((SECONDS - t0))s"
}

our_pid() {  # our_pid FILE: print the PID in FILE if it is a live slurmd/slurmctld/munged
    local pid
    [[ -s $1 ]] || return 1
    pid=$(cat "$1")
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) =~ ^(slurmd|slurmctld|munged)$ ]] || return 1
    echo "$pid"
}

kill_pidfiles() {  # kill_pidfiles FILE...: TERM all, wait up to 10 s, then KILL
    local f pid pids=() i
    for f in "$@"; do
        pid=$(our_pid "$f") && pids+=("$pid")
    done
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for i in $(seq 1 100); do
        local left=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
        ((left)) || break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    done
    rm -f "$@"
}

stop_daemons() {
    # cancel what is still queued or running on this cluster, so no job outlives it
    if alive "$CTLD_PID"; then
        squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null || true
    fi
    kill_pidfiles "$SLURMD_PID" "$CTLD_PID"
    kill_pidfiles "$MUNGE_PID"
}

stop() {
    stop_daemons
    rm -rf "$ROOT" "$RUN" "$CONF"
    say "stopped"
}

case $ACTION in
    start) start ;;
    stop) stop ;;
    status) sinfo -N -l; node_idle ;;
    *) die "usage: $0 [start|stop|status]" ;;
esac
