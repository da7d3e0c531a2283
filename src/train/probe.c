/*
   The probe mode of wlm_mpi: the learned potential felt by a test particle.

   For a population X (a snapshot of the data) and a grid point g, the test
   particle joins the population with the same mass as the others,
   w = 1/(N + 1), and the probe records

     phi(g) = (U(X + g) - U(X)) / w        energy per unit mass of the test particle
     a(g)   = F_g / w                      its acceleration

   For an external potential phi is V(g) itself; for interacting models it is
   the landscape that the population creates around itself.  With d > 2 the
   grid spans the first two coordinates and the others are held at the mean of
   the population.  Grid rows are spread over the ranks.

   The population is snapshot -wlm_forecast_start of -wlm_data (the first
   training snapshot by default); -wlm_forecast_initial is rejected here.
   The probe runs with -wlm_ensemble_ranks 1 only, so every rank holds the
   whole snapshot with either -wlm_data_distribution.

   Output (HDF5): group /probe with x [nx], y [ny], potential [ny][nx],
   acceleration [ny][nx][d], population [N][d], attributes snapshot, time,
   weights ("raw" or "ema").
*/
#include <wlm/private/trainimpl.h>
#include <wlm/private/h5util.h>

/* Grid bounds: the options, or the bounding box of the population padded by 10% on each side. */
static PetscErrorCode ProbeBounds(WLMTrainer tr, const WLMSnapshot *snap, PetscReal bounds[4])
{
  PetscFunctionBeginUser;
  if (tr->probe_bounds_set) {
    PetscCall(PetscArraycpy(bounds, tr->probe_bounds, 4));
    PetscFunctionReturn(0);
  }
  bounds[0] = bounds[2] = PETSC_MAX_REAL;
  bounds[1] = bounds[3] = PETSC_MIN_REAL;
  for (PetscInt i = 0; i < snap->N; i++) {
    for (PetscInt k = 0; k < 2; k++) {
      bounds[2 * k]     = PetscMin(bounds[2 * k], snap->x[i * tr->dim + k]);
      bounds[2 * k + 1] = PetscMax(bounds[2 * k + 1], snap->x[i * tr->dim + k]);
    }
  }
  for (PetscInt k = 0; k < 2; k++) {
    PetscReal pad = 0.1 * (bounds[2 * k + 1] - bounds[2 * k]) + PETSC_SMALL;

    bounds[2 * k] -= pad;
    bounds[2 * k + 1] += pad;
  }
  PetscFunctionReturn(0);
}

/* Writes the probe file on rank 0. */
static PetscErrorCode WriteProbe(WLMTrainer tr, const WLMSnapshot *snap, PetscInt s, const PetscReal *gx, const PetscReal *gy, const PetscReal *phi, const PetscReal *acc)
{
  const PetscInt nx = tr->probe_grid[0], ny = tr->probe_grid[1];
  char           tmp[PETSC_MAX_PATH_LEN + 32];
  hid_t          file, group;
  hsize_t        dims[3];

  PetscFunctionBeginUser;
  PetscCall(WLMFileTemporaryName(tr->probe_output, tmp, sizeof(tmp)));
  WLMCallHDF5Return(file, tmp, H5Fcreate, (tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  PetscCall(WLMH5WriteAttributeString(file, "format", "wlm-probe"));
  WLMCallHDF5Return(group, "probe", H5Gcreate2, (file, "probe", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  PetscCall(WLMH5WriteAttributeInt(group, "snapshot", s));
  PetscCall(WLMH5WriteAttributeReal(group, "time", snap->t));
  PetscCall(WLMH5WriteAttributeString(group, "weights", tr->forecast_ema ? "ema" : "raw"));
  dims[0] = (hsize_t)nx;
  PetscCall(WLMH5WriteDatasetReal(group, "x", 1, dims, gx));
  dims[0] = (hsize_t)ny;
  PetscCall(WLMH5WriteDatasetReal(group, "y", 1, dims, gy));
  dims[0] = (hsize_t)ny;
  dims[1] = (hsize_t)nx;
  PetscCall(WLMH5WriteDatasetReal(group, "potential", 2, dims, phi));
  dims[2] = (hsize_t)tr->dim;
  PetscCall(WLMH5WriteDatasetReal(group, "acceleration", 3, dims, acc));
  dims[0] = (hsize_t)snap->N;
  dims[1] = (hsize_t)tr->dim;
  PetscCall(WLMH5WriteDatasetReal(group, "population", 2, dims, snap->x));
  WLMCallHDF5("probe", H5Gclose, (group));
  WLMCallHDF5(tmp, H5Fclose, (file));
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerProbe - Evaluates the potential and acceleration of a test particle on a 2-D grid around a snapshot and writes them.

  Collective (grid rows are spread over the ranks; rank 0 writes)
@*/
PetscErrorCode WLMTrainerProbe(WLMTrainer tr)
{
  MPI_Comm       comm = PetscObjectComm((PetscObject)tr);
  const PetscInt nx = tr->probe_grid[0], ny = tr->probe_grid[1], dim = tr->dim;
  PetscInt       s    = tr->forecast_start < 0 ? tr->train[0] : tr->forecast_start;
  PetscMPIInt    size, rank;
  WLMSnapshot    snap;
  PetscReal      bounds[4], *gx, *gy, *phi, *acc, *x, *F, *masses, U0, U, w, *mean;
  char           tmp[PETSC_MAX_PATH_LEN + 32];

  PetscFunctionBeginUser;
  PetscCall(WLMTrainerCheckWholePopulation(tr, "probe"));
  PetscCheck(!tr->forecast_initial[0], comm, PETSC_ERR_SUP, "The probe takes its population from -wlm_data; pick the snapshot with -wlm_forecast_start instead of -wlm_forecast_initial");
  PetscCheck(dim >= 2, comm, PETSC_ERR_SUP, "The probe grid needs at least 2 dimensions; the data has %" PetscInt_FMT, dim);
  PetscCheck(nx >= 2 && ny >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_probe_grid %" PetscInt_FMT ",%" PetscInt_FMT " is too small; use at least 2,2", nx, ny);
  PetscCheck(s >= 0 && s < tr->nsnap, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_forecast_start %" PetscInt_FMT " is out of range; the data has snapshots 0..%" PetscInt_FMT, s, tr->nsnap - 1);
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, s, &snap));
  PetscCall(ProbeBounds(tr, &snap, bounds));
  PetscCall(PetscMalloc4(nx, &gx, ny, &gy, nx * ny, &phi, nx * ny * dim, &acc));
  PetscCall(PetscMalloc4((snap.N + 1) * dim, &x, (snap.N + 1) * dim, &F, dim, &mean, snap.N + 1, &masses));
  for (PetscInt i = 0; i < nx; i++) gx[i] = bounds[0] + (bounds[1] - bounds[0]) * i / (nx - 1);
  for (PetscInt j = 0; j < ny; j++) gy[j] = bounds[2] + (bounds[3] - bounds[2]) * j / (ny - 1);
  PetscCall(PetscArrayzero(phi, nx * ny));
  PetscCall(PetscArrayzero(acc, nx * ny * dim));
  PetscCall(PetscArrayzero(mean, dim));
  for (PetscInt i = 0; i < snap.N; i++) for (PetscInt k = 0; k < dim; k++) mean[k] += snap.x[i * dim + k] / snap.N;

  /* energy of the population alone, then with the test particle at each grid point of this rank's rows */
  PetscCall(WLMAdamWGetAverage(tr->opt, tr->params, tr->avg));
  PetscCall(WLMTrainerApplyParameters(tr, tr->forecast_ema ? tr->avg : tr->params));
  w = 1.0 / (snap.N + 1);
  for (PetscInt i = 0; i <= snap.N; i++) masses[i] = w;
  PetscCall(PetscArraycpy(x, snap.x, snap.N * dim));
  PetscCall(WLMPotentialComputeEnergy(tr->pot, snap.t, snap.N, x, masses, &U0));
  for (PetscInt j = rank; j < ny; j += size) {
    for (PetscInt i = 0; i < nx; i++) {
      PetscReal *xg = x + snap.N * dim;

      for (PetscInt k = 0; k < dim; k++) xg[k] = mean[k];
      xg[0] = gx[i];
      xg[1] = gy[j];
      PetscCall(WLMPotentialComputeForces(tr->pot, snap.t, snap.N + 1, x, masses, &U, F));
      phi[j * nx + i] = (U - U0) / w;
      for (PetscInt k = 0; k < dim; k++) acc[(j * nx + i) * dim + k] = F[snap.N * dim + k] / w;
    }
  }
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, phi, (PetscMPIInt)(nx * ny), MPIU_REAL, MPIU_SUM, comm));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, acc, (PetscMPIInt)(nx * ny * dim), MPIU_REAL, MPIU_SUM, comm));
  if (rank == 0) PetscCall(WriteProbe(tr, &snap, s, gx, gy, phi, acc));
  PetscCall(WLMFileTemporaryName(tr->probe_output, tmp, sizeof(tmp)));
  PetscCall(WLMFileCommit(comm, tmp, tr->probe_output));
  PetscCall(PetscPrintf(comm, "Probe of the potential around snapshot %" PetscInt_FMT " on a %" PetscInt_FMT " x %" PetscInt_FMT " grid written to %s\n", s, nx, ny, tr->probe_output));
  PetscCall(PetscFree4(gx, gy, phi, acc));
  PetscCall(PetscFree4(x, F, mean, masses));
  PetscCall(WLMTrainerApplyParameters(tr, tr->params));
  PetscFunctionReturn(0);
}
