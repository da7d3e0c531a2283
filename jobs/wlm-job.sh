# shellcheck shell=bash
# Shell functions shared by the batch scripts in jobs/ (bash).  Sourcing this
# file defines functions and sets nothing else.
#
#   wlm_launch COMMAND...           run COMMAND, passing a stop signal on to it
#   wlm_train CONFIG [RUN_DIR] [OPTION...]
#                                   start, resume or skip one training run
#   wlm_requeue_if_stopped          requeue the job after a stop signal (WLM_REQUEUE=1)
#
# The stop signal: wlm_mpi handles SIGUSR1 or SIGTERM by writing checkpoint.h5
# at the end of the current step and exiting with status 0.  With
# "#SBATCH --signal=B:USR1@120" SLURM sends SIGUSR1 to this batch shell only,
# 120 s before the time limit; wlm_launch forwards it to srun (or mpirun), and
# both pass SIGUSR1 on to every rank.  At the time limit itself SLURM sends
# SIGTERM to every process of the job, which the ranks treat the same way.

# Runs COMMAND in the background and waits for it.  SIGUSR1 or SIGTERM
# received meanwhile is sent on as SIGUSR1 and sets WLM_STOP_SIGNAL=1.
# Returns the exit status of COMMAND.
wlm_launch() {
  local status
  WLM_STOP_SIGNAL=0
  "$@" &
  _wlm_child=$!
  trap _wlm_forward_stop USR1 TERM
  # A trapped signal interrupts "wait"; wait again until the child has exited.
  while :; do
    _wlm_interrupted=0
    wait "$_wlm_child" && status=0 || status=$?
    [ "$_wlm_interrupted" = 1 ] || break
  done
  trap - USR1 TERM
  return "$status"
}

_wlm_forward_stop() {
  _wlm_interrupted=1
  # shellcheck disable=SC2034 # read by the batch scripts after wlm_launch returns
  WLM_STOP_SIGNAL=1
  echo "wlm-job: received a stop signal; sending SIGUSR1 to PID $_wlm_child so that the run writes a checkpoint"
  kill -USR1 "$_wlm_child" 2>/dev/null || true
}

# After a run stopped on a signal: with WLM_REQUEUE=1 inside a SLURM job,
# requeue it (same job id, so the same run directory) unless it has already
# been requeued WLM_MAX_REQUEUE times (default 10).  Otherwise print how to
# continue by hand.
wlm_requeue_if_stopped() {
  local hint=$1 id
  if [ "${WLM_REQUEUE:-0}" = 1 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
    if [ "${SLURM_RESTART_COUNT:-0}" -ge "${WLM_MAX_REQUEUE:-10}" ]; then
      echo "wlm-job: not requeueing: the job was already requeued ${SLURM_RESTART_COUNT} times (WLM_MAX_REQUEUE)"
    else
      id=${SLURM_JOB_ID}
      [ -n "${SLURM_ARRAY_TASK_ID:-}" ] && id=${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}
      echo "wlm-job: requeueing job $id to continue from the checkpoint"
      scontrol requeue "$id"
      return
    fi
  fi
  echo "wlm-job: the run stopped with a checkpoint; continue it with: $hint"
}

# Runs wlm_mpi once on CONFIG with the extra OPTIONs (which override the file).
# RUN_DIR defaults to ${WLM_RUNS_DIR:-runs}/<config name>-<job id>; a second
# argument that does not start with "-" is taken as RUN_DIR.  What happens
# depends on what RUN_DIR contains:
#   model.h5         the run is finished: print so and return 0
#   checkpoint.h5    continue from it (-wlm_restart), e.g. after a stop signal
#   metrics.jsonl    an attempt died before its first checkpoint: start over
#   nothing          start
# Launcher: WLM_LAUNCHER (default "srun --mpi=pmix"; word-split).  Executable: WLM_MPI
# (default $WLM_ROOT/build/src/apps/wlm_mpi).  WLM_TEMPLATE names the batch
# script in the message that shows how to continue a stopped run.
wlm_train() {
  local config=$1 run_dir="" stem action status wlm_mpi
  local -a args launcher
  shift
  if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    run_dir=$1
    shift
  fi
  if [ ! -f "$config" ]; then
    echo "wlm-job: error: config file $config not found (relative paths start at $(pwd))" >&2
    return 2
  fi
  if [ -z "$run_dir" ]; then
    stem=$(basename "$config")
    run_dir=${WLM_RUNS_DIR:-runs}/${stem%.*}-${SLURM_JOB_ID:-local$$}
  fi
  wlm_mpi=${WLM_MPI:-$WLM_ROOT/build/src/apps/wlm_mpi}
  if [ ! -x "$wlm_mpi" ]; then
    echo "wlm-job: error: wlm_mpi not found at $wlm_mpi; build it (meson compile -C build) or set WLM_MPI" >&2
    return 2
  fi

  if [ -f "$run_dir/model.h5" ]; then
    echo "wlm-job: $run_dir is finished (it contains model.h5); nothing to do"
    return 0
  fi
  args=(-options_file "$config" "$@" -wlm_output "$run_dir")
  if [ -f "$run_dir/checkpoint.h5" ]; then
    args+=(-wlm_restart "$run_dir/checkpoint.h5")
    action="resume"
  elif [ -f "$run_dir/metrics.jsonl" ]; then
    args+=(-wlm_output_overwrite true)
    action="restart from step 0 (no checkpoint)"
  else
    action="start"
  fi
  mkdir -p "$run_dir"
  echo "$(date -Iseconds) job ${SLURM_JOB_ID:-none} on $(hostname): $action" >> "$run_dir/jobs.txt"

  read -r -a launcher <<< "${WLM_LAUNCHER:-srun --mpi=pmix}"
  echo "wlm-job: $action $run_dir: ${launcher[*]} $wlm_mpi ${args[*]}"
  wlm_launch "${launcher[@]}" "$wlm_mpi" "${args[@]}" && status=0 || status=$?

  if [ "$status" -eq 0 ] && [ ! -f "$run_dir/model.h5" ] && [ -f "$run_dir/checkpoint.h5" ]; then
    wlm_requeue_if_stopped "sbatch ${WLM_TEMPLATE:-jobs/train.sbatch} $config $run_dir $*"
  elif [ "$status" -ne 0 ]; then
    echo "wlm-job: error: wlm_mpi exited with status $status; see the messages above" >&2
  fi
  return "$status"
}
