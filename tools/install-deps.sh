#!/bin/sh
# Install the Debian 12 packages that wlm's build, tests and tools need.
#
# Run as root (no sudo needed).  Idempotent: when every package is already
# installed it changes nothing and does not contact the package mirror.
# Set WLM_WITH_SLURM=1 to add the SLURM daemons used by the SLURM test.
set -eu

packages="gcc git meson ninja-build pkg-config
  petsc-dev libopenmpi-dev openmpi-bin libhdf5-openmpi-dev check libopenblas-dev
  python3 python3-numpy python3-h5py python3-matplotlib python3-scipy python3-pot
  clang libclang-rt-14-dev"
if [ "${WLM_WITH_SLURM:-0}" = 1 ]; then
  packages="$packages slurmctld slurmd slurm-client munge"
fi

missing=""
for p in $packages; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "install-deps: all packages are installed"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing packages:$missing; run this script as root to install them" >&2
  exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
