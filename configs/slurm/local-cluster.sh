#!/usr/bin/env bash
# A throwaway single-node Slurm cluster (slurmctld + slurmd + munge) in a scratch folder, to try
# the job-array scripts of this folder on one machine, and for tests/cli_slurm.rs.
#
# Usage: bash configs/slurm/local-cluster.sh start DIR   writes DIR/slurm.conf, starts the
#                                                         daemons, waits until the node is idle,
#                                                         prints `export SLURM_CONF=DIR/slurm.conf`
#        bash configs/slurm/local-cluster.sh stop DIR    stops the daemons it started
# Needs root and Debian's slurmctld, slurmd, slurm-client and munge packages
# (`bash scripts/setup.sh --test` installs them). Jobs run as root, without cgroups. Each
# cluster has its own munged (socket and key in DIR) and ports (VELPRIOR_SLURMCTLD_PORT and
# VELPRIOR_SLURMD_PORT, default 6817 and 6818), so several can run side by side.
set -euo pipefail

cmd=${1:?usage: local-cluster.sh start|stop DIR}
dir=${2:?usage: local-cluster.sh start|stop DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

stop() {
    local pids=() p
    for name in slurmd slurmctld munged; do
        if [ -f "$dir/$name.pid" ]; then
            p=$(cat "$dir/$name.pid")
            kill "$p" 2>/dev/null && pids+=("$p")
            rm -f "$dir/$name.pid"
        fi
    done
    # Wait (up to 10 s) until they are gone or zombies, so DIR can be deleted.
    for _ in $(seq 100); do
        local alive=0
        for p in "${pids[@]}"; do
            case "$(ps -o stat= -p "$p" 2>/dev/null)" in "" | Z*) ;; *) alive=1 ;; esac
        done
        [ "$alive" = 0 ] && return 0
        sleep 0.1
    done
}

if [ "$cmd" = stop ]; then
    stop
    exit 0
fi
[ "$cmd" = start ] || { echo "local-cluster.sh: unknown command $cmd (start|stop)" >&2; exit 2; }
for tool in slurmctld slurmd sbatch munged; do
    command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin"
    command -v "$tool" >/dev/null 2>&1 || {
        echo "local-cluster.sh: $tool not found; install slurmctld slurmd slurm-client munge" >&2
        exit 1
    }
done

host=$(hostname -s)
mkdir -p "$dir/state" "$dir/spool"
cat > "$dir/slurm.conf" <<CONF
ClusterName=velprior-local
SlurmctldHost=$host
SlurmctldPort=${VELPRIOR_SLURMCTLD_PORT:-6817}
SlurmdPort=${VELPRIOR_SLURMD_PORT:-6818}
AuthType=auth/munge
AuthInfo=socket=$dir/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF="$dir/slurm.conf"

# This cluster's own munged (root needs --force), key and socket in DIR.
[ -s "$dir/munge.key" ] || dd if=/dev/urandom of="$dir/munge.key" bs=1 count=1024 2>/dev/null
chmod 0400 "$dir/munge.key"
munged --foreground --force --socket="$dir/munge.socket" --key-file="$dir/munge.key" \
    --seed-file="$dir/munge.seed" --pid-file="$dir/munge.pidfile" --log-file="$dir/munged.log" \
    </dev/null >/dev/null 2>&1 &
echo $! > "$dir/munged.pid"
for _ in $(seq 50); do
    munge -S "$dir/munge.socket" -n 2>/dev/null | unmunge -S "$dir/munge.socket" >/dev/null 2>&1 && break
    sleep 0.1
done
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 100); do
    state=$(sinfo -h -o %t 2>/dev/null || true)
    [ "$state" = idle ] && { echo "export SLURM_CONF=$SLURM_CONF"; exit 0; }
    sleep 0.2
done
echo "local-cluster.sh: the node did not come up (state '${state:-none}'); see $dir/*.log" >&2
stop
exit 1
