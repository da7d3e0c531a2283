/*
   Row checks shared by WLMSnapshotsLoad() and WLMSnapshotsAddSnapshot():
   finite positions and velocities, finite non-negative masses.  A rank scans
   its own rows.  The ranks then agree on the first bad row in file order, so
   that all of them raise the same error.
*/
#include "snapshotsimpl.h"
#include <math.h>

/*
  Scans n rows whose global index starts at firstrow and records the first
  bad value (row -1 when there is none).  Within a row the position is
  checked before the velocity and the mass.
*/
PetscErrorCode WLMSnapshotsFindBadValue(PetscInt dim, PetscInt64 n, PetscInt64 firstrow, const PetscReal x[], const PetscReal v[], const PetscReal w[], WLMSnapshotsBadValue *bad)
{
  PetscFunctionBeginUser;
  bad->row = -1;
  for (PetscInt64 i = 0; i < n; i++) {
    for (PetscInt c = 0; c < dim; c++) {
      if (!isfinite(x[i * dim + c])) {
        *bad = (WLMSnapshotsBadValue){firstrow + i, 0, c, x[i * dim + c]};
        PetscFunctionReturn(0);
      }
    }
    for (PetscInt c = 0; v && c < dim; c++) {
      if (!isfinite(v[i * dim + c])) {
        *bad = (WLMSnapshotsBadValue){firstrow + i, 1, c, v[i * dim + c]};
        PetscFunctionReturn(0);
      }
    }
    if (w && !(isfinite(w[i]) && w[i] >= 0)) {
      *bad = (WLMSnapshotsBadValue){firstrow + i, 2, 0, w[i]};
      PetscFunctionReturn(0);
    }
  }
  PetscFunctionReturn(0);
}

/*
  Collective: replaces each rank's finding by the first bad row over all
  ranks (the lowest row, then the lowest dataset), with the column and value
  broadcast from the lowest rank that found it.
*/
PetscErrorCode WLMSnapshotsAgreeOnBadValue(MPI_Comm comm, WLMSnapshotsBadValue *bad)
{
  PetscInt64  key = bad->row >= 0 ? 3 * bad->row + bad->dataset : INT64_MAX, first;
  PetscMPIInt rank, size, candidate, owner;
  PetscReal   detail[2] = {(PetscReal)bad->column, bad->value};

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(MPIU_Allreduce(&key, &first, 1, MPIU_INT64, MPI_MIN, comm));
  if (first == INT64_MAX) {
    bad->row = -1;
    PetscFunctionReturn(0);
  }
  candidate = key == first ? rank : size;
  PetscCall(MPIU_Allreduce(&candidate, &owner, 1, MPI_INT, MPI_MIN, comm));
  PetscCallMPI(MPI_Bcast(detail, 2, MPIU_REAL, owner, comm));
  bad->row     = first / 3;
  bad->dataset = (PetscInt)(first % 3);
  bad->column  = (PetscInt)detail[0];
  bad->value   = detail[1];
  PetscFunctionReturn(0);
}
