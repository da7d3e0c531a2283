/*
   Free-space check of the output directory before training starts.  The
   estimate of the bytes a run writes is

     2 checkpoints  (the previous one stays until the new one is complete)
                    of 6 nparams doubles each (params, m, v, ema, and the
                    raw and averaged weights of /model)
   + model.h5       2 nparams doubles
   + predictions    2 files of every evaluated snapshot's positions and
                    velocities, at most nsnap * max_count * dim doubles each
   + 1 MiB          options, metrics.jsonl and HDF5 metadata

   plus the user's reserve -wlm_output_reserve.  The estimate ignores HDF5
   overheads beyond the 1 MiB and files written by other jobs meanwhile, so
   passing the check does not guarantee that every write succeeds.  A failed
   checkpoint write still keeps the previous checkpoint (checkpoint.c).
*/
#define _POSIX_C_SOURCE 200809L /* statvfs under -std=c11 */
#include <wlm/private/trainimpl.h>
#include <errno.h>
#include <sys/statvfs.h>

/* Estimated bytes the run writes into its output directory (see the file header). */
static double EstimateOutputBytes(WLMTrainer tr)
{
  const double real = sizeof(double);
  const double checkpoint = 6.0 * tr->nparams * real;
  const double model = 2.0 * tr->nparams * real;
  const double predictions = 2.0 * 2.0 * tr->nsnap * tr->max_count * tr->dim * real;

  return 2.0 * checkpoint + model + predictions + 1048576.0;
}

/*@C
  WLMTrainerCheckOutputSpace - Fails when the output directory has less free space than the run is estimated to write.

  Collective (rank 0 queries the file system)
@*/
PetscErrorCode WLMTrainerCheckOutputSpace(WLMTrainer tr)
{
  MPI_Comm       comm = PetscObjectComm((PetscObject)tr);
  PetscMPIInt    rank;
  struct statvfs fs;
  double         info[2] = {0, 0}; /* free bytes, errno of statvfs */
  double         needed;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    if (statvfs(tr->output, &fs) == 0) info[0] = (double)fs.f_bavail * (double)fs.f_frsize;
    else info[1] = errno;
  }
  PetscCallMPI(MPI_Bcast(info, 2, MPI_DOUBLE, 0, comm));
  PetscCheck(info[1] == 0, comm, PETSC_ERR_FILE_OPEN, "Cannot query the free space of output directory \"%s\": %s", tr->output, strerror((int)info[1]));
  needed = EstimateOutputBytes(tr) + tr->output_reserve_mb * 1048576.0;
  PetscCheck(info[0] >= needed, comm, PETSC_ERR_MEM,
             "Output directory \"%s\" has %.1f MiB free but this run needs about %.1f MiB (checkpoints, model, predictions and the -wlm_output_reserve of %g MiB). Free space there or choose another -wlm_output",
             tr->output, info[0] / 1048576.0, needed / 1048576.0, (double)tr->output_reserve_mb);
  PetscFunctionReturn(0);
}
