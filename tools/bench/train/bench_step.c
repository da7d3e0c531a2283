static char help[] = "Time of one training step of WLMTrainer, without evaluation or output.\n\
Options:\n\
  -bench_steps <3>    timed optimizer steps, after one untimed warm-up step\n\
  -wlm_data FILE and every trainer option (-wlm_ensemble_ranks, -wlm_batch_particles,\n\
  -wlm_loss_particles, -wlm_potential_type, -wlm_loss_exchange, ...); add -log_view\n\
  -log_sync for the split into rollout, loss, adjoint and communication.\n";

/*
   The benchmark sets a trainer up from the options, runs one warm-up step
   (workspaces grow on first use), then times -bench_steps steps.  It prints
   the mean time per step of the slowest rank and the peak resident memory of
   every rank (getrusage).  It runs no evaluation, because the exact transport
   problems of an evaluation dominate at large N.
*/
#include <wlm/wlmtrain.h>
#include <wlm/wlmsys.h>
#include <sys/resource.h>

/* Declared in the trainer's private header; the benchmark needs the step alone. */
PETSC_EXTERN PetscErrorCode WLMTrainerStep(WLMTrainer);

int main(int argc, char **argv)
{
  WLMTrainer     tr;
  PetscInt       steps = 3;
  PetscLogDouble t0, t1, elapsed, slowest;
  PetscReal      loss;
  struct rusage  usage;
  PetscMPIInt    rank, size;
  double         rss_mb, *all;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(WLMInitializePackage());
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-bench_steps", &steps, NULL));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));

  /* ---- trainer from the options, one warm-up step ---- */
  PetscCall(WLMTrainerCreate(PETSC_COMM_WORLD, &tr));
  PetscCall(WLMTrainerSetFromOptions(tr));
  PetscCall(WLMTrainerSetUp(tr));
  PetscCall(WLMTrainerStep(tr));

  /* ---- timed steps ---- */
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  PetscCall(PetscTime(&t0));
  for (PetscInt s = 0; s < steps; s++) PetscCall(WLMTrainerStep(tr));
  PetscCall(PetscTime(&t1));
  elapsed = (t1 - t0) / steps;
  PetscCallMPI(MPI_Allreduce(&elapsed, &slowest, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
  PetscCall(WLMTrainerGetLastLoss(tr, &loss));

  /* ---- peak memory of every rank (ru_maxrss is in KiB on Linux) ---- */
  getrusage(RUSAGE_SELF, &usage);
  rss_mb = usage.ru_maxrss / 1024.0;
  PetscCall(PetscMalloc1(size, &all));
  PetscCallMPI(MPI_Gather(&rss_mb, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, 0, PETSC_COMM_WORLD));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "bench_step: %d ranks, %.4f s per step (slowest rank, mean of %" PetscInt_FMT "), last loss %.6e, peak memory per rank (MB):", size, (double)slowest, steps, (double)loss));
  for (PetscMPIInt q = 0; q < size; q++) PetscCall(PetscPrintf(PETSC_COMM_WORLD, " %.0f", all[q]));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "\n"));
  PetscCall(PetscFree(all));

  PetscCall(WLMTrainerDestroy(&tr));
  PetscCall(PetscFinalize());
  return 0;
}
