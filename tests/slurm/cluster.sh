# cluster.sh: a private single-node Slurm for the tests (sourced): munged, slurmctld and slurmd
# from Debian's packages (slurm-wlm, munge), every file of theirs in one directory, on ports of
# their own, so that it neither needs nor touches a system Slurm.
#
#   cluster_start DIR   starts it and exports SLURM_CONF; on failure returns 1 with the reason
#                       in $cluster_why (the caller skips: a machine without Slurm is no failure)
#   cluster_stop        stops every daemon cluster_start started

cluster_dir=
cluster_why=

cluster_start() {
  cluster_dir=$1
  for c in munged slurmctld slurmd sbatch squeue scontrol scancel sinfo; do
    command -v "$c" >/dev/null 2>&1 ||
      { cluster_why="$c is not installed (Debian: slurm-wlm, munge)"; return 1; }
  done
  [ "$(id -u)" = 0 ] || { cluster_why="slurmd must run as root to start jobs"; return 1; }
  mkdir -p "$cluster_dir/state" "$cluster_dir/spool" || return 1
  head -c 1024 /dev/urandom > "$cluster_dir/munge.key" && chmod 600 "$cluster_dir/munge.key"
  munged --force --socket="$cluster_dir/munge.sock" --key-file="$cluster_dir/munge.key" \
    --pid-file="$cluster_dir/munged.pid" --log-file="$cluster_dir/munged.log" \
    --seed-file="$cluster_dir/munge.seed" 2>"$cluster_dir/munged.err" ||
    { cluster_why="munged does not start: $(tail -n 1 "$cluster_dir/munged.err")"; return 1; }
  host=$(hostname -s)
  port=$((20000 + ($$ % 20000) * 2))
  mem=$(awk '/^MemTotal:/ { print int($2 / 1024 * 0.8) }' /proc/meminfo)
  cat > "$cluster_dir/slurm.conf" <<CONF
ClusterName=lorenstest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$cluster_dir/munge.sock
CryptoType=crypto/munge
StateSaveLocation=$cluster_dir/state
SlurmdSpoolDir=$cluster_dir/spool
SlurmctldPidFile=$cluster_dir/slurmctld.pid
SlurmdPidFile=$cluster_dir/slurmd.pid
SlurmctldLogFile=$cluster_dir/slurmctld.log
SlurmdLogFile=$cluster_dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
# Small, so that the tests see a submission split into several arrays.
MaxArraySize=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$cluster_dir/slurm.conf"
  slurmctld -f "$SLURM_CONF" 2>"$cluster_dir/slurmctld.err" ||
    { cluster_why="slurmctld does not start: $(tail -n 1 "$cluster_dir/slurmctld.err")"; return 1; }
  slurmd -f "$SLURM_CONF" 2>"$cluster_dir/slurmd.err" ||
    { cluster_why="slurmd does not start: $(tail -n 1 "$cluster_dir/slurmd.err")"; return 1; }
  for _ in $(seq 1 60); do
    case $(sinfo -h -o %t 2>/dev/null) in idle*) return 0 ;; esac
    sleep 0.5
  done
  cluster_why="the node never became idle: $(tail -n 2 "$cluster_dir/slurmctld.log" | tr '\n' ' ')"
  return 1
}

cluster_stop() {
  [ -n "$cluster_dir" ] || return 0
  # Jobs first: their processes outlive slurmd.
  scancel --full --partition=test 2>/dev/null && sleep 1
  for d in slurmd slurmctld munged; do
    [ -f "$cluster_dir/$d.pid" ] && kill "$(cat "$cluster_dir/$d.pid")" 2>/dev/null
  done
  for d in slurmd slurmctld munged; do
    [ -f "$cluster_dir/$d.pid" ] || continue
    pid=$(cat "$cluster_dir/$d.pid")
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  cluster_dir=
}
