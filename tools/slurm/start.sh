#!/bin/bash
# Start a one-node SLURM on localhost (munged, slurmctld, slurmd) without
# systemd, for testing the job scripts in jobs/.  Run as root.
#
#   tools/slurm/start.sh STATE_DIR [CTLD_PORT]
#
# Writes STATE_DIR/slurm.conf (from slurm.conf.in) and keeps every state,
# log and PID file in STATE_DIR.  Each daemon it starts is recorded as
# "name pid" in STATE_DIR/pids, so that tools/slurm/stop.sh STATE_DIR stops
# exactly those.  A munged that already responds is used and not recorded.  slurmd
# listens on CTLD_PORT + 1 (default ports 6817 and 6818).  Clients find this
# SLURM through the environment variable printed at the end:
#   export SLURM_CONF=STATE_DIR/slurm.conf
# Installs nothing: without the packages it exits with status 3 and the
# install command.  Exit status 1: a daemon did not come up (its log is
# printed); the PIDs recorded so far are still in STATE_DIR/pids.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ]; then
  echo "usage: $0 STATE_DIR [CTLD_PORT]" >&2
  exit 2
fi
mkdir -p "$1"
state=$(cd "$1" && pwd)
ctld_port=${2:-6817}
slurmd_port=$((ctld_port + 1))

missing=""
for program in slurmctld slurmd sinfo sbatch srun scontrol munged munge unmunge; do
  command -v "$program" >/dev/null || [ -x "/usr/sbin/$program" ] || missing="$missing $program"
done
if [ -n "$missing" ]; then
  echo "start.sh: error: SLURM is not installed (missing:$missing); install it as root with:" >&2
  echo "  WLM_WITH_SLURM=1 tools/install-deps.sh" >&2
  exit 3
fi
if [ "$(id -u)" != 0 ]; then
  echo "start.sh: error: the SLURM daemons of this test setup run as root; run start.sh as root" >&2
  exit 2
fi
PATH=$PATH:/usr/sbin
pids=$state/pids
: > "$pids"

# 1. Configuration: this host, its CPUs and 90% of the memory that slurmd -C reports.
host=$(hostname -s)
# getconf, not nproc: nproc honours OMP_NUM_THREADS, which test environments set to 1
cpus=$(getconf _NPROCESSORS_ONLN)
memory=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
memory=$((memory * 9 / 10))
mkdir -p "$state/ctld" "$state/spool"
sed -e "s|@HOST@|$host|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEMORY@|$memory|g" -e "s|@STATE@|$state|g" \
    -e "s|@CTLD_PORT@|$ctld_port|g" -e "s|@SLURMD_PORT@|$slurmd_port|g" \
    "$here/slurm.conf.in" > "$state/slurm.conf"
export SLURM_CONF=$state/slurm.conf

# 2. munge: the Debian package creates the key at install time.
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  echo "start.sh: using the munged that is already running"
else
  mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
  [ -s /etc/munge/munge.key ] || mungekey --create --force
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
  chmod 0700 /etc/munge
  chmod 0400 /etc/munge/munge.key
  chmod 0755 /run/munge
  # --force: without it munged does not start under a world-writable /tmp.
  runuser -u munge -- munged --force
  for _ in $(seq 1 50); do
    [ -s /run/munge/munged.pid ] && munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.2
  done
  echo "munged $(cat /run/munge/munged.pid)" >> "$pids"
  if ! munge -n | unmunge >/dev/null; then
    echo "start.sh: error: munged did not start; see /var/log/munge/munged.log" >&2
    exit 1
  fi
fi

# 3. slurmctld (-i: ignore state left by an earlier instance) and slurmd; both daemonize.
slurmctld -f "$SLURM_CONF" -i
slurmd -f "$SLURM_CONF"
for daemon in slurmctld slurmd; do
  for _ in $(seq 1 100); do
    [ -s "$state/$daemon.pid" ] && break
    sleep 0.1
  done
  if [ ! -s "$state/$daemon.pid" ]; then
    echo "start.sh: error: $daemon did not start; the end of $state/$daemon.log:" >&2
    tail -20 "$state/$daemon.log" >&2 || true
    exit 1
  fi
  echo "$daemon $(cat "$state/$daemon.pid")" >> "$pids"
done

# 4. Ready when the node reports idle.
for _ in $(seq 1 120); do
  [ "$(sinfo -h -N -o %t 2>/dev/null | head -1)" = "idle" ] && break
  sleep 0.5
done
if [ "$(sinfo -h -N -o %t 2>/dev/null | head -1)" != "idle" ]; then
  echo "start.sh: error: node $host did not become idle within 60 s; sinfo reports:" >&2
  sinfo -N >&2 || true
  tail -20 "$state/slurmctld.log" "$state/slurmd.log" >&2 || true
  exit 1
fi
sinfo
echo "started: $(tr '\n' ' ' < "$pids")"
echo "export SLURM_CONF=$SLURM_CONF"
