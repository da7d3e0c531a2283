/*
   The evaluate and forecast modes of wlm_mpi, which work from a checkpoint.

   evaluate  scores the checkpoint's current and averaged weights on the
             protocol given by the options and writes the predictions
   forecast  rolls an initial population out to a list of times with one set
             of weights and writes the predicted snapshots, velocities
             included; the population is a snapshot of -wlm_data (with the
             velocities of -wlm_velocity) or the first snapshot of
             -wlm_forecast_initial (with its velocities, or zero)

   The forecast integrates the whole population on every rank, so it runs
   with -wlm_ensemble_ranks 1 only; each group is then one rank, which holds
   every row of the data with either -wlm_data_distribution.
*/
#include <wlm/private/trainimpl.h>

/*@
  WLMTrainerEvaluateCheckpoint - Evaluates the loaded checkpoint, writes metrics and predictions and prints the summary.

  Collective
@*/
PetscErrorCode WLMTrainerEvaluateCheckpoint(WLMTrainer tr)
{
  PetscFunctionBeginUser;
  PetscCall(WLMTrainerCheckEvaluationSize(tr));
  PetscCall(WLMTrainerOpenOutput(tr));
  PetscCall(WLMTrainerComputeBaselines(tr));
  PetscCall(WLMTrainerEvaluate(tr, PETSC_TRUE));
  PetscCall(WLMTrainerPrintSummary(tr));
  PetscFunctionReturn(0);
}

/* The initial population: positions x [n][dim] and velocities v, from the data or from -wlm_forecast_initial. */
static PetscErrorCode LoadInitialPopulation(WLMTrainer tr, PetscInt *n, PetscReal *t0, PetscReal **x, PetscReal **v)
{
  MPI_Comm     comm = PetscObjectComm((PetscObject)tr);
  WLMSnapshots init;
  WLMSnapshot  snap;
  PetscInt     dim, s;

  PetscFunctionBeginUser;
  if (tr->forecast_initial[0]) {
    PetscCall(WLMSnapshotsCreate(comm, &init));
    PetscCall(WLMSnapshotsSetDistribution(init, WLM_SNAPSHOTS_REPLICATED));
    PetscCall(WLMSnapshotsLoad(init, tr->forecast_initial));
    PetscCall(WLMSnapshotsGetDimension(init, &dim));
    PetscCheck(dim == tr->dim, comm, PETSC_ERR_ARG_SIZ, "-wlm_forecast_initial \"%s\" has dimension %" PetscInt_FMT " but the model was trained in dimension %" PetscInt_FMT, tr->forecast_initial, dim, tr->dim);
    PetscCall(WLMSnapshotsGetSnapshot(init, 0, &snap));
    *n  = snap.N;
    *t0 = snap.t;
    PetscCall(PetscMalloc2(snap.N * dim, x, snap.N * dim, v));
    PetscCall(PetscArraycpy(*x, snap.x, snap.N * dim));
    if (snap.v) PetscCall(PetscArraycpy(*v, snap.v, snap.N * dim));
    else PetscCall(PetscArrayzero(*v, snap.N * dim));
    PetscCall(WLMSnapshotsDestroy(&init));
    PetscFunctionReturn(0);
  }
  s = tr->forecast_start < 0 ? tr->train[0] : tr->forecast_start;
  PetscCheck(s < tr->nsnap, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_forecast_start %" PetscInt_FMT " is out of range; the data has snapshots 0..%" PetscInt_FMT, s, tr->nsnap - 1);
  PetscCheck(tr->v0[s], comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_forecast_start %" PetscInt_FMT " is not a training snapshot, so it has no velocity estimate; start from a training snapshot or pass -wlm_forecast_initial", s);
  PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, s, &snap));
  *n  = snap.N;
  *t0 = snap.t;
  PetscCall(PetscMalloc2(snap.N * tr->dim, x, snap.N * tr->dim, v));
  PetscCall(PetscArraycpy(*x, snap.x, snap.N * tr->dim));
  PetscCall(PetscArraycpy(*v, tr->v0[s], snap.N * tr->dim));
  PetscFunctionReturn(0);
}

/* Output times: -wlm_forecast_times, or the times of the data's snapshots after t0. */
static PetscErrorCode ForecastTimes(WLMTrainer tr, PetscReal t0, PetscInt *ntimes, PetscReal **times)
{
  MPI_Comm comm = PetscObjectComm((PetscObject)tr);
  PetscInt n    = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(PetscMax(tr->nforecast_times, tr->nsnap), times));
  if (tr->nforecast_times) {
    for (PetscInt i = 0; i < tr->nforecast_times; i++) {
      PetscCheck(tr->forecast_times[i] > (i ? tr->forecast_times[i - 1] : t0), comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_forecast_times must increase and start after the initial time %g; entry %" PetscInt_FMT " is %g", (double)t0, i, (double)tr->forecast_times[i]);
      (*times)[n++] = tr->forecast_times[i];
    }
  } else {
    for (PetscInt s = 0; s < tr->nsnap; s++) if (tr->times[s] > t0) (*times)[n++] = tr->times[s];
  }
  PetscCheck(n > 0, comm, PETSC_ERR_USER_INPUT, "No output time after the initial time %g; pass -wlm_forecast_times", (double)t0);
  *ntimes = n;
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerForecast - Rolls the initial population out to the forecast times and writes the predicted snapshots.

  Collective (every rank integrates; rank 0 writes)
@*/
PetscErrorCode WLMTrainerForecast(WLMTrainer tr)
{
  PetscMPIInt  rank;
  PetscInt     n = 0, ntimes = 0;
  PetscReal    t0 = 0, *x = NULL, *v = NULL, *times = NULL, **X, **V;
  WLMSnapshots out;
  char         path[PETSC_MAX_PATH_LEN + 32];

  PetscFunctionBeginUser;
  PetscCall(WLMTrainerCheckWholePopulation(tr, "forecast"));
  PetscCallMPI(MPI_Comm_rank(PetscObjectComm((PetscObject)tr), &rank));
  PetscCall(LoadInitialPopulation(tr, &n, &t0, &x, &v));
  PetscCall(ForecastTimes(tr, t0, &ntimes, &times));
  PetscCall(PetscMalloc2(ntimes, &X, ntimes, &V));
  for (PetscInt m = 0; m < ntimes; m++) PetscCall(PetscMalloc2(n * tr->dim, &X[m], n * tr->dim, &V[m]));

  PetscCall(WLMAdamWGetAverage(tr->opt, tr->params, tr->avg));
  PetscCall(WLMTrainerApplyParameters(tr, tr->forecast_ema ? tr->avg : tr->params));
  PetscCall(WLMDynamicsRolloutForward(tr->dyn, n, NULL, t0, x, v, ntimes, times, X, V));

  PetscCall(PetscStrncpy(path, tr->forecast_output, sizeof(path)));
  if (rank == 0) {
    PetscCall(WLMSnapshotsCreate(PETSC_COMM_SELF, &out));
    PetscCall(WLMSnapshotsSetDimension(out, tr->dim));
    PetscCall(WLMSnapshotsAddSnapshot(out, t0, n, x, v, NULL, NULL));
    for (PetscInt m = 0; m < ntimes; m++) PetscCall(WLMSnapshotsAddSnapshot(out, times[m], n, X[m], V[m], NULL, NULL));
    PetscCall(WLMSnapshotsSetAttribute(out, "prediction_weights", tr->forecast_ema ? "ema" : "raw"));
    PetscCall(WLMSnapshotsSetAttribute(out, "source", tr->forecast_initial[0] ? tr->forecast_initial : tr->data_file));
    PetscCall(WLMSnapshotsSave(out, path));
    PetscCall(WLMSnapshotsDestroy(&out));
  }
  PetscCall(PetscPrintf(PetscObjectComm((PetscObject)tr), "Forecast of %" PetscInt_FMT " particles from t = %g to %" PetscInt_FMT " times written to %s (first snapshot: the initial population)\n", n, (double)t0, ntimes, path));

  for (PetscInt m = 0; m < ntimes; m++) PetscCall(PetscFree2(X[m], V[m]));
  PetscCall(PetscFree2(X, V));
  PetscCall(PetscFree(times));
  PetscCall(PetscFree2(x, v));
  PetscCall(WLMTrainerApplyParameters(tr, tr->params));
  PetscFunctionReturn(0);
}
